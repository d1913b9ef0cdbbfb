"""Lightning's tqdm progress bar, redrawn at most a few times a second.

The stock bar redraws after every batch (`refresh_rate=1`), formatting the bar and the metrics each time. For the
small models lit_gen trains on CPUs a step can take under a millisecond, so the redraw alone slowed training by a
tenth or more. Redrawing on a clock instead keeps the bar just as live to the eye.
"""

from __future__ import annotations

import time

from lightning.pytorch.callbacks import TQDMProgressBar


class ProgressBar(TQDMProgressBar):
    def __init__(self, min_interval: float = 0.25, process_position: int = 0, leave: bool = False) -> None:
        super().__init__(refresh_rate=1, process_position=process_position, leave=leave)
        self.min_interval = min_interval
        self._last_redraw = 0.0

    def _should_update(self, current: int, total: int | float) -> bool:
        if not self.is_enabled:
            return False
        now = time.monotonic()
        if current == total or now - self._last_redraw >= self.min_interval:
            self._last_redraw = now
            return True
        return False
