"""Weights & Biases tracking, offline-first: the run's CSV logger that also tracks the run in W&B.

`lit_gen.loggers.WandbLogger` *is* the CSV logger every experiment declares (`metrics.csv`, and the run
directory `runs/<name>/version_<n>` that holds config.yaml, checkpoints/, metrics.json, images/), so
`configs/logger/wandb.yaml` only swaps the logger's class and adds W&B's settings: the experiment's `save_dir`,
`name` and `version` are kept, and `trainer.log_dir` and the checkpoint folder stay where they were. The W&B run
starts on rank 0 only, at the first thing it has to log, and keeps its files in `<run dir>/wandb/`.

Identity: in a sweep trial (`lit_gen.run.identity.current_trial()`) group = study name, name = `trial-<n>`,
id = the trial's `run_id`, the same for every retry and requeue; otherwise the id of the W&B run already in
this run directory (a resumed or requeued run continues it), else a new one. Every row carries
`trainer/global_step`, the x-axis of every metric (`define_metric`), so a resumed run continues its curves.

Offline-first: `mode: auto` follows `WANDB_MODE` when it is set, else runs online when an API key is configured
(`WANDB_API_KEY`, `WANDB_IDENTITY_TOKEN_FILE`, or a `.netrc` entry as `wandb login` writes) and offline otherwise;
an offline run prints its `wandb sync` command when the process ends. wandb is imported only once a run starts.
"""

from __future__ import annotations

import atexit
import json
import netrc
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from lightning.fabric.utilities.logger import _convert_json_serializable, _convert_params, _sanitize_callable_params
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from lit_gen.run.identity import current_trial

#: the x-axis of every metric; Lightning's WandbLogger adds it to every row it logs
STEP_KEY = "trainer/global_step"

#: loggers of this process whose W&B run has started, for `finish_runs`
_STARTED: list[WandbLogger] = []


