"""Plain `nn.Module` networks shared by every model: encoders map data to features, decoders latents to data."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
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


def build_generator(
    architecture: Architecture, latent_dim: int, out_shape: Sequence[int], hidden: Sequence[int], base_channels: int,
    bounded: bool,
) -> nn.Module:
    """latent → sample; `bounded` ends in tanh, for images scaled to [−1, 1]. DCGAN: batch norm in the conv G."""
    if architecture == "conv":
        _require_square_images(out_shape)
        body = ConvDecoder(latent_dim, out_shape, base_channels, batch_norm=True)
    else:
        body = MLPDecoder(latent_dim, out_shape, hidden)
    return nn.Sequential(body, nn.Tanh()) if bounded else body


def build_discriminator(
    architecture: Architecture, in_shape: Sequence[int], hidden: Sequence[int], base_channels: int,
    spectral_norm: bool = False,
) -> nn.Module:
    """sample → one logit, LeakyReLU(0.2) throughout and no batch norm (it would couple the samples that R1, the
    gradient penalty and PacGAN treat separately)."""
    leaky = partial(nn.LeakyReLU, 0.2)
    if architecture == "conv":
        _require_square_images(in_shape)
        net = ConvEncoder(in_shape, 1, base_channels, activation=leaky)
    else:
        net = MLPEncoder(in_shape, 1, hidden, activation=leaky)
    if spectral_norm:
        for module in list(net.modules()):
            for name, child in list(module.named_children()):
                if isinstance(child, (nn.Linear, nn.Conv2d)):
                    setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
    return net


def _require_square_images(shape: Sequence[int]) -> None:
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"the conv networks need square images (C, H, H), not shape {tuple(shape)}: use network 'mlp'")


__all__ = [
    "ConvDecoder", "ConvEncoder", "MLPDecoder", "MLPEncoder",
    "build_decoder", "build_discriminator", "build_encoder", "build_generator",
]
