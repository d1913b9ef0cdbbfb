"""Entropy, KL and Jensen–Shannon divergence between the data and a model, in nats, with standard errors.

Maximum likelihood minimises KL(p_data ‖ p_θ) = −H(p_data) − E_data[log p_θ(x)]; a minimax GAN at its optimal
discriminator minimises 2·JSD(p_data ‖ p_g) − log 4 (a non-saturating one does not: `models/gan_losses.py`).
Where the data's density is known exactly (the 2D mixtures), every term is an expectation this module estimates
by Monte Carlo:

| estimate        | definition                                        | samples           |
| --------------- | ------------------------------------------------- | ----------------- |
| `entropy_data`  | H(p_data) = −E_data[log p_data(x)]                | x ~ p_data        |
| `nll`           | −E_data[log p̂_θ(x)] (the cross-entropy)           | x ~ p_data        |
| `kl_data_model` | E_data[log p_data(x) − log p̂_θ(x)] = −H − E_data log p̂_θ | x ~ p_data |
| `kl_model_data` | E_θ[log p̂_θ(y) − log p_data(y)]                   | y ~ p_θ (or p̂_θ)  |
| `jsd`           | ½ E_data[log 2p_data/(p_data + p̂_θ)] + ½ E_θ[log 2p̂_θ/(p_data + p̂_θ)] | both |

Every estimate comes with its standard error: the sample standard deviation of the averaged terms over √n
(for the JSD, of the two independent halves combined). `kl_data_model` averages the paired differences on
the same points, so it equals −entropy_data − E_data[log p̂_θ] exactly, with the much smaller error of
the difference. The error bar covers the Monte Carlo error of these averages only. What it does not cover:

- p̂_θ is an *estimate* of the model's density, and its bias is not in the error bar:
  - a VAE's importance-weighted log p̂_θ (IWAE, k samples) is low in expectation (Jensen: E log p̂ ≤ log p),
    so `kl_data_model` is biased upward (an upper bound on the true KL in expectation) and `kl_model_data`
    downward, each by the mean IWAE gap, which shrinks as k grows; the JSD's bias is of that order, any sign;
  - a kernel density estimate p̂_g of generator samples (`fit_kde`) is p_g smoothed by the kernel, plus the
    noise of a finite sample. The model-side expectations draw their samples from p̂_g itself, so all three
    estimates are divergences between p_data and one distribution, p̂_g (never negative in expectation; a
    JSD from generator samples scored by p̂_g would not be). Their bias is p̂_g ≠ p_g: smoothing inflates the
    generator's entropy; near p_g ≈ p_data smoothing and noise leave a floor (samples of the data itself
    score KL ≈ 0.03 nats either way and JSD ≈ 0.007 on the ring of 8 with 5,000 KDE samples, about twice that
    on the grid of 25, and 2–2.5 times more with 1,000: the KDE's noise, more than its smoothing); where p_g
    misses mass, the kernel's tails cap a KL that may in truth be far larger. The error bar is conditional on
    the fitted KDE: its sampling variability is not in it.
- `entropy_data` uses the exact density: it has no bias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from lit_gen.metrics.kde import DEFAULT_BANDWIDTHS, CrossValidatedKDE


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate and its standard error (nats)."""

    value: float
    se: float

    def as_dict(self, key: str) -> dict[str, float]:
        return {key: self.value, f"{key}_se": self.se}

    def __str__(self) -> str:
        return f"{self.value:.4g} ± {self.se:.2g}"


def mean_with_se(terms: Tensor) -> Estimate:
    """The mean of i.i.d. terms and its standard error std/√n."""
    terms = terms.detach().double().flatten()
    if len(terms) < 2:
        raise ValueError(f"need at least 2 Monte Carlo terms for a standard error, got {len(terms)}")
    return Estimate(float(terms.mean()), float(terms.std() / math.sqrt(len(terms))))


def entropy(log_p: Tensor) -> Estimate:
    """H(p) = −E_p[log p(x)], from log p at samples x ~ p."""
    return mean_with_se(-log_p)


def kl_divergence(log_p: Tensor, log_q: Tensor) -> Estimate:
    """KL(p ‖ q) = E_p[log p(x) − log q(x)], from both log-densities at the same samples x ~ p."""
    return mean_with_se(log_p.double() - log_q.double())


