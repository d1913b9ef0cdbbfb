"""DCGAN-style convolutional networks for square images of any size (8, 28, 32, 64 pixels...).

The encoder halves the resolution with stride-2 convolutions until it is at most 4 pixels across, doubling the
channels each time; the decoder retraces the same sizes in reverse, so 28 → 14 → 7 → 4 comes back as 4 → 7 →
14 → 28 (`output_padding` absorbs the odd sizes).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


def resolutions(size: int) -> list[int]:
    """Spatial sizes the encoder passes through, from the input down to at most 4."""
    sizes = [size]
    while sizes[-1] > 4:
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


class ConvEncoder(nn.Module):
    def __init__(
        self, in_shape: Sequence[int], out_features: int, base_channels: int = 32,
        activation: type[nn.Module] = nn.LeakyReLU, batch_norm: bool = False,
    ) -> None:
        super().__init__()
        channels, size = in_shape[0], in_shape[-1]
        layers: list[nn.Module] = []
        sizes = resolutions(size)
        for stage in range(len(sizes) - 1):
            out_channels = base_channels * 2**stage
            layers.append(nn.Conv2d(channels, out_channels, kernel_size=3, stride=2, padding=1))
            if batch_norm and stage > 0:  # DCGAN leaves the first layer without normalisation
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(activation())
            channels = out_channels
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels * sizes[-1] ** 2, out_features)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))


class ConvDecoder(nn.Module):
    def __init__(
        self, latent_dim: int, out_shape: Sequence[int], base_channels: int = 32,
        activation: type[nn.Module] = nn.ReLU, batch_norm: bool = False, out_per_dim: int = 1,
    ) -> None:
        super().__init__()
        sizes = resolutions(out_shape[-1])[::-1]
        stages = len(sizes) - 1
        channels = base_channels * 2 ** max(stages - 1, 0)
        self.start_shape = (channels, sizes[0], sizes[0])
        self.project = nn.Sequential(nn.Linear(latent_dim, channels * sizes[0] ** 2), activation())
        layers: list[nn.Module] = []
        for stage in range(stages):
            last = stage == stages - 1
            out_channels = out_shape[0] * out_per_dim if last else channels // 2
            padding = sizes[stage + 1] - (2 * sizes[stage] - 1)  # 0 or 1
            layers.append(nn.ConvTranspose2d(channels, out_channels, 3, stride=2, padding=1, output_padding=padding))
            if not last:
                if batch_norm:
                    layers.append(nn.BatchNorm2d(out_channels))
                layers.append(activation())
            channels = out_channels
        if stages == 0:
            layers.append(nn.Conv2d(channels, out_shape[0] * out_per_dim, 3, padding=1))
        self.upsample = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.upsample(self.project(z).view(-1, *self.start_shape))
