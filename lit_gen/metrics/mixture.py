"""Mode collapse on 2D mixtures, by the VEEGAN / PacGAN protocol.

A sample is *high quality* when it lies within 3 standard deviations of its nearest mode; a mode is *covered*
when at least one high-quality sample has it as nearest mode. `reverse_kl` is KL(q ‖ uniform) of the histogram
q of high-quality samples over modes: 0 when every mode gets the same share, log(#modes) when one mode gets all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class ModeStatistics:
    modes_covered: int
    high_quality: float
    reverse_kl: float

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}modes_covered": float(self.modes_covered), f"{prefix}high_quality": self.high_quality,
                f"{prefix}reverse_kl": self.reverse_kl}


def mode_statistics(samples: Tensor, means: Tensor, std: float, threshold: float = 3.0) -> ModeStatistics:
    distances = torch.cdist(samples.to(torch.float64), means.to(torch.float64))
    nearest_distance, nearest_mode = distances.min(dim=1)
    good = nearest_distance <= threshold * std
    counts = torch.bincount(nearest_mode[good], minlength=len(means)).to(torch.float64)
    covered = int((counts > 0).sum())
    if good.sum() == 0:
        return ModeStatistics(0, 0.0, math.log(len(means)))
    q = counts / counts.sum()
    nonzero = q > 0
    reverse_kl = float((q[nonzero] * (q[nonzero] * len(means)).log()).sum())
    return ModeStatistics(covered, float(good.double().mean()), reverse_kl)
