"""Fully connected networks, sized from the data shape. Used by the VAE and, for 2D data, by the GAN."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn


def _stack(sizes: Sequence[int], activation: type[nn.Module]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(fan_in, fan_out), activation()]
    return layers


class MLPEncoder(nn.Module):
    """Example of shape `in_shape` → `out_features` values (2·latent for a VAE encoder, 1 for a critic)."""

    def __init__(
        self, in_shape: Sequence[int], out_features: int, hidden: Sequence[int] = (512,),
        activation: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        sizes = [math.prod(in_shape), *hidden]
        self.net = nn.Sequential(nn.Flatten(), *_stack(sizes, activation), nn.Linear(sizes[-1], out_features))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class MLPDecoder(nn.Module):
    """A latent vector → `out_channels_per_dim` values per data dimension, shaped `(out_per_dim·C, ...)`."""

    def __init__(
        self, latent_dim: int, out_shape: Sequence[int], hidden: Sequence[int] = (512,),
        activation: type[nn.Module] = nn.ReLU, out_per_dim: int = 1,
    ) -> None:
        super().__init__()
        self.out_shape = (out_shape[0] * out_per_dim, *out_shape[1:])
        sizes = [latent_dim, *reversed(hidden)]
        self.net = nn.Sequential(*_stack(sizes, activation), nn.Linear(sizes[-1], math.prod(self.out_shape)))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.out_shape)
