"""The VAE: maximise E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)), the first term sampled. The prior p(z) is N(0, I) with
the KL in closed form, or (`prior="mixture"`) a Gaussian mixture refit to the aggregate posterior before every
validation, with a sampled KL (`lit_gen.models.priors`).

Logged for train/val/test, per example, summed over dimensions, in nats: `elbo` (= −recon − kl), `recon`
(= −E_q[log p(x|z)], one sample), `kl`. On val/test also `nll_iw` (−log p̂(x) by importance sampling) and, where
the likelihood makes it a code length of the discrete data, `bpd`.

Evaluation is sized to the training: validation, which runs after every epoch, uses `val_iw_samples` (default 10)
importance samples, the test (the final evaluation of the best checkpoint) `iw_samples` (default 100). Both are
unbiased estimates of their own bound, but the bound with small k is looser: val/nll_iw sits above what the same
model scores with the test's k, so compare val and test figures only at the same k (metrics.json's
`meta.iw_samples` records the k of each split).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch
from jsonargparse.typing import NonNegativeFloat, NonNegativeInt, PositiveInt
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor
from torch.distributions import Normal

from lit_gen.errors import LitGenError
from lit_gen.metrics.likelihood import bits_per_dim, iwae_log_likelihood
from lit_gen.models.base import GenerativeModel
from lit_gen.models.likelihoods import GaussianLikelihood, Likelihood
from lit_gen.models.priors import PriorName, aggregate_posterior_codes, build_prior
from lit_gen.nets import Architecture, build_decoder, build_encoder


@dataclass
class VAEOutput:
    loss: Tensor  # recon + β·kl, averaged over the batch: what the optimizer minimises
    recon: Tensor  # −log p(x|z) per example
    kl: Tensor  # KL(q(z|x) ‖ p(z)) per example
    z: Tensor
    mu: Tensor
    log_var: Tensor
    decoded: Tensor  # decoder output: the Gaussian mean or the Bernoulli logits

    @property
    def elbo(self) -> Tensor:
        return -(self.recon + self.kl)


class VAE(GenerativeModel):
    """A VAE on any lit_gen data set.

    Args:
        data_shape, levels: filled in from the DataModule by the CLI.
        latent_dim: size of z.
        network: `mlp` or `conv` encoder/decoder pair.
        hidden_dims: MLP hidden widths (encoder order; the decoder mirrors them).
        base_channels: channels of the first conv stage (doubled per stage).
        likelihood: decoder likelihood (or its `spec()`); default `GaussianLikelihood(sigma=0.1)`.
        prior: `standard_normal` (N(0, I), the KL in closed form) or `mixture`: a Gaussian mixture with full
            covariances, refit by EM to the training set's aggregate posterior before every validation during fit
            (the ELBO's M-step over the prior), with a one-sample KL; `nll_iw`, `bpd` and `sample` then use it.
        prior_components: the mixture's number of components K.
        prior_fit_examples: at most this many training examples (a random subset) to fit the mixture to.
        beta: weight of the KL term in the loss (the logged ELBO is always the unweighted one).
        beta_warmup_steps: ramp β linearly from 0 over this many optimizer steps (0: no warm-up).
        iw_samples: importance samples k for `nll_iw` on the test split (the final evaluation).
        val_iw_samples: importance samples k for `nll_iw` on the validation split (every epoch, and the
            validation of the best checkpoint after fit): a looser (higher) bound than the test's k gives.
        iw_chunk_size: importance samples decoded at once (memory vs speed).
        optimizer, lr_scheduler: built from config; `lr_scheduler_monitor` names the metric a plateau
            scheduler watches.
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        levels: int | None = 17,
        latent_dim: PositiveInt = 8,
        network: Architecture = "mlp",
        hidden_dims: list[PositiveInt] = [512],  # noqa: B006 — jsonargparse needs a literal default to show
        base_channels: PositiveInt = 32,
        likelihood: Likelihood | None = None,  # a spec() dict too, as checkpoints store it
        prior: PriorName = "standard_normal",
        prior_components: PositiveInt = 10,
        prior_fit_examples: PositiveInt = 10_000,
        beta: NonNegativeFloat = 1.0,
        beta_warmup_steps: NonNegativeInt = 0,
        iw_samples: PositiveInt = 100,
        val_iw_samples: PositiveInt = 10,
        iw_chunk_size: PositiveInt = 100,
        optimizer: OptimizerCallable = partial(torch.optim.Adam, lr=1e-3),
        lr_scheduler: LRSchedulerCallable | None = None,
        lr_scheduler_monitor: str = "val/nll_iw",
    ) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim={latent_dim} must be at least 1")
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler", "likelihood"])
        if isinstance(likelihood, dict):  # as stored in a checkpoint
            likelihood = Likelihood.from_spec(likelihood)
        self.likelihood = likelihood if likelihood is not None else GaussianLikelihood()
        self.hparams["likelihood"] = self.likelihood.spec()  # plain data: checkpoints load with weights_only
        self.data_shape = tuple(data_shape)
        self.levels = levels
        self.latent_dim = latent_dim
        self.likelihood.bind(self.data_shape, levels)
        self.encoder = build_encoder(network, self.data_shape, 2 * latent_dim, hidden_dims, base_channels)
        self.decoder = build_decoder(
            network, latent_dim, self.data_shape, hidden_dims, base_channels, self.likelihood.outputs_per_dim
        )
        self.prior = build_prior(prior, latent_dim, prior_components)
        self.prior_fit_examples = prior_fit_examples
        self.beta = beta
        self.beta_warmup_steps = beta_warmup_steps
        self.iw_samples = iw_samples
        self.val_iw_samples = val_iw_samples
        self.iw_chunk_size = iw_chunk_size
        self._make_optimizer = optimizer
        self._make_lr_scheduler = lr_scheduler
        self.lr_scheduler_monitor = lr_scheduler_monitor
        self.track_train_means("elbo", "recon", "kl")

    # --- the model ---------------------------------------------------------------------------------------

    def prepare(self, raw: Tensor) -> Tensor:
        """Raw examples from the DataModule → the space the likelihood models (see `Likelihood.prepare`)."""
        return self.likelihood.prepare(raw)

    def posterior_params(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, log_var = self.encoder(x).chunk(2, dim=-1)
        return mu, log_var

    def encode(self, x: Tensor) -> Normal:
        """q(z|x) for prepared data x (the likelihood's space, e.g. intensities in [0, 1])."""
        mu, log_var = self.posterior_params(x)
        return Normal(mu, (0.5 * log_var).exp())

    def decode(self, z: Tensor) -> Tensor:
        """E[x|z] on the scale of real images (intensities k / (levels − 1) for images, coordinates otherwise), as a
        GAN's `decode` gives them: what samples, reconstructions, sample grids and FID/KID/IS use. (For a
        dequantised Gaussian this is not `prepare`'s space: see `Likelihood.to_intensities`.)"""
        return self.likelihood.to_intensities(self.likelihood.mean(self.decoder(z)))

    def reconstruct(self, x: Tensor) -> Tensor:
        """Prepared data x → E[x|z] at z = the posterior mean, on `decode`'s scale."""
        return self.decode(self.posterior_params(x)[0])

    def current_beta(self) -> float:
        if self.beta_warmup_steps == 0:
            return self.beta
        return self.beta * min(1.0, self.global_step / self.beta_warmup_steps)

    def forward(self, x: Tensor) -> VAEOutput:
        mu, log_var = self.posterior_params(x)
        z = mu + (0.5 * log_var).exp() * torch.randn_like(mu)  # reparameterisation
        decoded = self.decoder(z)
        recon = -self.likelihood.log_prob(decoded, x)
        kl = self.prior.kl(z, mu, log_var)
        loss = (recon + self.current_beta() * kl).mean()
        return VAEOutput(loss, recon, kl, z, mu, log_var, decoded)

    def log_marginal_likelihood(self, x: Tensor, num_samples: int | None = None) -> Tensor:
        """log p̂(x) per example by importance sampling with `num_samples` (default `iw_samples`)."""
        mu, log_var = self.posterior_params(x)
        return iwae_log_likelihood(
            x, mu, log_var, lambda z, xs: self.likelihood.log_prob(self.decoder(z), xs),
            num_samples or self.iw_samples, self.iw_chunk_size, self.prior.log_prob,
        )

    def latent(self, num: int) -> Tensor:
        """`num` codes z ~ p(z) from the model's prior."""
        return self.prior.sample(num, self.device)

    @torch.no_grad()
    def fit_prior(self, raw: Tensor, seed: int = 0) -> None:
        """Refit a mixture prior to one z ~ q(z|x) for each of (at most `prior_fit_examples` of) the raw training
        examples `raw`; the standard normal has nothing to fit."""
        if hasattr(self.prior, "fit"):
            self.prior.fit(aggregate_posterior_codes(self, raw, self.prior_fit_examples, seed=seed), seed)

    # --- Lightning ---------------------------------------------------------------------------------------

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        out = self(self.prepare(batch))
        self.log_train_means(elbo=out.elbo, recon=out.recon, kl=out.kl)  # per example: epoch means weigh each once
        return out.loss

    def setup(self, stage: str) -> None:
        if stage == "fit" and hasattr(self.prior, "fit") and not hasattr(self.trainer.datamodule, "raw_split"):
            raise LitGenError("prior=mixture is fitted to the training split, which only a lit_gen DataModule gives: "
                              "train with `lit-gen fit` or pass `datamodule=` to trainer.fit")

    def on_validation_epoch_start(self) -> None:
        super().on_validation_epoch_start()
        # the prior's M-step, before the validation that scores (and checkpoints) the model: while fitting only, so
        # that validating or testing a checkpoint scores its prior as saved
        if hasattr(self.prior, "fit") and self.trainer.state.fn == "fit" and not self.trainer.sanity_checking:
            self.fit_prior(self.trainer.datamodule.raw_split("train"), seed=self.current_epoch)

    def on_train_end(self) -> None:
        if getattr(self.prior, "fitted_to", None) == 0:
            rank_zero_warn("prior=mixture was never fitted (it is refit before each validation, and none ran): the "
                           "model's prior is still N(0, I); keep validation on (trainer.limit_val_batches > 0)")

    def validation_step(self, batch: Tensor, batch_idx: int) -> None:
        self._evaluate("val", batch)

    def test_step(self, batch: Tensor, batch_idx: int) -> None:
        self._evaluate("test", batch)

    def iw_samples_for(self, split: str) -> int:
        """The importance samples k of `split`'s `nll_iw`.

        Validation runs after every epoch: k = 100 over the whole split cost several times the training step of a
        small MLP VAE. A small k on the whole split (rather than the full k on a fixed subset) keeps every
        validation image in the figure the checkpoint is chosen by, at a tenth of the cost, and its bias (a looser
        bound) is the same for every epoch and every trial of a sweep run with the same k, so it ranks them alike.
        The test split, evaluated once on the best checkpoint, gets the full k."""
        return self.val_iw_samples if split == "val" else self.iw_samples

    def _evaluate(self, split: str, batch: Tensor) -> None:
        x = self.prepare(batch)
        out = self(x)
        self._log_terms(split, out, len(batch))
        nll = -self.log_marginal_likelihood(x, self.iw_samples_for(split))
        metrics = {f"{split}/nll_iw": nll.mean()}
        offset = self.likelihood.discrete_nats_offset()
        if offset is not None:
            metrics[f"{split}/bpd"] = bits_per_dim(nll, self.likelihood.num_dims, offset).mean()
        self.log_dict(metrics, batch_size=len(batch), sync_dist=True)

    def _log_terms(self, split: str, out: VAEOutput, batch_size: int) -> None:
        metrics = {f"{split}/elbo": out.elbo.mean(), f"{split}/recon": out.recon.mean(), f"{split}/kl": out.kl.mean()}
        self.log_dict(metrics, batch_size=batch_size, on_epoch=True, sync_dist=True)

    def configure_optimizers(self):
        optimizer = self._make_optimizer(self.parameters())
        if self._make_lr_scheduler is None:
            return optimizer
        scheduler = self._make_lr_scheduler(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": self.lr_scheduler_monitor}}
