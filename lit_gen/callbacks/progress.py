"""How a run shows its progress: Lightning's tqdm bars on a terminal, a few one-line epoch summaries in a log file.

A bar redrawn into a file is hundreds of lines of carriage returns (a 100-epoch digits VAE wrote ~550), so where
stderr is not a terminal — a redirected run, a sweep trial, a SLURM job — `EpochLines` prints one line for an
epoch instead: its number, the global step, the main metrics (those the progress bar shows, and the one the
checkpoint monitors), the time since the start; about `max_lines` of them over the whole run, the first and the last
always. `lit-gen --verbose` brings the bars back everywhere. The model's layer table becomes one line as well.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelSummary, ProgressBar, TQDMProgressBar
from lightning.pytorch.utilities.rank_zero import rank_zero_info

from lit_gen.console import is_verbose


def console_callbacks() -> list:
    """The progress bar of this process (tqdm on a terminal or when verbose, else `EpochLines`), and in a quiet
    run the one-line model summary."""
    if is_verbose():
        # tqdm named because Lightning would pick its Rich bar wherever `rich` is installed, and the Rich bar redraws
        # from a thread 100 times a second: on a CPU that took ~10% of the conv VAE's speed (benchmarks/README.md)
        return [TQDMProgressBar()]
    bar = TQDMProgressBar() if sys.stderr.isatty() else EpochLines()
    return [bar, OneLineModelSummary()]


class EpochLines(ProgressBar):
    """One line per epoch shown, on stderr (where the bar it replaces would write), about `max_lines` in all."""

    def __init__(self, max_lines: int = 20) -> None:
        super().__init__()
        self.max_lines = max_lines
        self._enabled = True
        self._first_epoch = 0
        self._last_shown = -1
        self._started = time.perf_counter()

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._first_epoch, self._last_shown = trainer.current_epoch, trainer.current_epoch - 1
        self._started = time.perf_counter()

    # An epoch's numbers are complete once the next one starts: the model logs its training means in its own
    # `on_train_epoch_end`, which Lightning calls after this callback's.
    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        finished = trainer.current_epoch - 1
        if finished >= self._first_epoch and self._shown(finished, trainer.max_epochs):
            self._show(trainer, pl_module, finished)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # the last epoch always: after it `current_epoch` has moved on, unless the run stopped inside the epoch
        finished = trainer.current_epoch - 1 if trainer.current_epoch > self._first_epoch else trainer.current_epoch
        if finished > self._last_shown:
            self._show(trainer, pl_module, finished)

    def _shown(self, epoch: int, max_epochs: int | None) -> bool:
        if max_epochs is None or max_epochs < 1:
            return True  # no known end (a step or time budget): every epoch
        every = max(1, math.ceil(max_epochs / self.max_lines))
        return epoch == self._first_epoch or (epoch + 1) % every == 0

    def _show(self, trainer: Trainer, pl_module: LightningModule, epoch: int) -> None:
        self._last_shown = epoch
        if not self._enabled:
            return
        total = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        figures = " ".join(f"{key} {_number(value)}" for key, value in self.main_metrics(trainer, pl_module).items())
        seconds = time.perf_counter() - self._started
        print(f"epoch {epoch + 1}{total}  step {trainer.global_step}  {figures}  ({seconds:.0f} s)",
              file=sys.stderr, flush=True)

    def main_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Any]:
        """What the bar would show (the metrics logged with `prog_bar=True`), and the metric the checkpoint
        monitors."""
        shown = {key: value for key, value in self.get_metrics(trainer, pl_module).items() if key != "v_num"}
        monitor = getattr(trainer.checkpoint_callback, "monitor", None)
        if monitor and monitor in trainer.callback_metrics:
            shown[monitor] = trainer.callback_metrics[monitor]
        return shown


class OneLineModelSummary(ModelSummary):
    """The model's size in one line instead of a table of its layers (`--verbose` shows the table)."""

    @staticmethod
    def summarize(summary_data: list[tuple[str, list[str]]], total_parameters: int, trainable_parameters: int,
                  model_size: float, total_training_modes: dict[str, int], total_flops: int = 0,
                  **summarize_kwargs: Any) -> None:
        frozen = total_parameters - trainable_parameters
        rank_zero_info(f"model: {_count(trainable_parameters)} trainable parameters"
                       + (f", {_count(frozen)} frozen" if frozen else "") + f" ({model_size:.2f} MB)")


def _count(n: int) -> str:
    return f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n / 1e3:.1f} K" if n >= 1e3 else str(n)


def _number(value: Any) -> str:
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)
