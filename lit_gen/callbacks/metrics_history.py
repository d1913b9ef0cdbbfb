"""Carries a resumed run's earlier rows into its new `metrics.csv` (see `lit_gen.run.history`)."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger

from lit_gen.run.history import HELD_FILE, LOG_FILE, hold_earlier_rows, read_rows, rows_before, run_dir_of_checkpoint


def _csv_log_dirs(trainer: Trainer) -> list[Path]:
    return [Path(logger.log_dir) for logger in trainer.loggers if isinstance(logger, CSVLogger) and logger.log_dir]


def hold_before_fit(trainer: Trainer) -> None:
    """Before `trainer.fit`: move each CSV logger's existing `metrics.csv` aside, where its logger will not delete it.

    Lightning creates the loggers' files at the very start of fit, before any callback hook, so this runs from the
    CLI's `before_fit`. Whether the rows belong to the run is known only once the checkpoint is chosen: see
    `MetricsHistory`."""
    if trainer.is_global_zero:
        for folder in _csv_log_dirs(trainer):
            hold_earlier_rows(folder, folder)


class MetricsHistory(Callback):
    """At the start of training, log the held rows from before the point a resumed fit's checkpoint restored (its
    epoch and step) into the new `metrics.csv`. A fit that did not resume drops them, as Lightning would. A
    checkpoint from another run directory brings that directory's rows."""

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        loggers = [logger for logger in trainer.loggers if isinstance(logger, CSVLogger) and logger.log_dir]
        for logger in loggers:
            held = Path(logger.log_dir) / HELD_FILE
            source = held
            if trainer.ckpt_path and not held.is_file():
                source = run_dir_of_checkpoint(Path(trainer.ckpt_path)) / LOG_FILE
            if trainer.ckpt_path and source.is_file():
                for step, metrics in rows_before(read_rows(source), trainer.current_epoch, trainer.global_step):
                    logger.log_metrics(metrics, step=step)
                logger.save()
            held.unlink(missing_ok=True)
