from __future__ import annotations

import pytest
import torch

from lit_gen.nets import build_decoder, build_encoder
from lit_gen.nets.conv import resolutions


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 64, 64)])
@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_networks_are_sized_from_the_data_shape(architecture, shape):
    encoder = build_encoder(architecture, shape, out_features=10, hidden=[32], base_channels=8)
    decoder = build_decoder(architecture, latent_dim=5, out_shape=shape, hidden=[32], base_channels=8)
    x = torch.rand(3, *shape)
    assert encoder(x).shape == (3, 10)
    assert decoder(torch.randn(3, 5)).shape == (3, *shape)


def test_decoder_can_emit_several_values_per_dimension():
    decoder = build_decoder("conv", 4, (1, 28, 28), [16], 8, out_per_dim=2)
    assert decoder(torch.randn(2, 4)).shape == (2, 2, 28, 28)


def test_conv_resolutions_halve_down_to_four():
    assert resolutions(28) == [28, 14, 7, 4]
    assert resolutions(64) == [64, 32, 16, 8, 4]
    assert resolutions(8) == [8, 4]


def test_conv_networks_reject_non_square_data():
    with pytest.raises(ValueError, match="square images"):
        build_encoder("conv", (2,), 4, [8], 8)
