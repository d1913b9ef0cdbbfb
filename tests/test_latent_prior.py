"""The VAE's priors (lit_gen.models.priors): the mixture's density against scipy, its sampled KL and its place in the
IWAE estimate against an exactly tractable linear-Gaussian model, its EM fit against a known mixture, and the VAE that
refits it while training, checkpoints it and samples from it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from torch import Tensor
from torch.distributions import MultivariateNormal, Normal

from lit_gen import load
from lit_gen.data import DigitsDataModule
from lit_gen.errors import LitGenError
from lit_gen.metrics.likelihood import iwae_log_likelihood, kl_to_standard_normal, standard_normal_log_prob
from lit_gen.models import VAE
from lit_gen.models.priors import MixturePrior, StandardNormalPrior, aggregate_posterior_codes, build_prior

F64 = torch.float64
Z = 4.0  # Monte Carlo tolerance in standard errors (seeds are fixed)


def _known_mixture(latent: int = 3, components: int = 4, seed: int = 0) -> MixturePrior:
    """A mixture with unequal weights, spread means and correlated covariances, in float64."""
    gen = torch.Generator().manual_seed(seed)
    prior = MixturePrior(latent, components).double()
    a = torch.randn(components, latent, latent, dtype=F64, generator=gen)
    covariances = a @ a.transpose(-1, -2) + 0.3 * torch.eye(latent, dtype=F64)
    prior.scale_tril.copy_(torch.linalg.cholesky(covariances))
    prior.means.copy_(3 * torch.randn(components, latent, dtype=F64, generator=gen))
    weights = torch.rand(components, dtype=F64, generator=gen) + 0.2
    prior.log_weights.copy_((weights / weights.sum()).log())
    return prior


def test_mixture_log_prob_matches_scipy() -> None:
    prior = _known_mixture()
    z = 2 * torch.randn(50, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    covariances = (prior.scale_tril @ prior.scale_tril.transpose(-1, -2)).numpy()
    per_component = np.stack([multivariate_normal(m, c).logpdf(z.numpy()) for m, c in
                              zip(prior.means.numpy(), covariances, strict=True)], axis=-1)
    expected = logsumexp(per_component + prior.log_weights.numpy(), axis=-1)
    np.testing.assert_allclose(prior.log_prob(z).numpy(), expected, rtol=0, atol=1e-10)
    assert prior.log_prob(z.view(5, 10, 3)).shape == (5, 10)  # any leading shape, as the IWAE's (k, batch, latent)


def test_an_unfitted_mixture_is_the_standard_normal_and_its_sampled_kl_is_unbiased() -> None:
    prior = MixturePrior(latent_dim=4, num_components=5).double()
    z = torch.randn(100, 4, dtype=F64)
    torch.testing.assert_close(prior.log_prob(z), standard_normal_log_prob(z), rtol=0, atol=1e-6)  # float32 init
    # the one-sample KL, averaged over many draws of z ~ q, is the closed form's (the prior here is N(0, I))
    torch.manual_seed(0)
    mu, log_var = torch.tensor([[0.7, -1.2, 0.1, 2.0]], dtype=F64), torch.tensor([[-0.5, 0.3, -2.0, 0.0]], dtype=F64)
    draws = mu + (0.5 * log_var).exp() * torch.randn(200_000, 4, dtype=F64)
    sampled = prior.kl(draws, mu.expand_as(draws), log_var.expand_as(draws))
    mean, se = sampled.mean(), sampled.std() / math.sqrt(len(sampled))
    assert abs(mean - kl_to_standard_normal(mu, log_var)[0]) < Z * se


def test_the_standard_normal_prior_keeps_the_closed_form_kl() -> None:
    prior = build_prior("standard_normal", 3)
    assert isinstance(prior, StandardNormalPrior) and not list(prior.buffers())  # old checkpoints load as they were
    mu, log_var = torch.randn(6, 3), torch.randn(6, 3)
    torch.testing.assert_close(prior.kl(torch.zeros(6, 3), mu, log_var), kl_to_standard_normal(mu, log_var))
    with pytest.raises(ValueError, match="standard_normal"):
        build_prior("vamp", 3)


def test_iwae_under_a_mixture_prior_is_exact_with_the_exact_posterior() -> None:
    """Linear-Gaussian model with p(z) = N(m, diag s²), written as a two-component mixture of that same Gaussian
    (weights 0.3, 0.7): log p(x) = log N(x; Wm + b, W S Wᵀ + σ²I) and q = p(z|x) are exact, so every importance
    weight equals p(x) and the IWAE estimate is log p(x) for any k. It fails if the prior's log density is left out
    of the weights, or its mixture weights or means are misapplied."""
    gen = torch.Generator().manual_seed(7)
    latent, data, sigma = 3, 5, 0.4
    q, _ = torch.linalg.qr(torch.randn(data, latent, dtype=F64, generator=gen))
    w = q * torch.tensor([1.5, 1.0, 0.6], dtype=F64)  # WᵀW diagonal: with a diagonal S the posterior is diagonal
    b = torch.randn(data, dtype=F64, generator=gen)
    m, s2 = torch.tensor([1.0, -2.0, 0.5], dtype=F64), torch.tensor([0.5, 2.0, 1.5], dtype=F64)
    x = torch.randn(4, data, dtype=F64, generator=gen) * 2
    log_px = MultivariateNormal(w @ m + b, w @ torch.diag(s2) @ w.T + sigma**2 * torch.eye(data, dtype=F64)).log_prob(x)
    post_var = 1 / (1 / s2 + torch.diagonal(w.T @ w) / sigma**2)
    post_mu = ((x - b) @ w / sigma**2 + m / s2) * post_var

    prior = MixturePrior(latent, 2).double()
    prior.means.copy_(m.expand(2, latent))
    prior.scale_tril.copy_(torch.diag(s2.sqrt()).expand(2, latent, latent))
    prior.log_weights.copy_(torch.tensor([0.3, 0.7], dtype=F64).log())

    def log_likelihood(z: Tensor, xs: Tensor) -> Tensor:
        return Normal(z @ w.T + b, sigma).log_prob(xs).sum(-1)

    for k in (1, 9):
        est = iwae_log_likelihood(x, post_mu, post_var.log().expand_as(post_mu), log_likelihood, k, chunk_size=4,
                                  prior_log_prob=prior.log_prob)
        torch.testing.assert_close(est, log_px, rtol=0, atol=1e-9)


def test_fit_recovers_a_known_mixture_and_raises_the_codes_likelihood() -> None:
    truth = _known_mixture(latent=2, components=2, seed=3)
    torch.manual_seed(0)
    codes = truth.sample(6000)
    prior = MixturePrior(2, 2).double()
    before = prior.log_prob(codes).mean()
    prior.fit(codes, seed=0)
    assert int(prior.fitted_to) == 6000
    order_fit, order_true = prior.means[:, 0].argsort(), truth.means[:, 0].argsort()
    torch.testing.assert_close(prior.means[order_fit], truth.means[order_true], rtol=0, atol=0.15)
    torch.testing.assert_close(prior.log_weights.exp()[order_fit], truth.log_weights.exp()[order_true], rtol=0,
                               atol=0.03)
    # EM is the M-step of the ELBO's prior term: the codes' mean log p(z) rises to (about) the truth's
    after, best = prior.log_prob(codes).mean(), truth.log_prob(codes).mean()
    assert after > before + 1.0 and after >= best - 0.01


def test_samples_follow_the_mixture() -> None:
    prior = _known_mixture()
    torch.manual_seed(0)
    draws = prior.sample(100_000)
    weights = prior.log_weights.exp()
    mean = (weights[:, None] * prior.means).sum(0)
    covariances = prior.scale_tril @ prior.scale_tril.transpose(-1, -2)
    centred = prior.means - mean
    covariance = (weights[:, None, None] * (covariances + centred[:, :, None] * centred[:, None, :])).sum(0)
    se = (torch.diagonal(covariance) / len(draws)).sqrt()
    assert ((draws.mean(0) - mean).abs() < Z * se).all()
    torch.testing.assert_close(torch.cov(draws.T), covariance, rtol=0.05, atol=0.05)


def test_fewer_codes_than_components_leave_the_rest_without_weight() -> None:
    prior = MixturePrior(2, 10)
    prior.fit(torch.randn(6, 2, dtype=F64), seed=0)  # EM fits at most 3 components to 6 codes
    weights = prior.log_weights.exp()
    assert torch.isfinite(prior.log_prob(torch.randn(5, 2))).all()
    assert (weights > 1e-6).sum() == 3 and abs(float(weights.sum()) - 1) < 1e-5


def _trainer(tmp_path, epochs: int = 2, **kwargs) -> Trainer:
    settings = {"limit_train_batches": 3, "limit_val_batches": 1, "limit_test_batches": 1, **kwargs}
    return Trainer(accelerator="cpu", max_epochs=epochs, logger=False, default_root_dir=tmp_path,
                   enable_progress_bar=False, enable_model_summary=False, **settings)


def test_the_vae_refits_its_mixture_prior_while_fitting_and_keeps_it_in_the_checkpoint(tmp_path) -> None:
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden_dims=[16], prior="mixture", prior_components=3, iw_samples=5)
    checkpoint = ModelCheckpoint(dirpath=tmp_path, monitor="val/nll_iw", save_last=True)
    data = DigitsDataModule()
    trainer = _trainer(tmp_path, callbacks=[checkpoint])
    trainer.fit(model, datamodule=data)
    assert int(model.prior.fitted_to) == len(data.raw_split("train"))  # refit before the last validation
    out = model(model.prepare(data.raw_split("val")[:8]))
    # the loss's KL is the sampled one against the mixture
    q = Normal(out.mu, (0.5 * out.log_var).exp()).log_prob(out.z).sum(-1)
    torch.testing.assert_close(out.kl, q - model.prior.log_prob(out.z), rtol=1e-5, atol=1e-4)

    loaded = load(checkpoint.last_model_path)
    for name in ("log_weights", "means", "scale_tril", "fitted_to"):
        torch.testing.assert_close(getattr(loaded.prior, name), getattr(model.prior, name))
    assert loaded.sample(4).shape == (4, 1, 8, 8)
    # validating or testing a checkpoint scores its prior as saved: no refit outside fit
    saved = loaded.prior.means.clone()
    _trainer(tmp_path).validate(loaded, datamodule=data, verbose=False)
    torch.testing.assert_close(loaded.prior.means, saved)


def test_a_mixture_prior_needs_a_lit_gen_datamodule(tmp_path) -> None:
    model = VAE(latent_dim=2, hidden_dims=[16], prior="mixture")
    loader = torch.utils.data.DataLoader(DigitsDataModule().raw_split("train")[:32], batch_size=16)
    with pytest.raises(LitGenError, match="prior=mixture is fitted to the training split"):
        _trainer(tmp_path).fit(model, train_dataloaders=loader)


class _IdentityEncoder:
    """encode(x) = N(x, 0.01²): the codes are the examples, up to a little noise."""

    device = torch.device("cpu")

    def prepare(self, raw: Tensor) -> Tensor:
        return raw.float()

    def encode(self, x: Tensor) -> Normal:
        return Normal(x, torch.full_like(x, 0.01))


def test_codes_come_from_a_seeded_random_subset_not_the_first_examples() -> None:
    # an image folder lists its images class by class: the first half here is "class 0", the second "class 1"
    raw = torch.cat([torch.zeros(600, 1), torch.ones(600, 1)])
    codes = aggregate_posterior_codes(_IdentityEncoder(), raw, max_examples=200, batch_size=64, seed=3)
    assert codes.shape == (200, 1)
    share_of_class_1 = float((codes > 0.5).double().mean())
    assert 0.35 < share_of_class_1 < 0.65
    again = aggregate_posterior_codes(_IdentityEncoder(), raw, max_examples=200, batch_size=64, seed=3)
    torch.testing.assert_close(codes, again)  # every DDP rank fits the same mixture
    everything = aggregate_posterior_codes(_IdentityEncoder(), raw[:100], max_examples=200, seed=3)
    assert everything.shape == (100, 1)


def test_a_mixture_that_was_never_fitted_is_reported(tmp_path) -> None:
    model = VAE(latent_dim=2, hidden_dims=[16], prior="mixture")
    with pytest.warns(UserWarning, match="prior=mixture was never fitted"):
        _trainer(tmp_path, epochs=1, limit_val_batches=0).fit(model, datamodule=DigitsDataModule())
    assert int(model.prior.fitted_to) == 0



def test_a_standard_normal_vae_still_trains_on_plain_dataloaders(tmp_path) -> None:
    """Only a mixture needs the DataModule's training split: N(0, I) validates on any loaders, as before."""
    model = VAE(latent_dim=2, hidden_dims=[16])
    raw = DigitsDataModule().raw_split("train")
    loader = torch.utils.data.DataLoader(raw[:32], batch_size=16)
    _trainer(tmp_path, epochs=1).fit(model, train_dataloaders=loader, val_dataloaders=loader)
    assert model.trainer.state.finished
