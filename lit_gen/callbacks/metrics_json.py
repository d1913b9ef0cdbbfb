"""Writes `metrics.json` in the run directory: the val/test metrics of an evaluation, and their provenance.

`fit` ends by evaluating the best checkpoint on val and test, so after `lit-gen fit` the file holds the best
checkpoint's numbers. `lit-gen validate` / `test` rewrite their split's keys for the checkpoint they evaluated.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn

from lit_gen.provenance import git_commit, versions

FILENAME = "metrics.json"


def run_dir(trainer: Trainer) -> Path:
    """Where a run's files go: the logger's version directory, or the trainer's root without a logger."""
    return Path(trainer.log_dir or trainer.default_root_dir)


def read_metrics(path: str | os.PathLike) -> dict[str, Any]:
    """The `metrics.json` of a run directory (or the file itself)."""
    path = Path(path)
    return json.loads((path / FILENAME if path.is_dir() else path).read_text())


def update_meta(trainer: Trainer, updates: dict[str, Any]) -> None:
    """Merge `updates` into metrics.json's `meta`: how other callbacks attach the provenance of their numbers
    (e.g. `ImageQuality`'s backbone). Call it on every rank; rank 0 writes. A dict is merged into the dict
    already under its key, a `None` inside it removes that entry (and an emptied dict its key). MetricsJson
    keeps the meta keys it does not write, so the order of the two callbacks does not matter."""
    path = run_dir(trainer) / FILENAME  # on every rank: under DDP the log dir is broadcast from rank 0
    if not trainer.is_global_zero:
        return
    content = json.loads(path.read_text()) if path.exists() else {"metrics": {}, "meta": {}}
    meta = content["meta"]
    for key, value in updates.items():
        if isinstance(value, dict):
            merged = {**(meta.get(key) if isinstance(meta.get(key), dict) else {}), **value}
            meta[key] = {k: v for k, v in merged.items() if v is not None}
            if not meta[key]:
                del meta[key]
        else:
            meta[key] = value
    _save(path, content)


def _save(path: Path, content: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(content, indent=2) + "\n")
    tmp.replace(path)  # never leave a half-written file behind


class MetricsJson(Callback):
    """Collects the `val/…` and `test/…` metrics of validate and test runs (not of validation during fit)."""

    def _write(self, trainer: Trainer, prefix: str, extra_meta: dict[str, Any]) -> None:
        path = run_dir(trainer) / FILENAME  # on every rank: under DDP the log dir is broadcast from rank 0
        if not trainer.is_global_zero:
            return
        content = json.loads(path.read_text()) if path.exists() else {"metrics": {}, "meta": {}}
        metrics = content["metrics"]
        for key in [k for k in metrics if k.startswith(prefix)]:
            del metrics[key]  # this evaluation replaces the split's previous numbers
        for key, value in trainer.callback_metrics.items():
            if key.startswith(prefix):
                number = float(value)
                metrics[key] = number if math.isfinite(number) else str(number)
        content["metrics"] = dict(sorted(metrics.items()))
        content["meta"].update(extra_meta)
        _save(path, content)

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
            self._write(trainer, "val/", self._meta(trainer, pl_module, "val"))

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._write(trainer, "test/", self._meta(trainer, pl_module, "test"))


def _seed() -> int | None:
    seed = os.environ.get("PL_GLOBAL_SEED")  # set by seed_everything
    return int(seed) if seed is not None else None
