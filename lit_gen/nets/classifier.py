"""A small conv classifier whose penultimate layer is lit_gen's domain feature space for FID, KID and IS.

Inception v3 sees 299×299 photographs; on 8×8 digits (or on a node without its weights) a classifier trained on
the data set's own labels is the backbone that fits. Each resolution stage is a 3×3 conv and a stride-2 3×3 conv,
down to at most 4 pixels across (the sizes of `nets.conv.resolutions`), then `features` (ReLU'd, like Inception's
pool features) and a linear layer to the class logits.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from lit_gen.nets.conv import resolutions


class DomainClassifier(nn.Module):
    """Images (N, C, H, H) with intensities in [0, 1] → class logits; `features(x)` gives the feature vectors."""

    def __init__(
        self, data_shape: Sequence[int], num_classes: int, base_channels: int = 32, feature_dim: int = 64,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
            raise ValueError(f"the domain classifier needs square images (C, H, H), not shape {tuple(data_shape)}")
        channels, sizes = data_shape[0], resolutions(data_shape[-1])
        layers: list[nn.Module] = []
        for stage in range(max(len(sizes) - 1, 1)):
            out_channels = base_channels * 2**stage
            stride = 2 if len(sizes) > 1 else 1  # images of ≤ 4 pixels are not downsampled
            layers += [
                nn.Conv2d(channels, out_channels, 3, padding=1), nn.ReLU(),
                nn.Conv2d(out_channels, out_channels, 3, stride=stride, padding=1), nn.ReLU(),
            ]
            channels = out_channels
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(channels * sizes[-1] ** 2, feature_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))
        self.num_features = feature_dim
        self.num_classes = num_classes

    def features(self, x: Tensor) -> Tensor:
        return self.embed(self.body(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