class WandbLogger(CSVLogger):
    """
    Args:
        save_dir, name, version, prefix, flush_logs_every_n_steps: the CSV logger's (kept from the experiment).
        project, entity, group, job_type, tags, notes: the W&B run's (group: the study name in a sweep).
        mode: `auto` (WANDB_MODE if set; else online with an API key, offline without), `online`, `offline`
            or `disabled`.
        id: a W&B run id to log to (default: the sweep trial's, the one already in this run directory, or new).
        log_model: checkpoints as W&B artifacts, as Lightning's WandbLogger does it: `true` logs the best and
            last checkpoints at the end of fit (aliases `best`, `latest`), `all` every checkpoint when saved.
        log_images: also send the figures lit_gen saves under images/ to W&B.
    """

    def __init__(
        self,
        save_dir: str = "runs",
        name: str = "lit_gen",
        version: int | str | None = None,
        prefix: str = "",
        flush_logs_every_n_steps: int = 100,
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
    ) -> None:
        super().__init__(save_dir, name=name, version=version, prefix=prefix,
                         flush_logs_every_n_steps=flush_logs_every_n_steps)
        self._wandb_settings = {"project": project, "entity": entity, "group": group, "job_type": job_type,
                                "tags": list(tags or []), "notes": notes}
        self._mode, self._id, self._log_model, self.log_images_enabled = mode, id, log_model, log_images
        self._tracker = None  # Lightning's WandbLogger around our run: metric rows, images, checkpoint artifacts
        self._hparams: dict[str, Any] = {}
        self._config_stamp: int | None = None  # mtime of the config.yaml last sent
        self._status = "success"

    # --- the W&B run -----------------------------------------------------------------------------------------

    @property
    def tracker(self):
        """Lightning's WandbLogger around this run's W&B run (started on first use); None off rank 0."""
        if self._tracker is None and rank_zero_only.rank == 0:
            self._tracker = self._start()
        return self._tracker

    @property
    def wandb_run(self):
        """The `wandb.Run` (None off rank 0)."""
        return self.tracker.experiment if self.tracker is not None else None

    def _start(self):
        import wandb
        from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger

        run_dir = Path(self.log_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        trial = current_trial()
        settings = dict(self._wandb_settings)
        config: dict[str, Any] = {}
        if trial is not None:
            settings.update(group=trial.study_name, name=trial.run_name, id=trial.run_id)
            config["trial"] = {"study_name": trial.study_name, "number": trial.number, "attempt": trial.attempt,
                               "root_number": trial.root_number, "seed": trial.seed, "params": dict(trial.params)}
        else:
            name = f"{self.name}/{run_dir.name}" if self.name else run_dir.name  # vae_digits/version_0
            settings.update(name=name, id=self._id or existing_run_id(run_dir / "wandb"))
        run = wandb.init(
            **settings,
            dir=str(run_dir),  # wandb adds the `wandb/` folder
            mode=resolve_mode(self._mode),
            resume="allow" if settings["id"] else None,
            config=config,
            reinit="finish_previous",  # one W&B run per lit-gen run, even when several run in one process
        )
        run.define_metric(STEP_KEY)
        run.define_metric("*", step_metric=STEP_KEY, step_sync=True)
        atexit.register(self._finish, run)
        _STARTED.append(self)
        tracker = LightningWandbLogger(experiment=run, log_model=self._log_model, prefix=self._prefix)
        self._tracker = tracker
        self._send_config()
        return tracker

    def _send_config(self) -> None:
        """The fully resolved config (the run's config.yaml, as LightningCLI saved it), whenever it changed."""
        path = Path(self.log_dir) / "config.yaml"
        if self._tracker is None or not path.is_file() or path.stat().st_mtime_ns == self._config_stamp:
            return
        self._config_stamp = path.stat().st_mtime_ns
        config = yaml.safe_load(path.read_text()) or {}
        self._tracker.experiment.config.update(config, allow_val_change=True)

    def _send_summary(self) -> None:
        """metrics.json as the run's summary: the evaluated checkpoint's numbers, and their provenance."""
        from lit_gen.run.record import FILENAME

        path = Path(self.log_dir) / FILENAME
        if self._tracker is None or not path.is_file():
            return
        content = json.loads(path.read_text())
        summary = self._tracker.experiment.summary
        summary.update(content.get("metrics", {}))
        summary.update({"meta": content.get("meta", {})})  # versions, seed, checkpoint, FID/KID/IS provenance

    def finish(self) -> None:
        """Close the W&B run now (otherwise when the process ends) and, offline, print its `wandb sync` command."""
        if self._tracker is not None:
            self._finish(self._tracker.experiment)

    def _finish(self, run) -> None:
        """At the end of the process (atexit): close the run and, offline, say how to upload it."""
        if getattr(run, "_is_finished", False):
            return
        self._send_summary()  # metrics.json may have changed after the last evaluation (e.g. its timing)
        run.finish(exit_code=0 if self._status == "success" else 1)
        if getattr(run, "offline", False):
            print(sync_hint(Path(run.settings.sync_dir).parent, run.id, run.name), flush=True)

    # --- Lightning's Logger interface: the CSV logger's behaviour, mirrored to W&B ---------------------------

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Any = None) -> None:
        super().log_hyperparams(params)
        if self.tracker is None or params is None:
            return
        params = _convert_json_serializable(_sanitize_callable_params(_convert_params(params)))
        self._hparams.update(params)  # under its own key: the resolved config holds e.g. `image_quality` too
        self.tracker.experiment.config.update({"hparams": self._hparams}, allow_val_change=True)
        self._send_config()

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        if self.tracker is not None:
            self.tracker.log_metrics(metrics, step)

    @rank_zero_only
    def log_images(self, images: Mapping[str, str | Path], step: int | None = None) -> None:
        """Image files, one W&B image per key, in one row at `step`."""
        if self.tracker is None or not self.log_images_enabled:
            return
        import wandb

        self.tracker.log_metrics({key: wandb.Image(str(path)) for key, path in images.items()}, step)

    @rank_zero_only
    def save(self) -> None:
        super().save()
        self._send_config()

    def after_save_checkpoint(self, checkpoint_callback) -> None:
        if self.tracker is not None:
            self.tracker.after_save_checkpoint(checkpoint_callback)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        # called after every fit / validate / test; `lit-gen fit` ends with validate and test, so the summary
        # written after the last of them holds the final metrics.json
        super().finalize(status)
        self._status = status
        if self._tracker is not None:
            self._tracker.finalize(status)
            self._send_config()
            self._send_summary()


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
    step = getattr(trainer.fit_loop.epoch_loop, "_batches_that_stepped", trainer.global_step)  # Lightning's row step
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_images(images, step)


def resolve_mode(mode: str) -> str | None:
    """`auto`: None (wandb reads WANDB_MODE) when WANDB_MODE is set, else online with an API key, offline without."""
    if mode != "auto":
        return mode
    if os.environ.get("WANDB_MODE"):
        return None
    return "online" if api_key_configured() else "offline"


def api_key_configured() -> bool:
    """Whether wandb would find credentials: the environment, or a `.netrc` entry for the W&B host."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlsplit(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).netloc
    path = os.environ.get("NETRC") or str(Path.home() / ".netrc")
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return False
    return bool(entry and entry[2])


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


__all__ = ["WandbLogger", "finish_runs", "log_images", "resolve_mode", "api_key_configured", "existing_run_id",
           "sync_hint"]
