"""A GAN's discriminator D against the optimal one for the generator it is trained against,
D* = p_data/(p_data + p_g): `d_star_error` (`lit_gen.metrics.optimal_discriminator`) and both maps on a grid.

p_g is that of the raw generator (`sample_trained_generator`), not the EMA one the model samples: D* is what D
would be at the optimum of its own game. p_data is exact; p_g a cross-validated KDE of generator samples, so D*
carries the KDE's smoothing error.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lit_gen.evaluation.divergences import has_exact_density
from lit_gen.metrics.kde import CrossValidatedKDE
from lit_gen.metrics.optimal_discriminator import d_star_error, optimal_discriminator
from lit_gen.models.capabilities import Discriminates


def can_compare_with_optimal(model, datamodule) -> bool:
    """D has a probability of one sample to compare, and the data an exact density to make D* from."""
    return (isinstance(model, Discriminates) and model.discriminator_is_probability
            and datamodule is not None and has_exact_density(datamodule))


@torch.no_grad()
def compare_with_optimal_discriminator(model, datamodule, split: str = "val", num_samples: int = 2500,
                                       resolution: int = 120, seed: int = 0) -> dict:
    """`error` (mean |D − D*| under (p_data + p_g)/2, on the split's first `num_samples` points and as many raw
    generator samples) and, for the figure, D and D* on a `resolution`² grid over both, the points, the bandwidth.
    Draws from its own RNG seeded by `seed` (the global one is restored)."""
    device = model.device
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        generated = model.sample_trained_generator(num_samples).float().cpu()
    data = datamodule.raw_split(split)[:num_samples].float()
    kde = CrossValidatedKDE(generated, seed=seed)
    d = lambda x: torch.sigmoid(model.discriminator_logit(x.float().to(device))).cpu()  # noqa: E731
    error = d_star_error(d, datamodule.log_density, kde.log_prob, data, generated)
    grid = figure_grid(data, generated, resolution)
    log_p_data, log_p_g = datamodule.log_density(grid).float(), kde.log_prob(grid).float()
    return {"error": error, "grid": grid, "d": d(grid), "d_star": optimal_discriminator(log_p_data, log_p_g),
            "log_p_data": log_p_data, "log_p_g": log_p_g, "data": data, "generated": generated,
            "bandwidth": kde.bandwidth, "split": split, "num_samples": len(generated)}


def figure_grid(data: Tensor, generated: Tensor, resolution: int, pad: float = 0.15) -> Tensor:
    """A `resolution`² grid over the box of the data and the bulk of the samples (their 1–99 % quantiles, so a few
    wild samples do not shrink the picture of the data), padded by `pad` of its span: where D and D* differ."""
    finite = generated[torch.isfinite(generated).all(1)]
    bulk = torch.stack([finite.quantile(0.01, dim=0), finite.quantile(0.99, dim=0)]) if len(finite) else data[:2]
    low = torch.minimum(data.min(0).values, bulk[0])
    high = torch.maximum(data.max(0).values, bulk[1])
    margin = (high - low).clamp(min=1e-3) * pad
    xs, ys = torch.meshgrid(torch.linspace(float(low[0] - margin[0]), float(high[0] + margin[0]), resolution),
                            torch.linspace(float(low[1] - margin[1]), float(high[1] + margin[1]), resolution),
                            indexing="xy")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)
