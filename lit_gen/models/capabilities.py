"""What a model can do, stated as `typing.Protocol`s: evaluation and callbacks ask `isinstance(model, Samples)`
instead of probing attributes one by one, so a new model gets every evaluation its capabilities allow.

Runtime checks look at names only (a method set to None counts as absent): they say what a model offers, not that
it is right. Each protocol states what its methods promise.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor, nn
from torch.distributions import Normal


@runtime_checkable
class Samples(Protocol):
    """Draws the distribution it models: `sample(num)` gives `num` examples in data space (pixel intensities in
    [0, 1] for images). A GAN with `ema_decay` samples its EMA generator: every number about "the model" is about it.
    """

    def sample(self, num: int) -> Tensor: ...


@runtime_checkable
class Encodes(Protocol):
    """An encoder q(z|x) and a decoder: `prepare(raw)` maps raw examples to the space both work in."""

    latent_dim: int

    def prepare(self, raw: Tensor) -> Tensor: ...

    def encode(self, x: Tensor) -> Normal: ...

    def decode(self, z: Tensor) -> Tensor: ...

    def reconstruct(self, x: Tensor) -> Tensor: ...


@runtime_checkable
class HasDensityBound(Protocol):
    """A density estimate log p̂(x) of prepared examples, low in expectation (the VAE's importance-weighted bound,
    `num_samples` importance samples, default `iw_samples`). `likelihood` is p(x|z), `decode(z)` its mean."""

    iw_samples: int
    latent_dim: int
    likelihood: nn.Module

    def prepare(self, raw: Tensor) -> Tensor: ...

    def decode(self, z: Tensor) -> Tensor: ...

    def log_marginal_likelihood(self, x: Tensor, num_samples: int | None = None) -> Tensor: ...


@runtime_checkable
class GaussianNoise(Protocol):
    """A likelihood p(x|z) = N(x; mean(z), σ²): draws of the model's density are its mean plus σ-noise."""

    def sigma(self) -> Tensor: ...


@runtime_checkable
class Discriminates(Protocol):
    """A GAN's discriminator and the generator it is trained against.

    `discriminator_logit(x)`: one logit per example x in data space, D(x) = sigmoid(logit), meaningful as a
    probability only when `discriminator_is_probability` (a probability loss and one sample per judgement), which is
    when V(D, G), the JSD bound and D* apply. `sample_trained_generator(num)`: samples of the generator D is trained
    against — the raw generator, not the EMA one `sample` draws from."""

    discriminator_is_probability: bool

    def discriminator_logit(self, x: Tensor) -> Tensor: ...

    def sample_trained_generator(self, num: int) -> Tensor: ...
