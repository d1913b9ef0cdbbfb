"""LightningModules: each holds an objective and an update rule over the shared networks."""

from lit_gen.models.base import GenerativeModel
from lit_gen.models.discretized import DiscretizedLogisticLikelihood, PredictedGaussianLikelihood
from lit_gen.models.gan import GAN
from lit_gen.models.likelihoods import (
    BernoulliLikelihood,
    GaussianLikelihood,
    LearnedGaussianLikelihood,
    Likelihood,
)
from lit_gen.models.vae import VAE, VAEOutput

__all__ = [
    "GAN",
    "VAE",
    "BernoulliLikelihood",
    "DiscretizedLogisticLikelihood",
    "GaussianLikelihood",
    "GenerativeModel",
    "LearnedGaussianLikelihood",
    "Likelihood",
    "PredictedGaussianLikelihood",
    "VAEOutput",
]
