"""Inside a trial process: report the sweep's metric after each validation, and stop when the pruner says so.

The driver adds this callback only to sweep trials (from `LIT_GEN_TRIAL`), never to the saved config, so the
trial's `config.yaml` re-runs it by hand as a plain training run. Rank 0 alone talks to the study storage; its
decision is broadcast so that every DDP rank stops at the same epoch (one rank stopping alone would hang the
others in their next collective).

A pruned fit leaves `pruned.json` in its run directory (epoch, value, reason): the driver reads it and tells the
study PRUNED. Optuna then scores the trial by its last reported value.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer

from lit_gen.callbacks.metrics_json import run_dir
from lit_gen.sweep.identity import STORAGE_ENV, TrialIdentity

PRUNED_FILE = "pruned.json"


class SweepPruning(Callback):
    def __init__(self, identity: TrialIdentity) -> None:
        super().__init__()
        assert identity.report is not None
        self.identity = identity
        self.metric: str = identity.report["metric"]
        self._trial = None
        self.pruned = False

    def _optuna_trial(self):
        if self._trial is None:  # opened lazily, on rank 0 only
            import optuna

            from lit_gen.sweep.spec import build_component
            from lit_gen.sweep.storage import open_storage

            pruner_spec = self.identity.report.get("pruner")
            pruner = build_component("pruner", pruner_spec)  # None: no pruning
            storage = open_storage(os.environ[STORAGE_ENV])
            study = optuna.load_study(study_name=self.identity.study_name, storage=storage, pruner=pruner)
            self._trial = optuna.trial.Trial(study, self.identity.trial_id)
        return self._trial

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        folder = run_dir(trainer)  # on every rank: under DDP the log dir is broadcast from rank 0
        decision = None
        if trainer.is_global_zero:
            decision = self._report(trainer)
        decision = trainer.strategy.broadcast(decision, src=0)
        if decision is None:
            return
        self.pruned = True
        trainer.should_stop = True
        if trainer.is_global_zero:
            (Path(folder) / PRUNED_FILE).write_text(json.dumps(decision, indent=2) + "\n")

    def _report(self, trainer: Trainer) -> dict | None:
        value = trainer.callback_metrics.get(self.metric)
        if value is None:
            return None  # not logged this epoch (e.g. a validation without it)
        value = float(value)
        epoch = trainer.current_epoch
        trial = self._optuna_trial()
        trial.report(value if math.isfinite(value) else float("nan"), step=epoch)
        if not trial.should_prune():
            return None
        pruner = trial.study.pruner
        reason = f"{type(pruner).__name__} at epoch {epoch}: {self.metric} = {value:.6g}"
        why = getattr(pruner, "last_reason", None)  # lit_gen's pruners say why; optuna's do not
        return {"epoch": epoch, "value": value, "metric": self.metric, "reason": f"{reason}; {why}" if why else reason}
