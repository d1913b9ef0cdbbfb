"""Ways to draw images from a trained VAE: from the prior, or from a Gaussian mixture fitted to the aggregate
posterior q(z) = E_x q(z|x) over the training set.

A VAE's decoder only ever saw codes from q(z), which rarely fills N(0, I) evenly (the "holes" of the prior);
decoding codes from a mixture fitted to q(z) (Ghosh et al. 2020, "From variational to deterministic
autoencoders") often gives clearly better samples from the same decoder. A VAE built with `prior="mixture"` makes
such a mixture its own prior (`lit_gen.models.priors`), so its `PriorSampler` already draws from one. Both use only
the VAE's public API: `latent(n)`, `prepare(raw)`, `encode(x)` (a torch Normal), `decode(z)`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from lit_gen.models.priors import aggregate_posterior_codes, fit_gaussian_mixture


class PriorSampler:
    """z ~ p(z), the model's own prior (`model.latent`), decoded: what the model's `sample` does."""

    def __init__(self, model) -> None:
        self.model = model

    @torch.no_grad()
    def sample(self, num: int) -> Tensor:
        return self.model.decode(self.model.latent(num))

    def describe(self) -> dict[str, Any]:
        prior = getattr(self.model, "prior", None)  # a VAE's is a module that describes itself; a GAN's, a name
        return {"sampler": "prior", **(prior.describe() if hasattr(prior, "describe") else {"latent": "N(0, I)"})}


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
        codes = aggregate_posterior_codes(model, raw, max_examples, batch_size, seed)
        weights, means, covariances = fit_gaussian_mixture(codes, num_components, seed, covariance)
        components = MultivariateNormal(torch.as_tensor(means), covariance_matrix=torch.as_tensor(covariances))
        mixture = MixtureSameFamily(Categorical(probs=torch.as_tensor(weights)), components)  # float64
        return cls(model, mixture, len(codes), covariance)

    @torch.no_grad()
    def sample(self, num: int) -> Tensor:
        z = self.mixture.sample((num,)).float().to(self.model.device)
        return self.model.decode(z)

    def describe(self) -> dict[str, Any]:
        return {"sampler": "aggregate_posterior_gmm", "components": self.mixture.mixture_distribution.probs.numel(),
                "covariance": self.covariance, "fitted_to": f"one z ~ q(z|x) for each of {self.num_examples} "
                "training examples"}
