"""Plain `nn.Module` networks shared by every model: encoders map data to features, decoders latents to data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import nn

from lit_gen.nets.conv import ConvDecoder, ConvEncoder
from lit_gen.nets.mlp import MLPDecoder, MLPEncoder

Architecture = Literal["mlp", "conv"]


def build_encoder(
    architecture: Architecture, in_shape: Sequence[int], out_features: int, hidden: Sequence[int], base_channels: int
) -> nn.Module:
    if architecture == "conv":
        _require_square_images(in_shape)
        return ConvEncoder(in_shape, out_features, base_channels)
    return MLPEncoder(in_shape, out_features, hidden)


def build_decoder(
    architecture: Architecture, latent_dim: int, out_shape: Sequence[int], hidden: Sequence[int],
    base_channels: int, out_per_dim: int = 1,
) -> nn.Module:
    if architecture == "conv":
        _require_square_images(out_shape)
        return ConvDecoder(latent_dim, out_shape, base_channels, out_per_dim=out_per_dim)
    return MLPDecoder(latent_dim, out_shape, hidden, out_per_dim=out_per_dim)


def _require_square_images(shape: Sequence[int]) -> None:
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"the conv networks need square images (C, H, H), not shape {tuple(shape)}: use network 'mlp'")


__all__ = ["ConvDecoder", "ConvEncoder", "MLPDecoder", "MLPEncoder", "build_decoder", "build_encoder"]
