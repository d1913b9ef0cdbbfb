"""When a callback that evaluates at validation should run."""

from __future__ import annotations

from lightning.pytorch import Trainer
from lightning.pytorch.trainer.states import TrainerFn


def validation_due(trainer: Trainer, every_n_epochs: int) -> bool:
    """While fitting, every `every_n_epochs` epochs (never for 0); always in a `validate` run. Never in the
    sanity check."""
    if trainer.sanity_checking:
        return False
    if trainer.state.fn != TrainerFn.FITTING:
        return True
    return every_n_epochs >= 1 and (trainer.current_epoch + 1) % every_n_epochs == 0
