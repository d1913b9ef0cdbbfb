"""What every evaluation callback shares: one process computes, every rank logs its numbers, and the provenance
of a validate or test run's numbers goes to metrics.json's `meta.<evaluation>.<split>` — written here, once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn

from lit_gen.callbacks.metrics_json import MetricsJson, record_meta
from lit_gen.callbacks.schedule import validation_due

T = TypeVar("T")


def write_evaluation_provenance(trainer: Trainer, split: str, record: dict[str, dict[str, Any] | None]) -> None:
    """Record, for `split`, each evaluation's provenance under metrics.json's `meta.<evaluation>.<split>`
    (`record` maps an evaluation's name, e.g. `divergences`, to its provenance; None removes an older evaluation's
    provenance when this one computed nothing). Only where metrics.json is kept (a `MetricsJson` callback); call it
    on every rank, rank 0 writes."""
    if any(isinstance(callback, MetricsJson) for callback in trainer.callbacks):
        record_meta(trainer, {name: {split: provenance} for name, provenance in record.items()})


def computed_on_rank_zero(trainer: Trainer, compute: Callable[[], T]) -> T:
    """`compute()` on global rank 0 only, its result broadcast: under DDP the other ranks would only repeat it, and
    every rank then logs the same numbers. Every rank must call this (the broadcast waits for all)."""
    result = compute() if trainer.is_global_zero else None
    if trainer.world_size > 1:
        result = trainer.strategy.broadcast(result, src=0)
    return result


class EvaluationCallback(Callback):
    """Runs `_evaluate(trainer, pl_module, split)` at validation (every `every_n_epochs` epochs while fitting; always
    in a validate run) and at test. Keeps each split's provenance from the evaluation (`self.pending[split] = …`) to
    the end of a validate or test run, and records it there under `meta.<name>`: while fitting, validation is not
    recorded in metrics.json."""

    name: str = "evaluation"

    def __init__(self, every_n_epochs: int = 1) -> None:
        super().__init__()
        self.every_n_epochs = every_n_epochs
        self.pending: dict[str, dict[str, Any]] = {}

    def _evaluate(self, trainer: Trainer, pl_module: LightningModule, split: str) -> None:
        raise NotImplementedError

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if validation_due(trainer, self.every_n_epochs):
            self._evaluate(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._evaluate(trainer, pl_module, "test")

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.state.fn == TrainerFn.VALIDATING and not trainer.sanity_checking:
            write_evaluation_provenance(trainer, "val", {self.name: self.pending.pop("val", None)})

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        write_evaluation_provenance(trainer, "test", {self.name: self.pending.pop("test", None)})
