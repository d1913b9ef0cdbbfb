"""Decoder likelihoods p(x|z). Each one also owns the pixel range its data must be in.

Raw examples arrive as the DataModule holds them: integer grey levels in `[0, levels - 1]` for images, real
coordinates for continuous data (`levels is None`). `prepare` maps them into the space the likelihood is a
density over, so a config cannot pair a likelihood with the wrong pixel range.

All log-probabilities are per example, summed over dimensions, in nats.
"""

from __future__ import annotations

import importlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from jsonargparse.typing import NonNegativeFloat, PositiveFloat
from torch import Tensor, nn


class Likelihood(nn.Module, ABC):
    """Base class: `bind` tells the likelihood what data it models, before any parameter is made."""

    #: decoder outputs per data dimension (2 would mean a mean and a scale per pixel)
    outputs_per_dim = 1
    #: the constructor's arguments, so a checkpoint can store the likelihood as plain data
    init_args: dict

    def spec(self) -> dict:
        """`{"class_path": …, "init_args": …}`: the config that builds this likelihood again."""
        # through JSON so config types (e.g. jsonargparse's PositiveFloat) become plain floats: checkpoints then
        # load with torch.load(weights_only=True)
        init_args = json.loads(json.dumps(self.init_args))
        return {"class_path": f"{type(self).__module__}.{type(self).__qualname__}", "init_args": init_args}

    @staticmethod
    def from_spec(spec: dict) -> Likelihood:
        module_name, _, class_name = spec["class_path"].rpartition(".")
        cls = getattr(importlib.import_module(module_name), class_name)
        if not (isinstance(cls, type) and issubclass(cls, Likelihood)):
            raise ValueError(f"{spec['class_path']} is not a lit_gen Likelihood")
        return cls(**spec.get("init_args", {}))

    def bind(self, data_shape: Sequence[int], levels: int | None) -> None:
        self.data_shape = tuple(data_shape)
        self.levels = levels
        self.num_dims = math.prod(data_shape)

    @abstractmethod
    def prepare(self, raw: Tensor) -> Tensor:
        """Raw examples → the values this likelihood is a density (or mass function) over."""

    @abstractmethod
    def log_prob(self, decoded: Tensor, x: Tensor) -> Tensor:
        """log p(x|z) per example, for decoder output `decoded`; both shaped (batch, *data_shape)."""

    @abstractmethod
    def mean(self, decoded: Tensor) -> Tensor:
        """E[x|z], in the space `prepare` maps to (what a sample grid shows)."""

    def to_intensities(self, x: Tensor) -> Tensor:
        """Values in `prepare`'s space → the scale real images are shown and scored on (level k → k / (levels − 1),
        as `metrics.backbones.real_intensities`), so samples compare with real images. Here: already that scale."""
        return x

    def discrete_nats_offset(self) -> float | None:
        """Nats to add to −log p(x) to get −log P of the discrete data, or None if that is not a bound here."""
        return None


class DequantisedLikelihood(Likelihood):
    """A density over continuous values. On discrete images the data is uniformly dequantised: level k becomes
    (k + u)/levels with u ~ U[0, 1), a density on [0, 1]^D whose log-likelihood minus D·log(levels) bounds the
    log-probability of the discrete image from below (and a Gaussian's σ cannot shrink to 0 on it)."""

    def __init__(self, dequantize: bool = True) -> None:
        super().__init__()
        self.dequantize = dequantize

    def prepare(self, raw: Tensor) -> Tensor:
        if self.levels is None:
            return raw.float()
        if self.dequantize:
            level = raw.float()
            x = (level + torch.rand(raw.shape, device=raw.device)) / self.levels
            # k + u rounds up to k + 1 in float32 for u within 2⁻²⁴ of 1: keep x inside its level's bin
            return torch.minimum(x, torch.nextafter((level + 1) / self.levels, torch.zeros((), device=raw.device)))
        return raw.float() / (self.levels - 1)

    def to_intensities(self, x: Tensor) -> Tensor:
        if self.levels is None or not self.dequantize:
            return x  # coordinates, or grey levels that `prepare` already put at k / (levels − 1)
        # Dequantised, level k fills the bin [k, k + 1)/levels, whose centre (k + ½)/levels (the best mean a decoder
        # can reach for it) must land where real images put level k, k / (levels − 1). Left as it is, every sample
        # is shrunk towards grey by (levels − 1)/levels and shifted by ½/levels: on the 17-level digits that alone
        # doubles KID. Affine, so a mean between two bins lands between their levels' intensities.
        return (x * self.levels - 0.5) / (self.levels - 1)

    def discrete_nats_offset(self) -> float | None:
        if self.levels is not None and self.dequantize:
            return self.num_dims * math.log(self.levels)
        return None


def gaussian_log_prob(x: Tensor, mean: Tensor, sigma: Tensor) -> Tensor:
    """log N(x; mean, diag σ²) per example: −‖x − mean‖²/(2σ²) − D·log(√(2π)σ), written per dimension so σ may
    vary by dimension (and by example)."""
    per_dim = -0.5 * ((x - mean) / sigma).square() - torch.log(sigma) - 0.5 * math.log(2 * math.pi)
    return per_dim.flatten(1).sum(1)


class _GaussianBase(DequantisedLikelihood):
    """A Gaussian N(f(z), σ²I) with a σ of its own (fixed or learned, not a function of z)."""

    @abstractmethod
    def sigma(self) -> Tensor:
        """σ, a scalar or shaped like one example."""

    def log_prob(self, decoded: Tensor, x: Tensor) -> Tensor:
        return gaussian_log_prob(x, decoded, self.sigma())

    def mean(self, decoded: Tensor) -> Tensor:
        return decoded


