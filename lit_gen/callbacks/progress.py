"""Lightning's tqdm progress bar, redrawn at most a few times a second.

The stock bar redraws after every batch (`refresh_rate=1`), formatting the bar and the metrics each time, and five
more times around every epoch boundary (reset, description, last batch, its metrics, the epoch's metrics). For the
small models lit_gen trains on CPUs a step can take under a millisecond and an epoch a few dozen, so the redraws
alone slowed training by a tenth or more. Redrawing on a clock instead keeps the bar just as live to the eye; the
bar still ends on its final count and metrics, which tqdm draws when the bar is closed.
"""

from __future__ import annotations

import math
import sys
import time

from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm


class ClockedTqdm(Tqdm):
    """A tqdm bar whose `refresh()` redraws at most every `min_interval` seconds. Its state (count, description,
    postfix) is always current; `close()` draws it as it is."""

    def __init__(self, *args, min_interval: float = 0.25, **kwargs) -> None:
        self.min_interval = min_interval
        self._last_redraw = -math.inf  # tqdm's constructor draws the empty bar through refresh()
        super().__init__(*args, **kwargs)

    def refresh(self, nolock: bool = False, lock_args=None):
        now = time.monotonic()
        if now - self._last_redraw < self.min_interval:
            return None
        self._last_redraw = now
        return super().refresh(nolock=nolock, lock_args=lock_args)


class ProgressBar(TQDMProgressBar):
    def __init__(self, min_interval: float = 0.25, process_position: int = 0, leave: bool = False) -> None:
        super().__init__(refresh_rate=1, process_position=process_position, leave=leave)
        self.min_interval = min_interval
        self._last_redraw = 0.0

    def init_train_tqdm(self) -> Tqdm:
        # Lightning's training bar, on the clock: it is reset and redrawn around every epoch boundary
        return ClockedTqdm(
            desc=self.train_description,
            position=(2 * self.process_position),
            disable=self.is_disabled,
            leave=True,
            dynamic_ncols=True,
            file=sys.stdout,
            smoothing=0,
            bar_format=self.BAR_FORMAT,
            min_interval=self.min_interval,
        )

    def _should_update(self, current: int, total: int | float) -> bool:
        # when to update the count and fetch the metrics (the training bar itself draws on its own clock)
        if not self.is_enabled:
            return False
        now = time.monotonic()
        if current == total or now - self._last_redraw >= self.min_interval:
            self._last_redraw = now
            return True
        return False
