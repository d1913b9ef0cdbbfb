"""Epoch means accumulated in one tensor, logged once per epoch.

`LightningModule.log` costs about a millisecond per call on a CPU (it moves its result collection around), which
is more than a whole training step of a small MLP. Summing per-example values into a tensor costs a few
microseconds, and the epoch mean it yields is the same number `log(on_epoch=True)` would have produced.
"""

from __future__ import annotations

import torch
from torch import Tensor


class EpochMeans:
    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.sums: Tensor | None = None
        self.count = 0

    def update(self, *per_example: Tensor) -> None:
        """One tensor of per-example values per name, in the order of `names`."""
        batch_sums = torch.stack([values.detach().sum() for values in per_example])
        self.sums = batch_sums if self.sums is None else self.sums + batch_sums
        self.count += per_example[0].numel()

    def non_finite(self) -> dict[str, float]:
        """The names whose running sum is NaN or infinite (one host sync: call it once per epoch, not per step)."""
        if self.sums is None:
            return {}
        finite = torch.isfinite(self.sums).tolist()
        return {name: float(total) for name, total, ok in zip(self.names, self.sums, finite, strict=True) if not ok}

    def compute_and_reset(self) -> dict[str, Tensor]:
        if self.sums is None:
            return {}
        means = dict(zip(self.names, self.sums / self.count, strict=True))
        self.sums, self.count = None, 0
        return means