class GaussianLikelihood(_GaussianBase):
    """Gaussian with a fixed σ: the σ of the theory, trading reconstruction sharpness against the prior match."""

    def __init__(self, sigma: PositiveFloat = 0.1, dequantize: bool = True) -> None:
        super().__init__(dequantize)
        if not sigma > 0:
            raise ValueError(f"sigma={sigma}: the decoder's σ must be positive")
        self.init_args = {"sigma": sigma, "dequantize": dequantize}
        self.register_buffer("_sigma", torch.tensor(float(sigma)), persistent=False)

    def sigma(self) -> Tensor:
        return self._sigma


class LearnedGaussianLikelihood(_GaussianBase):
    """Gaussian whose σ is learned, one shared scalar or one per data dimension: σ = min_sigma + softplus(θ)."""

    def __init__(
        self, init_sigma: PositiveFloat = 0.1, per_dimension: bool = False, min_sigma: NonNegativeFloat = 1e-3,
        dequantize: bool = True,
    ) -> None:
        super().__init__(dequantize)
        if not init_sigma > min_sigma >= 0:
            raise ValueError(f"need init_sigma > min_sigma >= 0 (got init_sigma={init_sigma}, min_sigma={min_sigma})")
        self.init_args = {"init_sigma": init_sigma, "per_dimension": per_dimension, "min_sigma": min_sigma,
                          "dequantize": dequantize}
        self.init_sigma = init_sigma
        self.per_dimension = per_dimension
        self.min_sigma = min_sigma

    def bind(self, data_shape: Sequence[int], levels: int | None) -> None:
        super().bind(data_shape, levels)
        shape = self.data_shape if self.per_dimension else ()
        excess = torch.tensor(self.init_sigma - self.min_sigma)
        self.raw_sigma = nn.Parameter(torch.full(shape, float(excess.expm1().log())))  # softplus⁻¹(excess)

    def sigma(self) -> Tensor:
        return self.min_sigma + F.softplus(self.raw_sigma)


class BernoulliLikelihood(Likelihood):
    """Bernoulli with logits over pixel intensities in [0, 1] (levels / (levels − 1)).

    With `binarize`, each training batch is binarised afresh (dynamic binarisation), and val/test examples by a
    fixed function of the example itself (its grey levels and `eval_seed`, see `fixed_binarisation`), so the data
    are binary, −log p(x) is a code length of those binary images, and an example's binary image does not depend
    on the batch it arrives in. Without it, the targets are grey values and the 'likelihood' is the usual
    cross-entropy, which is not a normalised density.
    """

    def __init__(self, binarize: bool = False, eval_seed: int = 0) -> None:
        super().__init__()
        self.init_args = {"binarize": binarize, "eval_seed": eval_seed}
        self.binarize = binarize
        self.eval_seed = eval_seed

    def bind(self, data_shape: Sequence[int], levels: int | None) -> None:
        if levels is None:
            raise ValueError("the Bernoulli likelihood needs image data with intensities in [0, 1]; "
                             "use GaussianLikelihood for continuous data")
        super().bind(data_shape, levels)

    def prepare(self, raw: Tensor) -> Tensor:
        p = raw.float() / (self.levels - 1)
        if not self.binarize:
            return p
        if self.training:
            return torch.bernoulli(p)
        return fixed_binarisation(raw, p, self.eval_seed)

    def log_prob(self, decoded: Tensor, x: Tensor) -> Tensor:
        return -F.binary_cross_entropy_with_logits(decoded, x, reduction="none").flatten(1).sum(1)

    def mean(self, decoded: Tensor) -> Tensor:
        return torch.sigmoid(decoded)

    def discrete_nats_offset(self) -> float | None:
        return 0.0 if self.binarize else None


_MASK32 = 0xFFFFFFFF


def _hash32(x: Tensor) -> Tensor:
    """A well-mixing bijection of [0, 2³²) (shifts 16-15-15 and the low-bias multipliers of C. Wellons'
    hash-prospector), elementwise on int64 tensors: both multipliers are below 2³¹, so no product of a 32-bit x
    overflows int64 (torch has no uint32 arithmetic to wrap around in)."""
    x = x ^ (x >> 16)
    x = (x * 0x21F0AAAD) & _MASK32
    x = x ^ (x >> 15)
    x = (x * 0x735A2D97) & _MASK32
    return x ^ (x >> 15)


def fixed_binarisation(raw: Tensor, p: Tensor, seed: int) -> Tensor:
    """Binary images x with x_j = 1 iff u_j < p_j, where u_j ~ U[0, 1) is a hash of the whole example's grey
    levels, the position j and `seed`: each pixel is 1 with probability p_j, and an example binarises the same way
    whatever batch, batch size, device or DDP rank it comes with (a seeded generator per batch would not)."""
    levels = raw.round().long().flatten(1)  # integer grey levels, one row per example
    # odd, so two images that differ in one pixel never share a key (hash32(0) = 0 would ignore pixel 0)
    position_keys = _hash32(torch.arange(levels.shape[1], device=raw.device) + 0x9E3779B9) | 1
    # the example's key: Σ_j level_j · key_j mod 2³², which two different images share with chance ~2⁻³²
    # (levels ≤ 256 and keys < 2³²: the sum of even 2²³ products stays inside int64)
    seed_key = _hash32(torch.tensor(seed & _MASK32, device=raw.device))
    example_key = _hash32(((levels * position_keys).sum(1, keepdim=True) + seed_key) & _MASK32)
    bits = _hash32((example_key + _hash32(position_keys)) & _MASK32)
    uniform = (bits >> 8).float() / 2**24  # 24 random bits: exact in float32, in [0, 1)
    return (uniform.view_as(p) < p).float()
