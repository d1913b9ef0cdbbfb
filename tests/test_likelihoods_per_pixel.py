"""The likelihoods whose scale the decoder predicts per pixel: the discretized logistic against scipy's logistic CDF
(mass, tails, exact mean), the predicted-σ Gaussian against scipy's normal density, and both inside a VAE."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from lit_gen.models import VAE, DiscretizedLogisticLikelihood, Likelihood, PredictedGaussianLikelihood
from lit_gen.models.capabilities import GaussianNoise

LEVELS = 256


def _decoded(location: torch.Tensor, scale: torch.Tensor, floor: float) -> torch.Tensor:
    """The decoder output (location channel, raw scale channel) that gives exactly `scale` after the floor."""
    raw_scale = torch.log(torch.expm1(scale - floor))  # softplus⁻¹
    return torch.cat([location, raw_scale], dim=1).double()


def _bound(likelihood: Likelihood, shape=(1, 1, 1), levels=LEVELS) -> Likelihood:
    likelihood.bind(shape, levels)
    return likelihood


@pytest.mark.parametrize(("mu", "scale"), [(0.3, 0.05), (-0.2, 0.2), (1.1, 0.002), (0.5, 0.0011), (0.498, 3.0)])
def test_discretized_logistic_is_scipys_logistic_mass_and_sums_to_one(mu: float, scale: float) -> None:
    likelihood = _bound(DiscretizedLogisticLikelihood(min_scale=1e-3))
    levels = torch.arange(LEVELS, dtype=torch.float64)
    x = (levels / (LEVELS - 1)).view(-1, 1, 1, 1)
    decoded = _decoded(torch.full((LEVELS, 1, 1, 1), mu), torch.full((LEVELS, 1, 1, 1), scale), 1e-3)
    mass = likelihood.log_prob(decoded, x).exp().numpy()

    centres, half = np.arange(LEVELS) / (LEVELS - 1), 0.5 / (LEVELS - 1)
    cdf = stats.logistic(loc=mu, scale=scale).cdf
    expected = cdf(centres + half) - cdf(centres - half)
    expected[0], expected[-1] = cdf(half), 1 - cdf(1 - half)  # the tails go to the end levels
    assert mass.sum() == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(mass, expected, rtol=1e-6, atol=1e-12)


def test_discretized_logistic_stays_finite_far_from_the_location() -> None:
    """In float32 (as training runs) a bin 500 scales away has a mass of ~1e-220, where σ(a) − σ(b) is 0 − 0: the
    log must still be scipy's float64 value, with a finite gradient."""
    likelihood = _bound(DiscretizedLogisticLikelihood(min_scale=1e-3))
    location = torch.tensor([[[[0.9]]]], requires_grad=True)
    decoded = torch.cat([location, torch.full_like(location, -20.0)], dim=1)  # scale ≈ the floor
    log_mass = likelihood.log_prob(decoded, torch.tensor([[[[100 / 255]]]]))
    log_mass.backward()
    scale = 1e-3 + float(F.softplus(torch.tensor(-20.0, dtype=torch.float64)))
    cdf = stats.logistic(loc=0.9, scale=scale).cdf
    expected = np.log(cdf((100 + 0.5) / 255) - cdf((100 - 0.5) / 255))
    assert log_mass.item() == pytest.approx(expected, rel=1e-5)
    assert torch.isfinite(location.grad).all()


def test_discretized_logistic_mean_is_the_exact_expectation() -> None:
    likelihood = _bound(DiscretizedLogisticLikelihood(min_scale=1e-3), shape=(1, 2, 2))
    location = torch.tensor([0.3, -0.2, 1.1, 0.5], dtype=torch.float64).view(1, 1, 2, 2)
    scale = torch.tensor([0.05, 0.2, 0.002, 0.4], dtype=torch.float64).view(1, 1, 2, 2)
    decoded = _decoded(location, scale, 1e-3)
    centres = np.arange(LEVELS) / (LEVELS - 1)
    expected = []
    for mu, s in zip(location.flatten().tolist(), scale.flatten().tolist(), strict=True):
        cdf = stats.logistic(loc=mu, scale=s).cdf
        mass = cdf(centres + 0.5 / 255) - cdf(centres - 0.5 / 255)
        mass[0], mass[-1] = cdf(0.5 / 255), 1 - cdf(1 - 0.5 / 255)
        expected.append((mass * centres).sum())
    np.testing.assert_allclose(likelihood.mean(decoded).flatten().numpy(), expected, rtol=1e-9)
    # the location itself is not the mean where the tails' mass sits on the end levels
    assert likelihood.mean(decoded).flatten()[1].item() > 0.05


def test_discretized_logistic_prepares_levels_and_needs_no_offset() -> None:
    likelihood = _bound(DiscretizedLogisticLikelihood(), levels=17)
    raw = torch.tensor([[[[0, 8, 16]]]])
    assert likelihood.prepare(raw).tolist() == [[[[0.0, 0.5, 1.0]]]]
    assert likelihood.discrete_nats_offset() == 0.0
    with pytest.raises(ValueError, match="integer grey levels"):
        DiscretizedLogisticLikelihood().bind((2,), None)


def test_predicted_gaussian_is_scipys_normal_with_the_decoders_sigma() -> None:
    likelihood = _bound(PredictedGaussianLikelihood(min_sigma=0.01), shape=(1, 2, 2))
    torch.manual_seed(0)
    mean, sigma = torch.rand(3, 1, 2, 2, dtype=torch.float64), 0.01 + torch.rand(3, 1, 2, 2, dtype=torch.float64)
    x = torch.rand(3, 1, 2, 2, dtype=torch.float64)
    expected = stats.norm(mean.numpy(), sigma.numpy()).logpdf(x.numpy()).reshape(3, -1).sum(1)
    np.testing.assert_allclose(likelihood.log_prob(_decoded(mean, sigma, 0.01), x).numpy(), expected, rtol=1e-10)
    very_negative = torch.cat([mean, torch.full_like(mean, -50.0)], dim=1)
    floor_only = stats.norm(mean.numpy(), 0.01).logpdf(x.numpy()).reshape(3, -1).sum(1)
    np.testing.assert_allclose(likelihood.log_prob(very_negative, x).numpy(), floor_only, rtol=1e-10)
    assert not isinstance(likelihood, GaussianNoise)  # no σ of its own: divergences must not add a fixed noise


@pytest.mark.parametrize("likelihood", [DiscretizedLogisticLikelihood(), PredictedGaussianLikelihood()])
def test_vae_with_a_per_pixel_scale_trains_decodes_images_and_round_trips(likelihood: Likelihood) -> None:
    torch.manual_seed(0)
    model = VAE(data_shape=(1, 8, 8), levels=17, latent_dim=2, network="conv", base_channels=4,
                likelihood=likelihood, iw_samples=3)
    raw = torch.randint(0, 17, (6, 1, 8, 8))
    x = model.prepare(raw)
    out = model(x)
    assert out.decoded.shape == (6, 2, 8, 8)  # location and scale
    out.loss.backward()
    assert torch.isfinite(model.log_marginal_likelihood(x)).all()
    samples = model.decode(torch.randn(4, 2))
    assert samples.shape == (4, 1, 8, 8)  # what grids and FID see: one value per pixel, on the image scale
    again = VAE(data_shape=(1, 8, 8), levels=17, latent_dim=2, network="conv", base_channels=4,
                likelihood=model.hparams["likelihood"], iw_samples=3)
    assert type(again.likelihood) is type(likelihood)
    assert again.likelihood.init_args == likelihood.init_args
