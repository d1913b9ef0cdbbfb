"""Ways to draw images from a trained VAE: from the prior, or from a Gaussian mixture fitted to the aggregate
posterior q(z) = E_x q(z|x) over the training set.

A VAE's decoder only ever saw codes from q(z), which rarely fills N(0, I) evenly (the "holes" of the prior);
decoding codes from a mixture fitted to q(z) (Ghosh et al. 2020, "From variational to deterministic
autoencoders") often gives clearly better samples from the same decoder. Both use only the VAE's public API:
`latent_dim`, `prepare(raw)`, `encode(x)` (a torch Normal), `decode(z)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal


class PriorSampler:
    """z ~ N(0, I), decoded."""

    def __init__(self, model) -> None:
        self.model = model

    @torch.no_grad()
    def sample(self, num: int) -> Tensor:
        return self.model.decode(torch.randn(num, self.model.latent_dim, device=self.model.device))

    def describe(self) -> dict[str, Any]:
        return {"sampler": "prior", "latent": "N(0, I)"}


class AggregatePosteriorSampler:
    """z from a Gaussian mixture fitted (by EM, scikit-learn) to one draw z ~ q(z|x) per training example, decoded.

    Args:
        model: a VAE.
        mixture: the fitted mixture over z (a torch distribution).
        num_examples: training examples the mixture was fitted to.
    """

    def __init__(self, model, mixture: MixtureSameFamily, num_examples: int, covariance: str) -> None:
        self.model = model
        self.mixture = mixture
        self.num_examples = num_examples
        self.covariance = covariance

    @classmethod
    @torch.no_grad()
    def fit(cls, model, raw: Tensor, num_components: int = 10, max_examples: int = 10_000, batch_size: int = 500,
            seed: int = 0, covariance: str = "full") -> AggregatePosteriorSampler:
        """Encode (up to `max_examples` of) `raw` training examples and fit a `num_components` mixture to the codes.

        Seeded by `seed` alone (not the global RNG), so every DDP rank fits the same mixture."""
        from sklearn.mixture import GaussianMixture
        from threadpoolctl import threadpool_limits

        raw = raw[:max_examples]
        noise = torch.Generator().manual_seed(seed)
        codes = []
        for start in range(0, len(raw), batch_size):
            posterior = model.encode(model.prepare(raw[start : start + batch_size].to(model.device)))
            eps = torch.randn(posterior.mean.shape, generator=noise).to(posterior.mean.device)
            codes.append((posterior.mean + posterior.stddev * eps).double().cpu())
        z = torch.cat(codes).numpy()
        components = max(1, min(num_components, len(z) // 2))
        # EM on a few latent dimensions is thousands of tiny BLAS calls: extra BLAS threads only wait on each other
        with threadpool_limits(limits=1, user_api="blas"):
            gmm = GaussianMixture(components, covariance_type=covariance, random_state=seed, reg_covar=1e-6).fit(z)
        return cls(model, _as_torch_mixture(gmm), len(z), covariance)

    @torch.no_grad()
    def sample(self, num: int) -> Tensor:
        z = self.mixture.sample((num,)).float().to(self.model.device)
        return self.model.decode(z)

    def describe(self) -> dict[str, Any]:
        return {"sampler": "aggregate_posterior_gmm", "components": self.mixture.mixture_distribution.probs.numel(),
                "covariance": self.covariance, "fitted_to": f"one z ~ q(z|x) for each of {self.num_examples} "
                "training examples"}


def _as_torch_mixture(gmm) -> MixtureSameFamily:
    """scikit-learn's fitted GaussianMixture as a torch distribution (float64), to sample with torch's RNG."""
    k, d = gmm.means_.shape
    if gmm.covariance_type == "full":
        covariances = gmm.covariances_
    elif gmm.covariance_type == "diag":
        covariances = np.stack([np.diag(c) for c in gmm.covariances_])
    elif gmm.covariance_type == "spherical":
        covariances = np.stack([np.eye(d) * c for c in gmm.covariances_])
    else:  # tied
        covariances = np.broadcast_to(gmm.covariances_, (k, d, d))
    weights = torch.as_tensor(gmm.weights_, dtype=torch.float64)
    components = MultivariateNormal(torch.as_tensor(gmm.means_, dtype=torch.float64),
                                    covariance_matrix=torch.as_tensor(np.array(covariances), dtype=torch.float64))
    return MixtureSameFamily(Categorical(probs=weights / weights.sum()), components)
