"""Decoder likelihoods whose scale the decoder predicts per pixel, for 8-bit (or any `levels`) images.

`DiscretizedLogisticLikelihood` is a probability mass function over the grey levels themselves (as in PixelCNN++
and the IAF/NVAE VAEs), so −log P(x) is a code length of the discrete image and bits/dim need no dequantisation
offset. `PredictedGaussianLikelihood` is the Gaussian of `likelihoods.py` with a σ the decoder predicts for every
pixel of every image, on uniformly dequantised data (a lower bound on log P of the discrete image, as there).

The decoder emits two values per data dimension (`outputs_per_dim = 2`): the first C channels are the location,
the next C the unconstrained scale, mapped to `min_scale + softplus(·)` so the scale has a floor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jsonargparse.typing import NonNegativeFloat
from torch import Tensor

from lit_gen.models.likelihoods import DequantisedLikelihood, Likelihood, gaussian_log_prob


def _location_and_scale(decoded: Tensor, min_scale: float) -> tuple[Tensor, Tensor]:
    location, raw_scale = decoded.chunk(2, dim=1)
    return location, min_scale + F.softplus(raw_scale)


class DiscretizedLogisticLikelihood(Likelihood):
    """P(x = c_k | z) = F((c_k + h − μ)/s) − F((c_k − h − μ)/s), F the logistic CDF, for the grey levels
    c_k = k/(levels − 1) and half a bin h = 1/(2(levels − 1)); the lowest and highest level take the tails
    (F(−∞) = 0, F(∞) = 1), so the levels' probabilities sum to one exactly. μ and s come from the decoder, per pixel.

    Args:
        min_scale: floor of s, in intensity units (a bin is 1/(levels − 1) wide: 1/255 for 8-bit images).
    """

    outputs_per_dim = 2

    def __init__(self, min_scale: NonNegativeFloat = 1e-3) -> None:
        super().__init__()
        if not min_scale >= 0:
            raise ValueError(f"min_scale={min_scale} must be non-negative")
        self.init_args = {"min_scale": min_scale}
        self.min_scale = min_scale

    def bind(self, data_shape, levels: int | None) -> None:
        if levels is None or levels < 2:
            raise ValueError("the discretized logistic likelihood needs image data with integer grey levels; "
                             "use GaussianLikelihood for continuous data")
        super().bind(data_shape, levels)

    def prepare(self, raw: Tensor) -> Tensor:
        return raw.float() / (self.levels - 1)  # level k → c_k, exactly the bin centres below

    def log_prob(self, decoded: Tensor, x: Tensor) -> Tensor:
        location, scale = _location_and_scale(decoded, self.min_scale)
        half_bin = 0.5 / (self.levels - 1)
        upper = (x + half_bin - location) / scale
        lower = (x - half_bin - location) / scale
        # σ(a) − σ(b) = σ(a)·σ(−b)·(1 − e^(b−a)): exact, and every factor's log is stable however small s is
        # (PixelCNN++ instead switches to the density at the bin centre when the difference underflows)
        inner = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))
        level = torch.round(x * (self.levels - 1))
        per_dim = torch.where(level <= 0, F.logsigmoid(upper),
                              torch.where(level >= self.levels - 1, F.logsigmoid(-lower), inner))
        return per_dim.flatten(1).sum(1)

    def mean(self, decoded: Tensor) -> Tensor:
        """E[x|z] = Σ_k c_k P(c_k) = Σ_{j≥1} P(x ≥ c_j)/(levels − 1) (summation by parts), the exact mean: μ itself
        is not, as the tails' mass sits on the end levels."""
        location, scale = _location_and_scale(decoded, self.min_scale)
        step = 1.0 / (self.levels - 1)
        total = torch.zeros_like(location)
        # P(x ≥ c_j) = 1 − F(c_j − h) = σ(−(c_j − h − μ)/s), over the levels in chunks to bound memory
        lower_edges = (torch.arange(1, self.levels, device=location.device, dtype=location.dtype) - 0.5) * step
        for chunk in lower_edges.split(32):
            edges = chunk.view(-1, *([1] * location.dim()))
            total = total + torch.sigmoid((location - edges) / scale).sum(0)
        return total * step

    def discrete_nats_offset(self) -> float | None:
        return 0.0  # already a mass function over the levels


class PredictedGaussianLikelihood(DequantisedLikelihood):
    """Gaussian N(μ(z), diag σ(z)²) with σ predicted by the decoder per pixel, floored at `min_sigma`; on images the
    data is dequantised as for `GaussianLikelihood` (so σ cannot collapse onto a single level)."""

    outputs_per_dim = 2

    def __init__(self, min_sigma: NonNegativeFloat = 1e-3, dequantize: bool = True) -> None:
        super().__init__(dequantize)
        if not min_sigma >= 0:
            raise ValueError(f"min_sigma={min_sigma} must be non-negative")
        self.init_args = {"min_sigma": min_sigma, "dequantize": dequantize}
        self.min_sigma = min_sigma

    def log_prob(self, decoded: Tensor, x: Tensor) -> Tensor:
        location, sigma = _location_and_scale(decoded, self.min_sigma)
        return gaussian_log_prob(x, location, sigma)

    def mean(self, decoded: Tensor) -> Tensor:
        return decoded.chunk(2, dim=1)[0]
