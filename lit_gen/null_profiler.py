"""A profiler that does nothing, cheaply: lit_gen's Trainer default.

Lightning wraps every hook it calls in `profiler.profile(name)`, dozens of times a training step. Its default
`PassThroughProfiler` builds a fresh context manager (a generator) each time; on a CPU step of 2 ms that is a
measurable share (`benchmarks/step_breakdown.py`). One shared `nullcontext` does the same nothing. A profiler
given in the config (`--trainer.profiler simple`) replaces it as usual.
"""

from __future__ import annotations

import contextlib

from lightning.pytorch.profilers import PassThroughProfiler


class NullProfiler(PassThroughProfiler):
    _nothing = contextlib.nullcontext()

    def profile(self, action_name: str) -> contextlib.nullcontext:
        return self._nothing
