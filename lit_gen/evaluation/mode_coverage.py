"""Mode coverage of a model on a 2D mixture, by the VEEGAN / PacGAN protocol (`lit_gen.metrics.mixture`):
`modes_covered`, `high_quality`, `reverse_kl` of `num_samples` draws of the model — any model that can be drawn
from: a GAN's `sample` (its EMA generator when on), a VAE's density draws f(z) + σε (`model_draws`), never its
decoder means."""

from __future__ import annotations

import torch

from lit_gen.evaluation.divergences import draw
from lit_gen.metrics.mixture import ModeStatistics, mode_statistics

#: samples of the VEEGAN / PacGAN protocol
PROTOCOL_SAMPLES = 2500


def mixture_of(datamodule):
    """The data's `GaussianMixture2D` (means, std), or None for other data."""
    return getattr(datamodule, "mixture", None) if datamodule is not None else None


def evaluate_mode_coverage(model, datamodule, num_samples: int = PROTOCOL_SAMPLES, seed: int = 0,
                           batch_size: int = 500) -> ModeStatistics | None:
    """The mode statistics of `num_samples` model draws on the data's mixture, on the evaluation's own RNG (seeded
    by `seed`, the global one restored); None when the data is no mixture or the model cannot be drawn from."""
    mixture = mixture_of(datamodule)
    if mixture is None:
        return None
    device = model.device
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        samples = draw(model, num_samples, batch_size)
    return mode_statistics_of(samples, mixture)


def mode_statistics_of(samples, mixture) -> ModeStatistics | None:
    """The protocol's statistics of given samples (None for no samples)."""
    if samples is None:
        return None
    return mode_statistics(samples, mixture.means, mixture.std)
