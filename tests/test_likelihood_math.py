"""Every likelihood formula in lit_gen, checked against an independent computation.

References are closed forms, `torch.distributions`, scipy, exhaustive enumeration or numerical quadrature,
never lit_gen's own helpers. Monte Carlo comparisons use fixed seeds and a tolerance of `Z` standard errors
estimated from the samples themselves, so each test fails if the formula it protects is off by a factor, a
sign or a constant (e.g. the −log k of the IWAE estimate), and passes by more than luck when it is right.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from torch import Tensor
from torch.distributions import (
    Bernoulli,
    Categorical,
    Independent,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
    kl_divergence,
)

from lit_gen.data.mixture import GaussianMixture2D
from lit_gen.metrics.likelihood import (
    bits_per_dim,
    diagonal_normal_log_prob,
    iwae_log_likelihood,
    kl_to_standard_normal,
    standard_normal_log_prob,
)
from lit_gen.models import VAE, BernoulliLikelihood, GaussianLikelihood, LearnedGaussianLikelihood

F64 = torch.float64
#: Monte Carlo tolerance in standard errors: a correct formula exceeds it with probability ~6e-5 per
#: comparison (two-sided normal tail), and the seeds are fixed, so the outcome is deterministic anyway.
Z = 4.0


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _mean_se(samples: Tensor, dim: int = 0) -> tuple[Tensor, Tensor]:
    """Sample mean and its standard error along `dim`."""
    return samples.mean(dim), samples.std(dim) / math.sqrt(samples.shape[dim])


# --- 1. the closed-form KL -------------------------------------------------------------------------------


def test_kl_to_standard_normal_matches_torch_and_monte_carlo() -> None:
    mu = 1.5 * torch.randn(6, 3, dtype=F64)
    log_var = torch.randn(6, 3, dtype=F64)
    kl = kl_to_standard_normal(mu, log_var)
    assert kl.shape == (6,)

    q = Normal(mu, (0.5 * log_var).exp())
    prior = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(kl, kl_divergence(q, prior).sum(-1), rtol=1e-12, atol=1e-12)

    # KL = E_q[log q(z) − log p(z)], estimated from 200k samples per example
    z = q.sample((200_000,))
    mean, se = _mean_se((q.log_prob(z) - prior.log_prob(z)).sum(-1))
    assert ((mean - kl).abs() < Z * se).all(), (mean, kl, se)
    assert (kl > 10 * Z * se).all()  # the KLs are far from 0, so a scale error could not hide in the tolerance


def test_kl_is_zero_only_at_the_prior() -> None:
    zeros = torch.zeros(2, 5, dtype=F64)
    assert kl_to_standard_normal(zeros, zeros).abs().max() == 0
    # one unit of mean in one dimension costs ½ nat; σ² = e in one dimension costs ½(e − 2)
    one_hot = torch.zeros(1, 5, dtype=F64)
    one_hot[0, 0] = 1.0
    torch.testing.assert_close(kl_to_standard_normal(one_hot, zeros[:1]), torch.tensor([0.5], dtype=F64))
    torch.testing.assert_close(kl_to_standard_normal(zeros[:1], one_hot), torch.tensor([0.5 * (math.e - 2)], dtype=F64))


def test_normal_log_prob_helpers_match_torch() -> None:
    z = 2 * torch.randn(7, 4, dtype=F64)
    mu, log_var = torch.randn(7, 4, dtype=F64), torch.randn(7, 4, dtype=F64)
    torch.testing.assert_close(standard_normal_log_prob(z), Normal(0.0, 1.0).log_prob(z).sum(-1))
    torch.testing.assert_close(
        diagonal_normal_log_prob(z, mu, log_var), Normal(mu, (0.5 * log_var).exp()).log_prob(z).sum(-1)
    )


# --- 2. decoder likelihoods ------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.25, 0.1, 2.0])
def test_gaussian_log_prob_matches_hand_formula_and_torch(sigma: float) -> None:
    lik = GaussianLikelihood(sigma)
    lik.bind((2, 3, 4), 17)
    dims = 2 * 3 * 4
    decoded, x = torch.rand(5, 2, 3, 4, dtype=F64), torch.rand(5, 2, 3, 4, dtype=F64)
    got = lik.log_prob(decoded, x)
    assert got.shape == (5,)
    by_hand = -(x - decoded).square().flatten(1).sum(1) / (2 * sigma**2) - dims * math.log(
        math.sqrt(2 * math.pi) * sigma
    )
    # σ is held in float32 (relative error ≤ 6e-8), hence rtol 1e-6 rather than float64 precision
    torch.testing.assert_close(got, by_hand, rtol=1e-6, atol=0)
    torch.testing.assert_close(got, Normal(decoded, sigma).log_prob(x).flatten(1).sum(1), rtol=1e-6, atol=0)


def test_gaussian_rejects_nonpositive_sigma() -> None:
    with pytest.raises(ValueError):
        GaussianLikelihood(0.0)


def test_learned_gaussian_starts_at_init_sigma_and_is_trainable() -> None:
    lik = LearnedGaussianLikelihood(init_sigma=0.3, min_sigma=0.01)
    lik.bind((1, 4, 4), 17)
    assert lik.raw_sigma.shape == ()
    torch.testing.assert_close(lik.sigma(), torch.tensor(0.3), rtol=1e-6, atol=0)
    assert any(p is lik.raw_sigma for p in lik.parameters())

    decoded, x = torch.rand(3, 1, 4, 4), torch.rand(3, 1, 4, 4)
    lp = lik.log_prob(decoded, x)
    torch.testing.assert_close(lp, Normal(decoded, 0.3).log_prob(x).flatten(1).sum(1), rtol=1e-5, atol=1e-5)
    lp.sum().backward()
    assert lik.raw_sigma.grad is not None and lik.raw_sigma.grad.abs() > 0

    no_floor = LearnedGaussianLikelihood(init_sigma=0.2, min_sigma=0.0)
    no_floor.bind((3,), None)
    torch.testing.assert_close(no_floor.sigma(), torch.tensor(0.2), rtol=1e-6, atol=0)


def test_learned_gaussian_sigma_is_floor_plus_softplus() -> None:
    lik = LearnedGaussianLikelihood(init_sigma=0.5, min_sigma=0.05)
    lik.bind((4,), None)
    with torch.no_grad():
        lik.raw_sigma.fill_(-1e4)  # softplus → 0: σ sits on the floor, never below it
    assert lik.sigma().item() == pytest.approx(0.05, rel=1e-6)
    with torch.no_grad():
        lik.raw_sigma.fill_(-30.0)
    assert lik.sigma().item() >= 0.05 and lik.sigma().item() == pytest.approx(0.05, rel=1e-6)
    with torch.no_grad():
        lik.raw_sigma.fill_(2.0)
    assert lik.sigma().item() == pytest.approx(0.05 + math.log1p(math.exp(2.0)), rel=1e-6)


def test_learned_gaussian_per_dimension() -> None:
    shape = (2, 3, 3)
    lik = LearnedGaussianLikelihood(init_sigma=0.2, per_dimension=True, min_sigma=1e-3)
    lik.bind(shape, 17)
    assert lik.raw_sigma.shape == shape
    assert lik.sigma().shape == shape
    torch.testing.assert_close(lik.sigma(), torch.full(shape, 0.2), rtol=1e-6, atol=0)

    with torch.no_grad():
        lik.raw_sigma.copy_(torch.randn(shape))  # σ now differs by dimension
    sigma = lik.sigma().detach()
    assert sigma.std() > 0.1
    decoded, x = torch.rand(4, *shape), torch.rand(4, *shape)
    reference = Normal(decoded, sigma.expand_as(decoded)).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(lik.log_prob(decoded, x), reference, rtol=1e-5, atol=1e-4)


def test_learned_gaussian_rejects_init_below_floor() -> None:
    with pytest.raises(ValueError):
        LearnedGaussianLikelihood(init_sigma=0.01, min_sigma=0.01)


def test_bernoulli_log_prob_matches_torch_and_normalises() -> None:
    lik = BernoulliLikelihood()
    lik.bind((1, 4, 4), 2)
    logits = 3 * torch.randn(6, 1, 4, 4, dtype=F64)
    x = torch.bernoulli(torch.full((6, 1, 4, 4), 0.5, dtype=F64))
    torch.testing.assert_close(lik.log_prob(logits, x), Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1))

    # a mass function: summed over all 2^D binary images it is 1
    small = BernoulliLikelihood()
    small.bind((4,), 2)
    images = torch.tensor([[(i >> j) & 1 for j in range(4)] for i in range(16)], dtype=F64)
    logit = 2 * torch.randn(1, 4, dtype=F64).expand(16, 4)
    assert torch.logsumexp(small.log_prob(logit, images), 0).abs() < 1e-12


def test_bernoulli_prepare_and_offset() -> None:
    grey = BernoulliLikelihood()
    grey.bind((1, 2, 2), 17)
    raw = torch.tensor([0.0, 4.0, 8.0, 16.0]).view(1, 1, 2, 2)
    torch.testing.assert_close(grey.prepare(raw), raw / 16)
    assert grey.discrete_nats_offset() is None

    binary = BernoulliLikelihood(binarize=True, eval_seed=3)
    binary.bind((1, 8, 8), 17)
    binary.eval()
    raw = torch.randint(0, 17, (50, 1, 8, 8)).float()
    first, second = binary.prepare(raw), binary.prepare(raw)
    assert torch.equal(first, second)  # eval binarisation is fixed by the seed
    assert set(first.unique().tolist()) <= {0.0, 1.0}
    assert binary.discrete_nats_offset() == 0.0
    with pytest.raises(ValueError):
        BernoulliLikelihood().bind((2,), None)


# --- 3. dequantisation and bits per dimension ------------------------------------------------------------


def test_dequantisation_puts_each_level_uniformly_in_its_own_bin() -> None:
    levels, per_level = 17, 4000
    lik = GaussianLikelihood(0.2)
    lik.bind((1, 8, 8), levels)
    raw = torch.arange(levels).repeat(per_level).to(torch.uint8)
    x = lik.prepare(raw)
    assert x.dtype == torch.float32
    assert (x >= 0).all() and (x < 1).all()
    k = raw.double()
    xd = x.double()
    assert (xd >= k / levels).all() and (xd < (k + 1) / levels).all()

    # the offset within the bin is U[0, 1): mean ½ (se √(1/12 / n)), variance 1/12 (se √(1/180 / n))
    u = xd * levels - k
    n = u.numel()
    assert abs(u.mean().item() - 0.5) < Z * math.sqrt(1 / 12 / n)
    assert abs(u.var().item() - 1 / 12) < Z * math.sqrt(1 / 180 / n)
    assert not torch.equal(x, lik.prepare(raw))  # fresh noise on every call

    assert lik.discrete_nats_offset() == pytest.approx(64 * math.log(17), rel=1e-12)


def test_no_dequantisation_and_continuous_data() -> None:
    plain = GaussianLikelihood(0.2, dequantize=False)
    plain.bind((1, 8, 8), 17)
    raw = torch.arange(17).float()
    torch.testing.assert_close(plain.prepare(raw), raw / 16)  # 0 → 0, 16 → 1
    assert plain.discrete_nats_offset() is None

    continuous = GaussianLikelihood(0.2)
    continuous.bind((2,), None)
    points = torch.randn(10, 2)
    assert torch.equal(continuous.prepare(points), points)
    assert continuous.discrete_nats_offset() is None


def test_dequantisation_upper_edge_is_excluded(monkeypatch: pytest.MonkeyPatch) -> None:
    levels = 17
    lik = GaussianLikelihood(0.2)
    lik.bind((levels,), levels)
    largest_below_one = torch.nextafter(torch.tensor(1.0), torch.tensor(0.0)).item()  # torch.rand's maximum
    monkeypatch.setattr(torch, "rand", lambda shape, **kwargs: torch.full(shape, largest_below_one, **kwargs))
    x = lik.prepare(torch.arange(levels).float())
    assert (x < 1).all()
    assert (x.double() < (torch.arange(levels, dtype=F64) + 1) / levels).all()


def test_bits_per_dim_of_uniform_model_is_log2_levels() -> None:
    for levels in (2, 17, 256):
        lik = GaussianLikelihood(0.2)
        lik.bind((3, 4, 4), levels)
        bpd = bits_per_dim(torch.zeros(5, dtype=F64), lik.num_dims, lik.discrete_nats_offset())
        torch.testing.assert_close(bpd, torch.full((5,), math.log2(levels), dtype=F64))


def test_bits_per_dim_of_bin_constant_density_is_the_discrete_code_length() -> None:
    # a density constant on each bin, p(x) = Π levels·P(kᵢ), dequantises P exactly: the bound is tight
    levels, dims = 17, 64
    probs = torch.distributions.Dirichlet(torch.ones(levels, dtype=F64)).sample()
    images = Categorical(probs).sample((8, dims))
    nll_continuous = -(levels * probs[images]).log().sum(1)
    expected_bits = -probs[images].log2().sum(1) / dims
    torch.testing.assert_close(bits_per_dim(nll_continuous, dims, dims * math.log(levels)), expected_bits)


# --- 4. IWAE on a linear-Gaussian model, where log p(x) and the posterior are exact -----------------------


def _linear_gaussian(batch: int = 4) -> SimpleNamespace:
    """z ~ N(0, I_d), x|z ~ N(Wz + b, σ²I_D), W = Q·diag(s) with orthonormal Q so the posterior is diagonal."""
    gen = torch.Generator().manual_seed(1234)
    latent, data, sigma = 3, 5, 0.5
    q, _ = torch.linalg.qr(torch.randn(data, latent, dtype=F64, generator=gen))
    w = q * torch.tensor([2.0, 1.0, 0.5], dtype=F64)
    b = torch.randn(data, dtype=F64, generator=gen)
    z = torch.randn(batch, latent, dtype=F64, generator=gen)
    x = z @ w.T + b + sigma * torch.randn(batch, data, dtype=F64, generator=gen)

    log_px = MultivariateNormal(b, w @ w.T + sigma**2 * torch.eye(data, dtype=F64)).log_prob(x)
    post_cov = torch.linalg.inv(torch.eye(latent, dtype=F64) + w.T @ w / sigma**2)
    post_mu = (x - b) @ w @ post_cov / sigma**2  # Σ_post Wᵀ(x − b)/σ², row-wise (Σ_post is symmetric)

    def log_likelihood(z: Tensor, xs: Tensor) -> Tensor:
        return Normal(z @ w.T + b, sigma).log_prob(xs).sum(-1)

    return SimpleNamespace(
        w=w, b=b, sigma=sigma, x=x, log_px=log_px, post_cov=post_cov, post_mu=post_mu,
        post_log_var=torch.diagonal(post_cov).log().expand(batch, latent), log_likelihood=log_likelihood,
    )


def _shifted_q(m: SimpleNamespace, shift: float = 2.0, scale: float = 1.5) -> tuple[Tensor, Tensor, Tensor]:
    """A deliberately poor diagonal q: the exact posterior moved by `shift` posterior sds and widened by
    `scale`. Also returns χ²(posterior ‖ q) = E_q[(p(z|x)/q(z))²] − 1, the variance of the normalised
    importance weight, from ∫p²/q = r²/√(2r² − 1)·exp(δ²/(2r² − 1)) per dimension."""
    mu = m.post_mu + shift * (0.5 * m.post_log_var).exp()
    log_var = m.post_log_var + 2 * math.log(scale)
    latent = mu.shape[1]
    chi2 = (scale**2 / math.sqrt(2 * scale**2 - 1) * math.exp(shift**2 / (2 * scale**2 - 1))) ** latent - 1
    return mu, log_var, chi2


def _analytic_elbo(m: SimpleNamespace, mu: Tensor, log_var: Tensor) -> Tensor:
    """E_q[log p(x|z)] − KL(q ‖ N(0, I)) in closed form for the linear-Gaussian model."""
    var = log_var.exp()
    residual = (m.x - mu @ m.w.T - m.b).square().sum(-1)
    trace = (var * m.w.square().sum(0)).sum(-1)  # tr(W diag(v) Wᵀ)
    data = m.x.shape[1]
    expected_log_lik = -(residual + trace) / (2 * m.sigma**2) - 0.5 * data * math.log(2 * math.pi * m.sigma**2)
    kl = kl_divergence(Normal(mu, var.sqrt()), Normal(0.0, 1.0)).sum(-1)
    return expected_log_lik - kl


def _iwae_repeats(m: SimpleNamespace, mu: Tensor, log_var: Tensor, k: int, repeats: int) -> Tensor:
    """`repeats` independent k-sample estimates per example, shaped (repeats, batch), in one batched call."""
    est = iwae_log_likelihood(
        m.x.repeat(repeats, 1), mu.repeat(repeats, 1), log_var.repeat(repeats, 1), m.log_likelihood, k,
        chunk_size=1000,
    )
    return est.view(repeats, len(m.x))


def test_linear_gaussian_reference_is_self_consistent() -> None:
    m = _linear_gaussian()
    off_diagonal = m.post_cov - torch.diag(torch.diagonal(m.post_cov))
    assert off_diagonal.abs().max() < 1e-12
    # Bayes: log p(x) = log p(x|z) + log p(z) − log p(z|x) at any z
    z = torch.randn_like(m.post_mu)
    post = MultivariateNormal(m.post_mu, m.post_cov)
    bayes = m.log_likelihood(z, m.x) + Normal(0.0, 1.0).log_prob(z).sum(-1) - post.log_prob(z)
    torch.testing.assert_close(bayes, m.log_px, rtol=0, atol=1e-10)
    # and log p(x) − ELBO(q) = KL(q ‖ p(z|x))
    mu, log_var, _ = _shifted_q(m)
    gap = kl_divergence(Normal(mu, (0.5 * log_var).exp()), Normal(m.post_mu, (0.5 * m.post_log_var).exp()))
    torch.testing.assert_close(m.log_px - _analytic_elbo(m, mu, log_var), gap.sum(-1), rtol=0, atol=1e-10)


@pytest.mark.parametrize(("k", "chunk_size"), [(1, 100), (7, 3), (100, 100), (1000, 64)])
def test_iwae_with_exact_posterior_is_exact_for_every_k(k: int, chunk_size: int) -> None:
    # with q = p(z|x) every weight equals p(x): zero variance, so any k (and any chunking) gives log p(x)
    m = _linear_gaussian()
    est = iwae_log_likelihood(m.x, m.post_mu, m.post_log_var, m.log_likelihood, k, chunk_size=chunk_size)
    assert est.shape == (len(m.x),)
    torch.testing.assert_close(est, m.log_px, rtol=0, atol=1e-9)


def test_iwae_with_one_sample_is_unbiased_for_the_elbo() -> None:
    m = _linear_gaussian()
    mu, log_var, _ = _shifted_q(m)
    elbo = _analytic_elbo(m, mu, log_var)
    assert (m.log_px - elbo > 5).all()  # q is poor enough that the ELBO and log p(x) are far apart

    mean, se = _mean_se(_iwae_repeats(m, mu, log_var, k=1, repeats=20_000))
    assert ((mean - elbo).abs() < Z * se).all(), (mean - elbo, se)


def test_iwae_bound_rises_with_k_and_stays_below_log_px() -> None:
    m = _linear_gaussian()
    mu, log_var, _ = _shifted_q(m)
    means, ses = [], []
    for k, repeats in [(1, 20_000), (10, 4_000), (100, 1_000), (1000, 200)]:
        # pool the examples: gap_r = mean over the batch of (estimate − log p(x)), one value per repeat
        gap = (_iwae_repeats(m, mu, log_var, k, repeats) - m.log_px).mean(1)
        mean, se = _mean_se(gap)
        assert mean < Z * se, f"k={k}: E[log p̂(x)] exceeds log p(x) by {mean:.4f} (se {se:.4f})"
        means.append(mean)
        ses.append(se)
    for i in range(len(means) - 1):
        rise, se = means[i + 1] - means[i], math.hypot(ses[i], ses[i + 1])
        assert rise > Z * se, f"bound did not rise significantly from step {i}: {rise:.4f} (se {se:.4f})"


def test_iwae_converges_to_log_px_for_large_k() -> None:
    m = _linear_gaussian()
    mu, log_var, chi2 = _shifted_q(m)
    k, repeats = 5000, 50
    gap = (_iwae_repeats(m, mu, log_var, k, repeats) - m.log_px).mean(1)
    mean, se = _mean_se(gap)
    # E[log p̂] ≈ log p(x) − χ²/(2k) (delta method): allow that bias plus Z standard errors
    bias = chi2 / (2 * k)
    assert abs(mean.item()) < Z * se.item() + bias, (mean, se, bias)
    assert Z * se.item() + bias < 0.05  # the tolerance is small next to the k = 1 gap of > 5 nats


# --- 5. the VAE ------------------------------------------------------------------------------------------


def _vae(**kwargs) -> VAE:
    return VAE(data_shape=(1, 8, 8), levels=17, latent_dim=4, hidden_dims=[32],
               likelihood=GaussianLikelihood(0.2), **kwargs)


def test_vae_output_terms() -> None:
    model = _vae(beta=0.5)
    x = model.prepare(torch.randint(0, 17, (16, 1, 8, 8)).float())
    out = model(x)
    torch.testing.assert_close(out.elbo, -(out.recon + out.kl), rtol=0, atol=0)
    torch.testing.assert_close(out.loss, (out.recon + 0.5 * out.kl).mean())
    assert out.recon.shape == out.kl.shape == (16,)

    mu, log_var = model.posterior_params(x)
    torch.testing.assert_close(out.mu, mu)
    torch.testing.assert_close(out.log_var, log_var)
    kl = kl_divergence(Normal(mu, (0.5 * log_var).exp()), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(out.kl, kl, rtol=1e-5, atol=1e-5)
    recon = -Normal(out.decoded, 0.2).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(out.recon, recon, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(out.decoded, model.decoder(out.z))


def test_beta_warmup(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _vae(beta=2.0, beta_warmup_steps=10)
    assert model.global_step == 0  # no trainer attached
    assert model.current_beta() == 0.0
    x = model.prepare(torch.randint(0, 17, (8, 1, 8, 8)).float())
    out = model(x)
    torch.testing.assert_close(out.loss, out.recon.mean())  # β = 0: the KL does not enter the loss

    for step, beta in [(5, 1.0), (10, 2.0), (25, 2.0)]:
        monkeypatch.setattr(VAE, "global_step", property(lambda self, step=step: step))
        assert model.current_beta() == pytest.approx(beta)
    assert _vae(beta=0.7).current_beta() == 0.7


@torch.no_grad()
def test_vae_importance_sampled_likelihood_rises_with_k_from_the_elbo() -> None:
    model = _vae().eval()
    batch = 4
    x = model.prepare(torch.randint(0, 17, (batch, 1, 8, 8)).float())

    repeats = 2000
    elbo, elbo_se = _mean_se(model(x.repeat(repeats, 1, 1, 1)).elbo.view(repeats, batch).mean(1))
    means, ses = [], []
    for k, repeats in [(1, 2000), (10, 500), (100, 100), (1000, 20)]:
        est = model.log_marginal_likelihood(x.repeat(repeats, 1, 1, 1), num_samples=k).view(repeats, batch)
        mean, se = _mean_se(est.mean(1))
        means.append(mean)
        ses.append(se)
        assert mean > elbo - Z * math.hypot(se, elbo_se), f"k={k}: {mean:.3f} below the ELBO {elbo:.3f}"
    # one importance sample is an unbiased estimate of the ELBO (sampled instead of closed-form KL)
    assert abs(means[0] - elbo) < Z * math.hypot(ses[0], elbo_se)
    for i in range(len(means) - 1):
        assert means[i + 1] - means[i] > Z * math.hypot(ses[i], ses[i + 1])


# --- the 2D mixtures' exact density ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mixture", "half_width"),
    [(GaussianMixture2D.ring(radius=1.0, std=0.1), 2.0), (GaussianMixture2D.grid(), 5.5)],
    ids=["ring", "grid"],
)
def test_mixture_density_integrates_to_one(mixture: GaussianMixture2D, half_width: float) -> None:
    # the trapezoid/Riemann sum of a Gaussian on a grid of step h errs by ~exp(−2π²std²/h²) (Poisson
    # summation): with h = std/3 that is ~e^-177; the box leaves ≥ 10 std of margin round every mode
    h = mixture.std / 3
    axis = torch.arange(-half_width, half_width + h / 2, h, dtype=F64)
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([xs.flatten(), ys.flatten()], dim=1)
    mass = sum(mixture.log_prob(chunk).exp().sum() for chunk in points.split(200_000)) * h**2
    assert abs(mass.item() - 1) < 1e-9


@pytest.mark.parametrize(
    "mixture",
    [GaussianMixture2D.ring(), GaussianMixture2D.ring(modes=5, radius=2.0, std=0.3), GaussianMixture2D.grid()],
    ids=["ring", "ring5", "grid"],
)
def test_mixture_log_prob_matches_references(mixture: GaussianMixture2D) -> None:
    stats = pytest.importorskip("scipy.stats")
    special = pytest.importorskip("scipy.special")
    near = mixture.sample(200, torch.Generator().manual_seed(0)).double()
    far = 6 * torch.rand(50, 2, dtype=F64) - 3  # thousands of nats down: needs a stable log-sum-exp
    x = torch.cat([near, far])
    got = mixture.log_prob(x)
    assert got.dtype == F64 and torch.isfinite(got).all()

    m = mixture.num_modes
    components = Independent(Normal(mixture.means, torch.full_like(mixture.means, mixture.std)), 1)
    reference = MixtureSameFamily(Categorical(logits=torch.zeros(m, dtype=F64)), components)
    torch.testing.assert_close(got, reference.log_prob(x), rtol=1e-10, atol=1e-8)

    per_mode = torch.stack([
        torch.from_numpy(stats.multivariate_normal(mean.numpy(), mixture.std**2).logpdf(x.numpy()))
        for mean in mixture.means
    ], dim=1)
    scipy_ref = torch.from_numpy(special.logsumexp(per_mode.numpy(), axis=1)) - math.log(m)
    torch.testing.assert_close(got, scipy_ref, rtol=1e-10, atol=1e-8)


def test_mixture_samples_follow_the_density() -> None:
    mixture = GaussianMixture2D.ring(modes=8, radius=1.0, std=0.05)
    n = 40_000
    x = mixture.sample(n, torch.Generator().manual_seed(1)).double()
    nearest = torch.cdist(x, mixture.means).argmin(1)
    residual = (x - mixture.means[nearest]) / mixture.std  # modes are 15 std apart: nearest = source
    # each coordinate is N(0, 1): variance 1 with se √(2/2n); each mode has n/8 points, se √(n·⅛·⅞)
    assert abs(residual.var().item() - 1) < Z * math.sqrt(2 / (2 * n))
    counts = torch.bincount(nearest, minlength=8).double()
    assert ((counts - n / 8).abs() < Z * math.sqrt(n / 8 * 7 / 8)).all()