def jensen_shannon(log_p_at_p: Tensor, log_q_at_p: Tensor, log_p_at_q: Tensor, log_q_at_q: Tensor) -> Estimate:
    """JSD(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m), m = (p + q)/2, from both log-densities at samples of p and of q.

    Each term log 2p/(p + q) lies in (−∞, log 2], and the JSD in [0, log 2]."""
    log_m_at_p = torch.logaddexp(log_p_at_p.double(), log_q_at_p.double()) - math.log(2)
    log_m_at_q = torch.logaddexp(log_p_at_q.double(), log_q_at_q.double()) - math.log(2)
    half_p = mean_with_se(log_p_at_p.double() - log_m_at_p)
    half_q = mean_with_se(log_q_at_q.double() - log_m_at_q)
    # the two halves use independent samples, so their variances add
    return Estimate(0.5 * (half_p.value + half_q.value), 0.5 * math.hypot(half_p.se, half_q.se))


def data_model_divergences(
    log_data_at_data: Tensor,
    log_model_at_data: Tensor,
    log_data_at_model: Tensor | None = None,
    log_model_at_model: Tensor | None = None,
) -> dict[str, Estimate]:
    """`entropy_data`, `nll`, `kl_data_model` from log-densities at data points x ~ p_data; with log-densities
    at model samples y (of p_θ, or of p̂_θ when that is a KDE) also `kl_model_data` and `jsd`."""
    estimates = {
        "entropy_data": entropy(log_data_at_data),
        "nll": mean_with_se(-log_model_at_data),
        "kl_data_model": kl_divergence(log_data_at_data, log_model_at_data),
    }
    if log_data_at_model is not None and log_model_at_model is not None:
        estimates["kl_model_data"] = kl_divergence(log_model_at_model, log_data_at_model)
        estimates["jsd"] = jensen_shannon(log_data_at_data, log_model_at_data, log_data_at_model, log_model_at_model)
    return estimates


def discriminator_jsd_bound(log_d_real: Tensor, log_1m_d_fake: Tensor) -> Estimate:
    """(V̂ + log 4)/2 with V̂ = E_data[log D(x)] + E_g[log(1 − D(y))]: a lower bound on JSD(p_data ‖ p_g) in
    expectation for any D with values in (0, 1), tight at D* = p_data/(p_data + p_g). Its terms come from
    independent samples, so their variances add."""
    real, fake = mean_with_se(log_d_real), mean_with_se(log_1m_d_fake)
    return Estimate((real.value + fake.value + math.log(4.0)) / 2, 0.5 * math.hypot(real.se, fake.se))


@dataclass(frozen=True)
class FittedKDE:
    """A Gaussian kernel density estimate: `log_prob(x)` in float64, and how its bandwidth was chosen."""

    kde: object  # sklearn.neighbors.KernelDensity
    points: Tensor  # the samples it was fitted to, (n, d) float64
    bandwidth: float
    num_samples: int
    cv_bandwidth: float
    cv_samples: int

    def log_prob(self, x: Tensor) -> Tensor:
        return torch.from_numpy(self.kde.score_samples(x.detach().double().cpu().numpy()))

    def sample(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """Draws of the KDE itself: a random fitted point plus Gaussian noise of the bandwidth."""
        picks = torch.randint(len(self.points), (num,), generator=generator)
        noise = torch.randn(num, self.points.shape[1], generator=generator, dtype=torch.float64)
        return self.points[picks] + self.bandwidth * noise

    def describe(self) -> dict:
        return {"density": "gaussian_kde", "bandwidth": self.bandwidth, "fitted_to": self.num_samples,
                "bandwidth_selection": f"3-fold cross-validated likelihood on {self.cv_samples} of the samples "
                                       f"(h = {self.cv_bandwidth:.4g}), scaled by (m/n)^(1/(d+4))"}


def fit_kde(samples: Tensor, cv_samples: int = 1000, seed: int = 0,
            bandwidths: np.ndarray = DEFAULT_BANDWIDTHS) -> FittedKDE:
    """A Gaussian KDE of `samples` (n, d), its bandwidth cross-validated on a random subset of `cv_samples`.

    Cross-validation costs grow with n² (scikit-learn scores every candidate bandwidth on every fold), so it
    runs on a subset of m points; the chosen h is then scaled to the full sample by (m/n)^(1/(d+4)), the rate
    at which the best bandwidth shrinks with the sample size, and the KDE keeps all n points (a smaller
    bandwidth and more points: less smoothing bias). Scott's rule is not an option here: it assumes one
    smooth bump and over-smooths the sharp mixtures by an order of magnitude.
    """
    from sklearn.neighbors import KernelDensity

    points = samples.detach().double().cpu()
    n, d = points.shape
    m = min(cv_samples, n)
    subset = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:m]
    cv_bandwidth = CrossValidatedKDE(points[subset], bandwidths=bandwidths, seed=seed).bandwidth
    bandwidth = cv_bandwidth * (m / n) ** (1 / (d + 4))
    kde = KernelDensity(kernel="gaussian", bandwidth=bandwidth).fit(points.numpy())
    return FittedKDE(kde, points, bandwidth, n, cv_bandwidth, m)
