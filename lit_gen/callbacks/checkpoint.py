"""Checkpoints: the best by the monitored metric (the CLI's `checkpoint` section, Lightning's ModelCheckpoint), and
`last.ckpt`, the latest epoch, always.

Lightning writes `last.ckpt` (`save_last`) only when a top-k checkpoint is saved at the same step, so with a
monitored metric that stops improving it silently holds the best epoch, not the latest, and resuming from it
(`--ckpt_path last`, a sweep retry) would train epochs again. Lightning's documented way to keep the latest
checkpoint is a second ModelCheckpoint without a monitor; this is that callback, writing `checkpoints/last.ckpt`
at the end of every training epoch (after that epoch's validation, when it has one, and also in epochs without
one), where `--ckpt_path last` finds it.
"""

from __future__ import annotations

from lightning.pytorch.callbacks import ModelCheckpoint


class LatestCheckpoint(ModelCheckpoint):
    def __init__(self) -> None:
        # no monitor, one checkpoint kept, always named last.ckpt (overwritten, never last-v1.ckpt)
        super().__init__(filename=self.CHECKPOINT_NAME_LAST, monitor=None, save_top_k=1, save_last=False,
                         enable_version_counter=False, save_on_train_epoch_end=True)
