"""2D Gaussian mixtures with an exact density: the ring of 8 and the grid of 25 of the mode-collapse literature.

Defaults follow PacGAN / VEEGAN: ring radius 1, std 0.01; grid at {-4,-2,0,2,4}², std 0.05. The Unrolled-GAN
ring is `radius: 2, std: 0.02`. The mixture is equally weighted and isotropic, so the exact log-density is a
log-sum-exp over modes, which the metrics and figures use directly.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from lit_gen.data.base import InMemoryDataModule


class GaussianMixture2D:
    """An equally weighted mixture of isotropic Gaussians with common std."""

    def __init__(self, means: Tensor, std: float) -> None:
        self.means = means.to(torch.float64)
        self.std = float(std)

    @classmethod
    def ring(cls, modes: int = 8, radius: float = 1.0, std: float = 0.01) -> GaussianMixture2D:
        angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
        return cls(radius * torch.stack([angles.cos(), angles.sin()], dim=1), std)

    @classmethod
    def grid(cls, side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture2D:
        axis = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
        xs, ys = torch.meshgrid(axis, axis, indexing="ij")
        return cls(torch.stack([xs.flatten(), ys.flatten()], dim=1), std)

    @property
    def num_modes(self) -> int:
        return len(self.means)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        modes = torch.randint(self.num_modes, (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return (self.means[modes] + self.std * noise).float()

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density at each row of `x` (shape (n, 2)), in float64."""
        x = x.to(torch.float64)
        sq_dist = torch.cdist(x, self.means).square()
        log_component = -sq_dist / (2 * self.std**2) - math.log(2 * math.pi * self.std**2)
        return torch.logsumexp(log_component, dim=1) - math.log(self.num_modes)


class MixtureDataModule(InMemoryDataModule):
    """Samples from a 2D mixture, drawn once from `data_seed` and split like any other set.

    Args:
        shape: `ring` (modes on a circle of `radius`) or `grid` (a `grid_side`² lattice with `spacing`).
        num_samples: total examples drawn (train + val + test).
    """

    data_shape = (2,)
    levels = None

    def __init__(
        self,
        shape: Literal["ring", "grid"] = "ring",
        ring_modes: int = 8,
        radius: float = 1.0,
        grid_side: int = 5,
        spacing: float = 2.0,
        std: float | None = None,
        num_samples: int = 100_000,
        data_seed: int = 0,
        batch_size: int = 512,
        eval_batch_size: int | None = 2500,
        val_size: int | float = 0.1,
        test_size: int | float = 0.1,
        split_seed: int = 0,
        shuffle_seed: int | None = None,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, val_size, test_size, split_seed, shuffle_seed)
        if std is not None and std <= 0:
            raise ValueError(f"std={std} must be positive")
        if shape == "ring":
            self.mixture = GaussianMixture2D.ring(ring_modes, radius, 0.01 if std is None else std)
        else:
            self.mixture = GaussianMixture2D.grid(grid_side, spacing, 0.05 if std is None else std)
        self.num_samples = num_samples
        self.data_seed = data_seed

    def load(self) -> tuple[Tensor, None]:
        return self.mixture.sample(self.num_samples, torch.Generator().manual_seed(self.data_seed)), None

    def log_density(self, x: Tensor) -> Tensor:
        return self.mixture.log_prob(x)
