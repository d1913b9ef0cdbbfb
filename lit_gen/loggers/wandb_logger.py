"""Weights & Biases tracking: Lightning's `WandbLogger` with what lit_gen adds to it.

`configs/logger/wandb.yaml` appends this logger after the experiment's CSV logger, which stays first and so keeps
the run directory (`trainer.log_dir`: `runs/<name>/version_<n>/`, or `--run_dir`). What Lightning's logger lacks:

- W&B's files in the run directory (`<run dir>/wandb/`): the directory exists only once the trainer does, so
  `LitGenCLI` calls `place_in_run_directory(trainer)` before anything is logged.
- Identity: in a sweep trial (`current_trial()`) group = study name, name = `trial-<n>`, id = the trial's
  `run_id`, the same for every retry and requeue; otherwise the id of the W&B run already in the run directory
  (a resumed or requeued run continues it). Lightning logs every row against `trainer/global_step`
  (`define_metric`), so a resumed run's curves continue.
- `mode: auto`, offline-first (`resolve_mode`); an offline run prints its `wandb sync` command when it ends.
- The resolved config (the run's config.yaml) as the run's config, lit_gen's hparams under `hparams`, the final
  metrics.json as its summary, and the figures of images/ (`log_images`).
"""

from __future__ import annotations

import atexit
import json
import sys
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from lit_gen.loggers.wandb_mode import resolve_mode
from lit_gen.run.identity import current_trial
from lit_gen.run.record import FILENAME as METRICS_FILE

#: loggers of this process whose W&B run has started, for `finish_runs`
_STARTED: list[WandbLogger] = []


class WandbLogger(LightningWandbLogger):
    """
    Args:
        project, entity, group, job_type, tags, notes: the W&B run's (group: the study name in a sweep).
        mode: `auto` (WANDB_MODE if set; else online with an API key, offline without), `online`, `offline`
            or `disabled`.
        id: a W&B run id to log to (default: the sweep trial's, the one already in the run directory, or new).
        log_model: Lightning's: `true` logs the best and last checkpoints at the end of fit, `all` every one.
        log_images: also send the figures lit_gen saves under images/ to W&B.
        run_dir: the run directory, which holds W&B's `wandb/` folder and the config.yaml and metrics.json it
            sends (default: the trainer's, `place_in_run_directory`).
    """

    def __init__(
        self,
        project: str = "lit_gen",
        entity: str | None = None,
        group: str | None = None,
        job_type: str = "train",
        tags: list[str] | None = None,
        notes: str | None = None,
        mode: Literal["auto", "online", "offline", "disabled"] = "auto",
        id: str | None = None,
        log_model: bool | Literal["all"] = False,
        log_images: bool = True,
        run_dir: str | None = None,
    ) -> None:
        self.init_arguments = {name: value for name, value in locals().items() if name not in ("self", "__class__")}
        name, config = None, {}
        trial = current_trial()
        if trial is not None:
            group, name, id = trial.study_name, trial.run_name, trial.run_id
            config["trial"] = {"study_name": trial.study_name, "number": trial.number, "attempt": trial.attempt,
                               "root_number": trial.root_number, "seed": trial.seed, "params": dict(trial.params)}
        elif run_dir is not None:
            name = f"{Path(run_dir).parent.name}/{Path(run_dir).name}"  # vae_digits/version_0
            id = id or existing_run_id(Path(run_dir) / "wandb")
        super().__init__(name=name, save_dir=run_dir, id=id, project=project, log_model=log_model, entity=entity,
                         group=group, job_type=job_type, tags=list(tags or []), notes=notes, mode=resolve_mode(mode),
                         config=config)
        self.log_images_enabled = log_images
        self.last_step: int | None = None  # the step of the last row: where images go
        self._run = None
        self._hparams: dict[str, Any] = {}
        self._config_sent = False
        self._finished = False
        self._status = "success"

    def in_directory(self, folder: str | Path) -> WandbLogger:
        """This logger in run directory `folder` (its files, id and name): a new one unless `run_dir` was set."""
        if self.save_dir is not None:
            return self
        return type(self)(**{**self.init_arguments, "run_dir": str(folder)})

    @property
    def experiment(self):
        run = super().experiment  # Lightning starts the run (rank 0 only) and defines trainer/global_step
        if self._run is None and rank_zero_only.rank == 0:
            self._run = run
            _STARTED.append(self)
            atexit.register(self.finish)
        return run

    @rank_zero_only
    def log_hyperparams(self, params: Mapping[str, Any] | Namespace | None) -> None:
        # under their own key: the resolved config holds e.g. an `image_quality` of its own
        params = vars(params) if isinstance(params, Namespace) else dict(params or {})
        self._hparams.update(json.loads(json.dumps(params, default=str)))
        self.experiment.config.update({"hparams": self._hparams}, allow_val_change=True)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        self.last_step = step if step is not None else self.last_step

    @rank_zero_only
    def log_images(self, images: Mapping[str, str | Path], step: int | None = None) -> None:
        """Image files, one W&B image per key, in one row at `step` (default: the last row's)."""
        if not self.log_images_enabled:
            return
        import wandb

        self.log_metrics({key: wandb.Image(str(path)) for key, path in images.items()},
                         step if step is not None else self.last_step)

    @rank_zero_only
    def save(self) -> None:
        # Lightning saves right after logging the hyperparameters, once the CLI has written config.yaml
        super().save()
        path = self._run_file("config.yaml")
        if not self._config_sent and path is not None:
            self.experiment.config.update(yaml.safe_load(path.read_text()) or {}, allow_val_change=True)
            self._config_sent = True

    @rank_zero_only
    def finalize(self, status: str) -> None:
        # after every fit / validate / test: `lit-gen fit` ends with validate and test, so the summary written
        # after the last of them holds the final metrics.json
        super().finalize(status)  # log_model's checkpoints, on success
        self._status = status
        self._send_summary()

    def _send_summary(self) -> None:
        """metrics.json as the run's summary: the evaluated checkpoint's numbers, and their provenance."""
        path = self._run_file(METRICS_FILE)
        if self._run is None or self._finished or path is None:
            return
        content = json.loads(path.read_text())
        self._run.summary.update({**content.get("metrics", {}), "meta": content.get("meta", {})})

    def _run_file(self, name: str) -> Path | None:
        """A file of the run directory (Lightning's `save_dir` of this logger), if it exists."""
        path = Path(self.save_dir) / name if self.save_dir is not None else None
        return path if path is not None and path.is_file() else None

    def finish(self) -> None:
        """Close the W&B run now (else when the process ends) and, offline, print its `wandb sync` command."""
        if self._run is None or self._finished:
            return
        self._send_summary()  # metrics.json may have changed since the last evaluation (e.g. its timing)
        self._finished = True
        self._run.finish(exit_code=0 if self._status == "success" else 1)
        if self._run.offline:
            print(sync_hint(Path(self._run.sync_dir).parent, self._run.id, self._run.name), flush=True)


