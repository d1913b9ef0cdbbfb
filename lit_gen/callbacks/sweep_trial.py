"""Inside a sweep trial's fit: report the sweep's metric after each validation, stop when the pruner says so, and
leave the trial's end record (`lit_gen.run.trial_end`) for its driver.

The CLI adds this callback only to sweep trials (from `LIT_GEN_TRIAL`), never to the saved config, so the trial's
`config.yaml` re-runs it by hand as a plain training run. Rank 0 alone talks to the study storage; its decision is
broadcast so that every DDP rank stops at the same epoch (one rank stopping alone would hang the others in their
next collective). A pruned fit still evaluates its best checkpoint on val, not on test; Optuna then scores the
trial by its last reported value.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

from lit_gen.errors import TrainingDiverged
from lit_gen.run.identity import STORAGE_ENV, TrialIdentity
from lit_gen.run.record import read_metrics, run_dir
from lit_gen.run.storage import open_storage
from lit_gen.run.trial_end import TrialEnd, write_trial_end


def build_pruner(component: dict[str, Any] | None):
    """The pruner a sweep file names (`{class_path: ..., init_args: {...}}`, checked when the driver read the file):
    a class of optuna.pruners by its name, or any pruner class by its import path."""
    import optuna

    if not component:
        return optuna.pruners.NopPruner()
    from jsonargparse import ArgumentParser

    name = str(component["class_path"])
    component = {**component, "class_path": name if "." in name else f"optuna.pruners.{name}"}
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--pruner", type=optuna.pruners.BasePruner)
    return parser.instantiate_classes(parser.parse_object({"pruner": component})).pruner


class SweepTrial(Callback):
    def __init__(self, identity: TrialIdentity) -> None:
        super().__init__()
        self.identity = identity
        self.report = identity.report  # None: this fit only scores (a later seed of the configuration)
        self._trial = None
        self.pruned: dict[str, Any] | None = None  # the pruner's decision: epoch, value, reason

    def _optuna_trial(self):
        if self._trial is None:  # opened lazily, on rank 0 only
            import optuna

            storage = open_storage(os.environ[STORAGE_ENV])
            study = optuna.load_study(study_name=self.identity.study_name, storage=storage,
                                      pruner=build_pruner(self.report.get("pruner")))
            self._trial = optuna.trial.Trial(study, self.identity.trial_id)
        return self._trial

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.report is None or trainer.sanity_checking or trainer.state.fn != "fit":
            return
        decision = self._report(trainer) if trainer.is_global_zero else None
        decision = trainer.strategy.broadcast(decision, src=0)
        if decision is not None:
            self.pruned = decision
            trainer.should_stop = True

    def _report(self, trainer: Trainer) -> dict[str, Any] | None:
        metric = self.report["metric"]
        value = trainer.callback_metrics.get(metric)
        if value is None:
            return None  # not logged this epoch (e.g. a validation without it)
        value = float(value)
        epoch = trainer.current_epoch
        trial = self._optuna_trial()
        trial.report(value if math.isfinite(value) else float("nan"), step=epoch)
        if not trial.should_prune():
            return None
        reason = f"{type(trial.study.pruner).__name__} at epoch {epoch}: {metric} = {value:.6g}"
        return {"epoch": epoch, "value": value, "reason": reason}

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        folder = run_dir(trainer)
        if not trainer.is_global_zero or isinstance(exception, KeyboardInterrupt):
            return
        if isinstance(exception, TrainingDiverged):
            end = TrialEnd("diverged", reason=str(exception), epoch=trainer.current_epoch)
        else:
            first_line = (str(exception).strip().splitlines() or [""])[0]
            end = TrialEnd("failed", reason=f"{type(exception).__name__}: {first_line}", epoch=trainer.current_epoch)
        write_trial_end(folder, end)

    def write_end(self, trainer: Trainer, seconds: float) -> None:
        """After the final evaluation: complete with the metric's value, or pruned with the last reported one."""
        folder = run_dir(trainer)
        if not trainer.is_global_zero:
            return
        epoch = trainer.current_epoch
        if self.pruned is not None:
            end = TrialEnd("pruned", self.pruned["value"], self.pruned["reason"], seconds, epoch)
        else:
            end = _complete(Path(folder), self.identity.metrics or [self.identity.metric], seconds, epoch)
        write_trial_end(folder, end)


def _complete(folder: Path, objectives: list[str], seconds: float, epoch: int) -> TrialEnd:
    """The end record of a fit that ran to its end: the value of each objective in its metrics.json. With several
    objectives, a value that is not finite is a divergence (recorded, never on the front: `sweep.objectives`); a
    missing key, or a single objective that is not finite, a failure."""
    metrics = read_metrics(folder)["metrics"]
    values = [metrics.get(metric) for metric in objectives]
    missing = [m for m, v in zip(objectives, values, strict=True) if not isinstance(v, (int, float))]
    several = len(objectives) > 1
    if missing or (not several and not math.isfinite(values[0])):
        found = ", ".join(sorted(metrics)) or "none"
        return TrialEnd("failed", reason=f"metric {(missing or objectives)[0]!r} is not a finite number in "
                                         f"{folder}/metrics.json (keys: {found}); check the sweep's `metric`",
                        seconds=seconds, epoch=epoch)
    values = [float(v) for v in values]
    if several and not all(math.isfinite(v) for v in values):
        shown = ", ".join(f"{m} = {v}" for m, v in zip(objectives, values, strict=True))
        return TrialEnd("diverged", values[0], f"an objective is not finite at the end: {shown}", seconds, epoch,
                        values=values)
    return TrialEnd("complete", values[0], seconds=seconds, epoch=epoch, values=values if several else None)
