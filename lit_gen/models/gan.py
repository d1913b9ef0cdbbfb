"""The GAN: min_G max_D V(D, G) = E_data[log D(x)] + E_z[log(1 − D(G(z)))], by alternating minibatch updates.

Manual optimisation: for every batch, `n_critic` discriminator updates (the same real batch, fresh z each time)
then one generator update, each between `toggle_optimizer` and `untoggle_optimizer` so only that network's
parameters take gradients.

Steps: Lightning's `global_step` counts optimizer steps, so one batch advances it by `n_critic + 1`, and
`trainer.max_steps` is measured in those units (`max_steps = batches × (n_critic + 1)`). Epoch-based budgets
(`max_epochs`) are unaffected.

Logged: `train/d_loss`, `train/g_loss` (epoch means); for `minimax` / `non_saturating` with pack = 1 at val/test
`value`, V̂(D, G) on held-out data and as many fresh samples of the raw generator.

Which generator each number describes, with `ema_decay` on: the EMA generator is the model (`sample`, `decode`), so
every key about the model's distribution describes it — the divergences and their `jsd_lower_bound`, the mode
statistics, FID/KID/IS (callbacks, `lit_gen.evaluation`). The two keys about the game D plays describe the raw
generator D is trained against (`sample_trained_generator`): `value` and `d_star_error`. Without EMA they are one.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import torch
from jsonargparse.typing import NonNegativeFloat, PositiveInt
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor
from torch.optim.swa_utils import AveragedModel

from lit_gen.models.base import GenerativeModel
from lit_gen.models.gan_losses import (
    PROBABILISTIC_LOSSES,
    GANLoss,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    r1_penalty,
    value_function,
)
from lit_gen.nets import Architecture, build_discriminator, build_generator


class WarmEMA:
    """EMA update with decay min(decay, (1 + n)/(10 + n)) after n updates: early on the average follows the
    generator closely instead of staying near the random initialisation for ~1/(1 − decay) steps."""

    def __init__(self, decay: float) -> None:
        self.decay = decay

    def __call__(self, averaged: list[Tensor], current: list[Tensor], num_averaged: Tensor) -> None:
        if not averaged[0].is_floating_point():  # integer buffers (batch norm's step counter): take the latest
            for mean, value in zip(averaged, current, strict=True):
                mean.copy_(value)
            return
        decay = min(self.decay, float((1 + num_averaged) / (10 + num_averaged)))
        for mean, value in zip(averaged, current, strict=True):
            mean.lerp_(value, 1.0 - decay)  # in place


_ADAM = partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999))


class GAN(GenerativeModel):
    """A GAN on any lit_gen data set.

    Args:
        data_shape, levels: filled in from the DataModule by the CLI.
        latent_dim, prior: z ~ N(0, I) (`normal`) or U[−1, 1]^d (`uniform`).
        network: `mlp` (2D data, or flattened images) or `conv` (DCGAN-style pair for square images).
        generator_hidden, discriminator_hidden: MLP widths; base_channels: conv width.
        loss: `minimax`, `non_saturating`, `hinge` or `wasserstein_gp`.
        n_critic: discriminator updates per generator update.
        generator_optimizer, discriminator_optimizer: separate learning rates and betas.
        r1_gamma: weight γ of the R1 penalty γ/2·E‖∇D(x)‖² on real data (0: off).
        r1_every: apply R1 on every k-th discriminator step only, scaled by k (StyleGAN2's lazy
            regularisation: the same expected penalty at a fraction of the double-backward cost).
        gp_weight: weight of the WGAN-GP gradient penalty (used by `wasserstein_gp`).
        spectral_norm: spectral normalisation on every discriminator layer.
        pack: PacGAN — the discriminator judges `pack` samples at once.
        clip_grad_norm: clip each network's gradient norm to this (through `clip_gradients`).
        ema_decay: keep an exponential moving average of the generator's weights (and batch-norm statistics)
            and evaluate it (None: off); the decay warms up as min(decay, (1 + n)/(10 + n)).
        num_eval_samples: unused, kept so older configs and checkpoints load: the mode statistics and D* are
            callbacks now (`lit_gen.callbacks.ModeCoverage`, `DiscriminatorVsOptimal`), with their own sample counts.
    """

    def __init__(
        self,
        data_shape: tuple[int, ...] = (2,),
        levels: int | None = None,
        latent_dim: PositiveInt = 64,
        prior: Literal["normal", "uniform"] = "normal",
        network: Architecture = "mlp",
        generator_hidden: list[PositiveInt] = [256, 256, 256],  # noqa: B006 — jsonargparse shows literal defaults
        discriminator_hidden: list[PositiveInt] = [256, 256, 256],  # noqa: B006
        base_channels: PositiveInt = 64,
        loss: GANLoss = "non_saturating",
        n_critic: PositiveInt = 1,
        generator_optimizer: OptimizerCallable = _ADAM,
        discriminator_optimizer: OptimizerCallable = _ADAM,
        r1_gamma: NonNegativeFloat = 0.0,
        r1_every: PositiveInt = 1,
        gp_weight: NonNegativeFloat = 10.0,
        spectral_norm: bool = False,
        pack: PositiveInt = 1,
        clip_grad_norm: float | None = None,
        ema_decay: float | None = None,
        num_eval_samples: PositiveInt = 2500,
    ) -> None:
        super().__init__()
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"ema_decay={ema_decay} must lie in (0, 1), or be null for no EMA")
        self.save_hyperparameters(ignore=["generator_optimizer", "discriminator_optimizer"])
        self.automatic_optimization = False
        self.data_shape, self.levels, self.latent_dim, self.prior = tuple(data_shape), levels, latent_dim, prior
        self.images = levels is not None
        self.generator = build_generator(network, latent_dim, self.data_shape, generator_hidden, base_channels,
                                         bounded=self.images)
        packed_shape = (self.data_shape[0] * pack, *self.data_shape[1:])
        self.discriminator = build_discriminator(network, packed_shape, discriminator_hidden, base_channels,
                                                 spectral_norm=spectral_norm)
        self.generator_ema = None
        if ema_decay is not None:
            self.generator_ema = AveragedModel(self.generator, multi_avg_fn=WarmEMA(ema_decay), use_buffers=True)
            self.generator_ema.requires_grad_(False)
        self.loss, self.n_critic, self.pack = loss, n_critic, pack
        self.r1_gamma, self.r1_every, self.gp_weight = r1_gamma, r1_every, gp_weight
        self.clip_grad_norm = clip_grad_norm
        self._discriminator_steps = 0
        self.num_eval_samples = num_eval_samples
        self._make_generator_optimizer = generator_optimizer
        self._make_discriminator_optimizer = discriminator_optimizer
        self.track_train_means("d_loss", "g_loss")

    # --- the model ---------------------------------------------------------------------------------------

    def prepare(self, raw: Tensor) -> Tensor:
        """Raw examples → the generator's output space: [−1, 1] for images, coordinates for 2D data."""
        if not self.images:
            return raw.float()
        return raw.float() / (self.levels - 1) * 2.0 - 1.0

    def latent(self, num: int) -> Tensor:
        if self.prior == "uniform":
            return torch.rand(num, self.latent_dim, device=self.device) * 2.0 - 1.0
        return torch.randn(num, self.latent_dim, device=self.device)

    def sample(self, num: int) -> Tensor:
        return self.decode(self.latent(num))

    def decode(self, z: Tensor) -> Tensor:
        """Samples in data space (intensities in [0, 1] for images) from the evaluation generator (EMA if on)."""
        generator = self.generator_ema if self.generator_ema is not None else self.generator
        x = generator(z)
        return (x + 1.0) / 2.0 if self.images else x

    def critic(self, x: Tensor) -> Tensor:
        """Discriminator logits, one per pack of `pack` consecutive samples (a remainder is dropped)."""
        return self.discriminator(self._pack(x)).squeeze(-1)

    def _pack(self, x: Tensor) -> Tensor:
        if self.pack == 1:
            return x
        usable = x.shape[0] - x.shape[0] % self.pack
        return x[:usable].reshape(usable // self.pack, self.pack * x.shape[1], *x.shape[2:])

    # --- training ----------------------------------------------------------------------------------------

    def training_step(self, batch: Tensor, batch_idx: int) -> None:
        generator_opt, discriminator_opt = self.optimizers()
        real = self.prepare(batch)
        batch_size = real.shape[0]

        for _ in range(self.n_critic):
            self.toggle_optimizer(discriminator_opt)
            with torch.no_grad():
                fake = self.generator(self.latent(batch_size))
            d_loss = discriminator_loss(self.loss, self.critic(real), self.critic(fake))
            if self.loss == "wasserstein_gp":
                d_loss = d_loss + self.gp_weight * gradient_penalty(self.discriminator, self._pack(real),
                                                                    self._pack(fake))
            if self.r1_gamma > 0 and self._discriminator_steps % self.r1_every == 0:
                penalty = r1_penalty(self.discriminator, self._pack(real))
                d_loss = d_loss + self.r1_gamma / 2 * self.r1_every * penalty
            self._discriminator_steps += 1
            self._step(discriminator_opt, d_loss)
            self.untoggle_optimizer(discriminator_opt)

        self.toggle_optimizer(generator_opt)
        g_loss = generator_loss(self.loss, self.critic(self.generator(self.latent(batch_size))))
        self._step(generator_opt, g_loss)
        self.untoggle_optimizer(generator_opt)
        if self.generator_ema is not None:
            self.generator_ema.update_parameters(self.generator)

        # each loss is its batch's mean: broadcast to the batch size, the epoch mean weighs every example once
        self.log_train_means(d_loss=d_loss.expand(batch_size), g_loss=g_loss.expand(batch_size))

    def _step(self, optimizer, loss: Tensor) -> None:
        optimizer.zero_grad()
        self.manual_backward(loss)
        if self.clip_grad_norm is not None:
            self.clip_gradients(optimizer, gradient_clip_val=self.clip_grad_norm, gradient_clip_algorithm="norm")
        optimizer.step()

    def configure_optimizers(self):
        return [self._make_generator_optimizer(self.generator.parameters()),
                self._make_discriminator_optimizer(self.discriminator.parameters())]

    # --- evaluation ---------------------------------------------------------------------------------------

    def validation_step(self, batch: Tensor, batch_idx: int) -> None:
        self._log_value("val", batch)

    def test_step(self, batch: Tensor, batch_idx: int) -> None:
        self._log_value("test", batch)

    def _log_value(self, split: str, batch: Tensor) -> None:
        if not self.discriminator_is_probability:
            return
        real = self.prepare(batch)
        # the raw generator, even with EMA on: V(D, G) is the game D and G play, and D is trained against the raw G
        fake = self.generator(self.latent(real.shape[0]))
        value = value_function(self.critic(real), self.critic(fake))
        # as many fakes as reals, and V̂ is linear in both means: the epoch mean, weighted by batch size, is V̂ over
        # the whole split
        self.log(f"{split}/value", value, batch_size=real.shape[0], sync_dist=True)

    # --- capabilities (lit_gen.models.capabilities.Discriminates) ---------------------------------------

    @property
    def discriminator_is_probability(self) -> bool:
        """D(x) = sigmoid(logit) is a probability of one sample: a probability loss and no packing."""
        return self.loss in PROBABILISTIC_LOSSES and self.pack == 1

    def discriminator_logit(self, x: Tensor) -> Tensor:
        """D's logit for each example x in data space (as `sample` returns it); pack = 1 only."""
        if self.pack != 1:
            raise ValueError(f"D judges packs of {self.pack} samples: it has no value for one sample")
        return self.critic(x * 2.0 - 1.0 if self.images else x)

    def discriminator_probability(self, x: Tensor) -> Tensor:
        """D(x) for single examples in data space (pack = 1 only)."""
        return torch.sigmoid(self.discriminator_logit(x))

    def sample_trained_generator(self, num: int) -> Tensor:
        """Samples in data space of the raw generator, the one D is trained against (the EMA one is `sample`)."""
        x = self.generator(self.latent(num))
        return (x + 1.0) / 2.0 if self.images else x