def place_in_run_directory(trainer: Trainer) -> None:
    """Put the W&B files of the trainer's lit_gen W&B loggers in its run directory (the first logger's). Call it
    before anything is logged: the loggers are replaced."""
    if any(isinstance(logger, WandbLogger) and logger.save_dir is None for logger in trainer.loggers):
        folder = trainer.log_dir or trainer.default_root_dir
        trainer.loggers = [logger.in_directory(folder) if isinstance(logger, WandbLogger) else logger
                           for logger in trainer.loggers]


def finish_runs() -> None:
    """Finish the W&B runs of this process and wait until wandb has written them out (it finishes them when the
    process ends anyway). For a process that ends with `os._exit`, which skips atexit handlers and would leave
    the run file without its last block: call this first."""
    while _STARTED:
        _STARTED.pop().finish()
    if "wandb" in sys.modules:  # no run ever started in this process: nothing to import or to wait for
        sys.modules["wandb"].teardown()


def log_images(trainer: Trainer, images: Mapping[str, str | Path]) -> None:
    """Send image files to the run's W&B logger, if it has one (a no-op otherwise: wandb is not imported)."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_images(images, logger.last_step if logger.last_step is not None else trainer.global_step)


def existing_run_id(wandb_dir: Path) -> str | None:
    """The id of the latest W&B run in a `wandb/` folder (`offline-run-<date>_<time>-<id>`, `run-…`), if any."""
    runs = sorted(wandb_dir.glob("*run-*_*-*"), key=lambda path: path.name.split("run-", 1)[1])
    return runs[-1].name.split("run-", 1)[1].split("-", 1)[1] if runs else None


def sync_hint(wandb_dir: Path, run_id: str, name: str | None = None) -> str:
    """The `wandb sync` command that uploads every offline part of run `run_id` kept in `wandb_dir`."""
    parts = sorted(wandb_dir.glob(f"offline-run-*-{run_id}"))
    target = _display(parts[0]) if len(parts) == 1 else f"{_display(wandb_dir)}/offline-run-*-{run_id}"
    label = f"{name} ({run_id})" if name else run_id
    return f"W&B run {label} was saved offline; upload it with:\n  wandb sync {target}"


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
