"""Records the `val/…` and `test/…` metrics of validate and test runs in `metrics.json`, with their provenance.

`fit` ends by evaluating the best checkpoint on val and test, so after `lit-gen fit` the file holds the best
checkpoint's numbers. `lit-gen validate` / `test` rewrite their split's keys for the checkpoint they evaluated.
Validation during fit is not recorded here (it is in `metrics.csv`). The file itself is written by
`lit_gen.run.record`, its only writer.
"""

from __future__ import annotations

import os
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn

from lit_gen.provenance import git_commit, versions
from lit_gen.run.record import run_dir, update_meta, write_split_metrics


def record_meta(trainer: Trainer, updates: dict[str, Any]) -> None:
    """Attach provenance to metrics.json's `meta` (e.g. `ImageQuality`'s backbone). Call it on every rank; rank 0
    writes. MetricsJson keeps the meta keys it does not write, so the order of callbacks does not matter."""
    folder = run_dir(trainer)  # on every rank: under DDP the log dir is broadcast from rank 0
    if trainer.is_global_zero:
        update_meta(folder, updates)


class MetricsJson(Callback):
    def _write(self, trainer: Trainer, pl_module: LightningModule, split: str) -> None:
        folder = run_dir(trainer)  # on every rank: under DDP the log dir is broadcast from rank 0
        if not trainer.is_global_zero:
            return
        prefix = f"{split}/"
        metrics = {key: float(value) for key, value in trainer.callback_metrics.items() if key.startswith(prefix)}
        write_split_metrics(folder, prefix, metrics, self._meta(trainer, pl_module, split))

    def _meta(self, trainer: Trainer, pl_module: LightningModule, split: str) -> dict[str, Any]:
        datamodule = trainer.datamodule
        meta: dict[str, Any] = {
            "versions": versions(),
            "git_commit": git_commit(),
            "seed": _seed(),
            "model": type(pl_module).__name__,
            "data": type(datamodule).__name__ if datamodule is not None else None,
            f"{split}_checkpoint": str(trainer.ckpt_path) if trainer.ckpt_path else None,
            "global_step": trainer.global_step,
        }
        if datamodule is not None and hasattr(datamodule, "split_sizes"):
            meta["split_sizes"] = datamodule.split_sizes
        return meta

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.state.fn == TrainerFn.VALIDATING and not trainer.sanity_checking:
            self._write(trainer, pl_module, "val")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._write(trainer, pl_module, "test")


def _seed() -> int | None:
    seed = os.environ.get("PL_GLOBAL_SEED")  # set by seed_everything
    return int(seed) if seed is not None else None
