"""Which generator each GAN number describes, with EMA on and the raw and EMA generators far apart; mode coverage for
any model that samples; capabilities as Protocols; provenance recorded once."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Trainer, seed_everything
from torch import nn

from lit_gen.callbacks import (
    DiscriminatorVsOptimal,
    Divergences,
    MetricsJson,
    ModeCoverage,
    default_callbacks,
    read_metrics,
)
from lit_gen.data import GaussianMixture2D, MixtureDataModule
from lit_gen.evaluation.divergences import evaluate_divergences
from lit_gen.evaluation.mode_coverage import evaluate_mode_coverage
from lit_gen.metrics.divergences import discriminator_jsd_bound
from lit_gen.models import GAN, VAE, LearnedGaussianLikelihood
from lit_gen.models.capabilities import Discriminates, Encodes, HasDensityBound, Samples

SMALL = dict(num_data=300, num_model_samples=300, kde_samples=400, kde_cv_samples=200)
SHIFT = 0.5  # the raw generator's ring, moved off the data by 50 of its std: D tells them apart perfectly


class RingGenerator(nn.Module):
    """z (3-d) ↦ a draw of `mixture` moved by `shift`: mode from Φ(z₀), offset std·(z₁, z₂). Its density is exact."""

    def __init__(self, mixture: GaussianMixture2D, shift: float = 0.0, std: float | None = None) -> None:
        super().__init__()
        self.means, self.shift = mixture.means.float(), shift
        self.std = mixture.std if std is None else std
        self.mixture = GaussianMixture2D(mixture.means, self.std)

    def forward(self, z):
        mode = (torch.special.ndtr(z[:, 0]) * len(self.means)).long().clamp(max=len(self.means) - 1)
        return self.means[mode] + self.std * z[:, 1:3] + self.shift

    def log_prob(self, x):
        return self.mixture.log_prob(x.double() - self.shift)


class ExactLogit(nn.Module):
    """The logit of D* = p_data/(p_data + p_g) between two known densities: the best D for that p_g."""

    def __init__(self, data_log_prob, generator_log_prob) -> None:
        super().__init__()
        self.data_log_prob, self.generator_log_prob = data_log_prob, generator_log_prob

    def forward(self, x):
        return (self.data_log_prob(x) - self.generator_log_prob(x)).float().unsqueeze(-1)


def gan_with(data: MixtureDataModule, raw: RingGenerator, ema: RingGenerator, discriminator: nn.Module) -> GAN:
    model = GAN(latent_dim=3, generator_hidden=[8], discriminator_hidden=[8], ema_decay=0.5)
    model.generator, model.generator_ema, model.discriminator = raw, ema, discriminator
    return model.eval()


def quiet_trainer(root, **kwargs) -> Trainer:
    defaults = dict(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False, num_sanity_val_steps=0, default_root_dir=root)
    return Trainer(**{**defaults, **kwargs})


def test_with_ema_far_from_the_raw_generator_every_key_describes_the_generator_it_says(tmp_path):
    seed_everything(0)
    data = MixtureDataModule(shape="ring", num_samples=3000, val_size=1000, test_size=10, batch_size=500)
    raw = RingGenerator(data.mixture, shift=SHIFT)
    ema = RingGenerator(data.mixture)  # the EMA generator draws the data distribution itself
    model = gan_with(data, raw, ema, ExactLogit(data.mixture.log_prob, raw.log_prob))  # D = D* against the raw G
    callbacks = [MetricsJson(), Divergences(**SMALL), ModeCoverage(num_samples=500),
                 DiscriminatorVsOptimal(num_samples=300, resolution=4)]
    trainer = quiet_trainer(tmp_path, callbacks=callbacks)
    trainer.validate(model, datamodule=data, verbose=False)
    metrics = read_metrics(tmp_path)["metrics"]
    # the divergences and their bound: the EMA generator (its KDE), on the same points and samples
    assert metrics["val/jsd"] < 0.05  # the EMA generator is the data: only the KDE's floor
    assert metrics["val/jsd_lower_bound"] <= metrics["val/jsd"] + metrics["val/jsd_se"]
    # the mode statistics: the EMA generator (the raw one's samples are all 50 std off every mode)
    assert metrics["val/modes_covered"] == 8 and metrics["val/high_quality"] > 0.95
    assert metrics["val/reverse_kl"] < 0.05
    # the game's value and D against D*: the raw generator D is trained against. At D = D*, V = 2·JSD − log 4, and
    # the two rings do not overlap (JSD = log 2): V = 0; D equals D* up to the KDE of p_g
    assert metrics["val/value"] == pytest.approx(0.0, abs=1e-3)
    assert metrics["val/d_star_error"] < 0.02
    meta = read_metrics(tmp_path)["meta"]
    assert meta["optimal_discriminator"]["val"]["generator"].startswith("raw")
    assert meta["mode_coverage"]["val"]["num_samples"] == 500 and "jsd_lower_bound" in meta["divergences"]["val"]
    # the pairing this replaces (D's bound on the raw generator beside the EMA generator's JSD) breaks the bound
    with torch.no_grad():
        x = data.raw_split("val")[:300].float()
        old = discriminator_jsd_bound(F.logsigmoid(model.critic(x)),
                                      F.logsigmoid(-model.critic(model.sample_trained_generator(300))))
    assert old.value > metrics["val/jsd"] + 10 * metrics["val/jsd_se"]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_good_discriminator_bounds_the_jsd_it_is_printed_beside_tightly(seed):
    # D = D* between the data and the EMA generator (std 0.015 against the data's 0.01), the raw generator far off:
    # the bound must stay at or below the JSD it is paired with, within its standard error, and be close to it
    data = MixtureDataModule(shape="ring", num_samples=3000, val_size=1000, test_size=10)
    ema = RingGenerator(data.mixture, std=0.015)
    model = gan_with(data, RingGenerator(data.mixture, shift=SHIFT), ema,
                     ExactLogit(data.mixture.log_prob, ema.log_prob))
    e = evaluate_divergences(model, data, "val", seed=seed, **SMALL).estimates
    bound, jsd = e["jsd_lower_bound"], e["jsd"]
    assert bound.value <= jsd.value + jsd.se, (bound, jsd)
    assert bound.value > jsd.value - 0.03, (bound, jsd)  # the D* of p_g, not of its KDE: a little loose


def test_a_vae_on_the_ring_reports_mode_coverage(tmp_path):
    seed_everything(0)
    data = MixtureDataModule(shape="ring", num_samples=3000, batch_size=100)
    model = VAE(data_shape=(2,), levels=None, latent_dim=2, hidden_dims=[16],
                likelihood=LearnedGaussianLikelihood(per_dimension=True), iw_samples=5)
    assert any(isinstance(callback, ModeCoverage) for callback in default_callbacks())  # every CLI run has it
    trainer = quiet_trainer(tmp_path, limit_val_batches=1, limit_test_batches=1,
                            callbacks=[ModeCoverage(num_samples=300), DiscriminatorVsOptimal()])
    trainer.validate(model, datamodule=data, verbose=False)
    trainer.test(model, datamodule=data, verbose=False)
    metrics = trainer.callback_metrics
    for key in ("modes_covered", "high_quality", "reverse_kl"):
        assert math.isfinite(float(metrics[f"test/{key}"])), key
    assert 0 <= float(metrics["test/modes_covered"]) <= 8
    assert "test/d_star_error" not in metrics  # no discriminator


class ConstantDecoder(nn.Module):
    def __init__(self, point: torch.Tensor) -> None:
        super().__init__()
        self.point = point.float()

    def forward(self, z):
        return self.point.expand(len(z), -1)


def test_mode_coverage_draws_the_vae_density_not_its_decoder_means():
    data = MixtureDataModule(shape="ring", num_samples=3000)
    model = VAE(data_shape=(2,), levels=None, latent_dim=2, hidden_dims=[8],
                likelihood=LearnedGaussianLikelihood(init_sigma=1.0)).eval()
    model.decoder = ConstantDecoder(data.mixture.means[0])  # every decoder mean is on a mode
    assert evaluate_mode_coverage(Means(model), data, num_samples=500).high_quality == 1.0
    # its density is N(mode, σ² = 1): the draws scatter far beyond 3 std (0.03) of any mode
    assert evaluate_mode_coverage(model, data, num_samples=500).high_quality < 0.05


class Means(nn.Module):
    """The VAE's `sample` (decoder means) as a model without a density."""

    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.vae, self.device = vae, torch.device("cpu")

    def sample(self, num):
        return self.vae.sample(num)


def test_capabilities_are_protocols_models_satisfy():
    gan = GAN(latent_dim=2, generator_hidden=[4], discriminator_hidden=[4])
    vae = VAE(data_shape=(2,), levels=None, latent_dim=2, hidden_dims=[4])
    assert isinstance(gan, Samples) and isinstance(gan, Discriminates) and gan.discriminator_is_probability
    assert not isinstance(gan, Encodes) and not isinstance(gan, HasDensityBound)
    assert isinstance(vae, Samples) and isinstance(vae, Encodes) and isinstance(vae, HasDensityBound)
    assert not isinstance(vae, Discriminates)
    for kwargs in ({"loss": "hinge"}, {"pack": 2}):  # no probability of one sample: no V, bound or D*
        gan = GAN(latent_dim=2, generator_hidden=[4], discriminator_hidden=[4], **kwargs)
        assert not gan.discriminator_is_probability
