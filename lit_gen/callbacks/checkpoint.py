"""Lightning's ModelCheckpoint, with `last.ckpt` that really is the latest epoch.

Lightning 2.6 rewrites `last.ckpt` only when a top-k checkpoint was saved at the same step, so with a monitored
metric that stops improving, `last.ckpt` silently holds the best epoch instead of the latest one — and resuming
from it (`--ckpt_path last`) would rerun epochs. This subclass saves `last.ckpt` wherever Lightning considered
saving (train epoch end or validation end, whichever it uses for this run) and did not.
"""

from __future__ import annotations

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint as LightningModelCheckpoint


class ModelCheckpoint(LightningModelCheckpoint):
    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_skipped(trainer)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_skipped(trainer)

    def _save_last_if_skipped(self, trainer: Trainer) -> None:
        # _should_skip_saving_checkpoint is True when a checkpoint (and so last.ckpt) was just saved at this step
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
