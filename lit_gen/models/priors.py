"""The VAE's prior p(z): the standard normal of the theory, or a Gaussian mixture fitted to the aggregate posterior.

Why a second prior. A VAE trained against N(0, I) leaves "holes": regions where the prior puts mass but no training
image's posterior q(z|x) does, and whose decodings are not images. Its prior samples are then much worse than its
reconstructions (on the Fashion-MNIST development set, prior FID 16 against 3–6 for codes drawn near the data).

Why this one. The prior enters the ELBO only through E_x E_{q(z|x)} log p(z): the expected log-likelihood of codes
drawn from the aggregate posterior q(z) = E_x q(z|x). Fitting a mixture to such codes by maximum likelihood (EM) is
therefore the ELBO's M-step over the prior, with the encoder and decoder held fixed. `MixturePrior.fit` takes that
step; the VAE takes it before every validation during `fit` (`VAE(prior="mixture")`). Tomczak & Welling (2018)
learn a mixture prior by gradient instead; Ghosh et al. (2020) fit one once after training, as lit_gen's `fid_gmm`
does. Taken during training, the step keeps one model: what is checkpointed, scored (`nll_iw` and `bpd` use the
mixture's log p(z)) and sampled is the same p(z) p(x|z).

The price: KL(q(z|x) ‖ mixture) has no closed form, so the mixture's `kl` is the one-sample Monte Carlo estimate
log q(z|x) − log p(z) at the reparameterised z (unbiased; the standard normal's stays closed-form).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.distributions import MultivariateNormal

from lit_gen.metrics.likelihood import diagonal_normal_log_prob, kl_to_standard_normal, standard_normal_log_prob

PriorName = Literal["standard_normal", "mixture"]


class StandardNormalPrior(nn.Module):
    """p(z) = N(0, I), with the closed-form KL."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim

    def log_prob(self, z: Tensor) -> Tensor:
        return standard_normal_log_prob(z)

    def kl(self, z: Tensor, mu: Tensor, log_var: Tensor) -> Tensor:
        """KL(N(μ, diag σ²) ‖ N(0, I)) per example, in closed form (`z` is not needed)."""
        return kl_to_standard_normal(mu, log_var)

    def sample(self, num: int, device: torch.device | str = "cpu") -> Tensor:
        return torch.randn(num, self.latent_dim, device=device)

    def describe(self) -> dict[str, Any]:
        return {"latent": "N(0, I)"}


class MixturePrior(nn.Module):
    """p(z) = Σ_k w_k N(m_k, L_k L_kᵀ), full covariances; until its first `fit`, K copies of N(0, I) (so exactly
    the standard normal). The parameters are buffers: checkpoints carry them, the optimizer does not touch them.

    Args:
        latent_dim: size of z.
        num_components: K.
    """

    def __init__(self, latent_dim: int, num_components: int = 10) -> None:
        super().__init__()
        if num_components < 1:
            raise ValueError(f"prior_components={num_components} must be at least 1")
        self.latent_dim = latent_dim
        self.num_components = num_components
        self.register_buffer("log_weights", torch.full((num_components,), -math.log(num_components)))
        self.register_buffer("means", torch.zeros(num_components, latent_dim))
        self.register_buffer("scale_tril", torch.eye(latent_dim).repeat(num_components, 1, 1))
        self.register_buffer("fitted_to", torch.zeros((), dtype=torch.long))  # codes of the last fit (0: never)

    def _components(self) -> MultivariateNormal:
        return MultivariateNormal(self.means, scale_tril=self.scale_tril, validate_args=False)

    def log_prob(self, z: Tensor) -> Tensor:
        """log p(z) over the last dimension of z, any leading shape."""
        per_component = self._components().log_prob(z.unsqueeze(-2))  # (..., K)
        return torch.logsumexp(per_component + self.log_weights, dim=-1)

    def kl(self, z: Tensor, mu: Tensor, log_var: Tensor) -> Tensor:
        """KL(q(z|x) ‖ p(z)) per example, estimated by log q(z|x) − log p(z) at the one draw z ~ q(z|x)."""
        return diagonal_normal_log_prob(z, mu, log_var) - self.log_prob(z)

    def sample(self, num: int, device: torch.device | str | None = None) -> Tensor:
        """`num` draws, on the device of the buffers (the model's)."""
        which = torch.multinomial(self.log_weights.exp(), num, replacement=True)
        eps = torch.randn(num, self.latent_dim, 1, device=self.means.device, dtype=self.means.dtype)
        return self.means[which] + (self.scale_tril[which] @ eps).squeeze(-1)

    @torch.no_grad()
    def fit(self, codes: Tensor, seed: int = 0) -> None:
        """Maximum-likelihood mixture of `codes` (n, latent) by EM (scikit-learn), into this prior's buffers."""
        weights, means, covariances = fit_gaussian_mixture(codes, self.num_components, seed)
        if len(weights) < self.num_components:  # fewer than 2K codes: the components EM could not fit get no weight
            pad = self.num_components - len(weights)
            weights = np.concatenate([weights, np.full(pad, 1e-30)])
            means = np.concatenate([means, np.zeros((pad, self.latent_dim))])
            identities = np.broadcast_to(np.eye(self.latent_dim), (pad, self.latent_dim, self.latent_dim))
            covariances = np.concatenate([covariances, identities])
        # Cholesky in float64: a nearly singular component (a collapsed latent dimension) stays positive definite
        self.scale_tril.copy_(torch.linalg.cholesky(torch.as_tensor(covariances)).to(self.scale_tril))
        self.means.copy_(torch.as_tensor(means).to(self.means))
        self.log_weights.copy_(torch.as_tensor(weights).log().to(self.log_weights))
        self.fitted_to.fill_(len(codes))

    def describe(self) -> dict[str, Any]:
        fitted = int(self.fitted_to)
        return {"latent": f"Gaussian mixture, {self.num_components} components, full covariances",
                "fitted_to": (f"one z ~ q(z|x) for each of {fitted} training examples" if fitted
                              else "not fitted yet: N(0, I)")}


def build_prior(name: PriorName, latent_dim: int, num_components: int = 10) -> nn.Module:
    if name == "standard_normal":
        return StandardNormalPrior(latent_dim)
    if name == "mixture":
        return MixturePrior(latent_dim, num_components)
    raise ValueError(f"prior={name!r}: choose 'standard_normal' or 'mixture'")


@torch.no_grad()
def aggregate_posterior_codes(model, raw: Tensor, max_examples: int = 10_000, batch_size: int = 500,
                              seed: int = 0) -> Tensor:
    """One draw z ~ q(z|x) for each of the raw examples `raw` (a random `max_examples` of them if there are more), in
    float64 on the CPU.

    `model` needs `prepare(raw)` and `encode(x)` (a torch Normal). The subset and the noise come from a generator
    seeded by `seed` alone (not the global RNG), so every DDP rank draws the same codes and training's random stream is
    untouched. A random subset, not the first examples: an image folder lists its images class by class."""
    noise = torch.Generator().manual_seed(seed)
    if len(raw) > max_examples:
        raw = raw[torch.randperm(len(raw), generator=noise)[:max_examples]]
    codes = []
    for start in range(0, len(raw), batch_size):
        posterior = model.encode(model.prepare(raw[start : start + batch_size].to(model.device)))
        eps = torch.randn(posterior.mean.shape, generator=noise).to(posterior.mean.device)
        codes.append((posterior.mean + posterior.stddev * eps).double().cpu())
    return torch.cat(codes)


def fit_gaussian_mixture(codes: Tensor, num_components: int, seed: int = 0, covariance: str = "full"):
    """(weights (K,), means (K, d), covariances (K, d, d)) of a mixture fitted to `codes` by EM, as float64 numpy
    arrays; K is at most half the number of codes."""
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    z = codes.double().cpu().numpy()
    components = max(1, min(num_components, len(z) // 2))
    # EM on a few latent dimensions is thousands of tiny BLAS calls: extra BLAS threads only wait on each other
    with threadpool_limits(limits=1, user_api="blas"):
        gmm = GaussianMixture(components, covariance_type=covariance, random_state=seed, reg_covar=1e-6).fit(z)
    k, d = gmm.means_.shape
    if covariance == "full":
        covariances = gmm.covariances_
    elif covariance == "diag":
        covariances = np.stack([np.diag(c) for c in gmm.covariances_])
    elif covariance == "spherical":
        covariances = np.stack([np.eye(d) * c for c in gmm.covariances_])
    else:  # tied
        covariances = np.broadcast_to(gmm.covariances_, (k, d, d))
    return gmm.weights_ / gmm.weights_.sum(), gmm.means_, np.array(covariances)
