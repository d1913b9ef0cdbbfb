"""The ImageQuality callback in runs (keys, provenance, checkpoints, RNG, Inception offline) and the VAE samplers."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from torch.distributions import Normal

from lit_gen.callbacks.image_quality import ImageQuality
from lit_gen.cli import main
from lit_gen.data import DigitsDataModule
from lit_gen.errors import LitGenError
from lit_gen.evaluation.image_quality import Settings, evaluate_image_quality, holds_images
from lit_gen.features.auto import PRETRAINED
from lit_gen.features.store import load_classifier
from lit_gen.metrics.backbones import INCEPTION_WEIGHTS_FILE, DomainBackbone, real_intensities
from lit_gen.models import GAN, VAE
from lit_gen.models.capabilities import Encodes, Samples
from lit_gen.models.likelihoods import GaussianLikelihood
from lit_gen.samplers import AggregatePosteriorSampler, PriorSampler
from tests.conftest import CONFIGS

SMOKE = str(CONFIGS / "trainer" / "smoke.yaml")
VAE_DIGITS = str(CONFIGS / "experiments" / "vae_digits.yaml")
pytestmark = pytest.mark.usefixtures("offline_one_thread")


def fit(*args: str) -> None:
    main(["fit", "--config", VAE_DIGITS, "--config", SMOKE, "--model.init_args.iw_samples", "5", *args])


# --- in a run ------------------------------------------------------------------------------------------

def test_a_digits_vae_reports_prior_and_mixture_scores_with_provenance_and_clean_checkpoints(in_tmp):
    fit("--trainer.max_epochs", "2", "--image_quality.every_n_epochs", "2")
    run = in_tmp / "runs" / "vae_digits" / "version_0"
    content = json.loads((run / "metrics.json").read_text())
    metrics, meta = content["metrics"], content["meta"]
    for split in ("val", "test"):
        for name in ("fid", "kid", "is", "fid_gmm", "kid_gmm", "is_gmm"):
            assert isinstance(metrics[f"{split}/{name}"], float), f"{split}/{name}"
        provenance = meta["image_quality"][split]
        assert provenance["backbone"]["name"] == "domain_classifier"
        assert provenance["backbone"]["trained_on"] == "DigitsDataModule"
        assert "pretrained" in provenance["backbone"]["file"]  # the shipped classifier: nothing was trained
        size = {"val": 150, "test": 297}[split]  # N = min(num_samples = 1000, split size)
        assert provenance["reference"] == {**provenance["reference"], "split": split, "num_images": size}
        assert provenance["num_generated"] == size
        assert provenance["samplers"]["fid, kid, is"]["latent"] == "N(0, I)"
        assert provenance["samplers"]["fid_gmm, kid_gmm, is_gmm"]["sampler"] == "aggregate_posterior_gmm"
        assert provenance["reference"]["is"] > 8.5  # real digits: recognisable and varied
        assert provenance["kid"]["subset_size"] == size // 2  # subsets that differ: a spread that means something
        assert all(std > 0 for std in provenance["kid"]["std"].values()), provenance["kid"]
    assert not (in_tmp / "cache").exists()

    # while fitting, only every 2nd epoch: the epoch-0 row of metrics.csv has no FID, the epoch-1 row has one
    with open(run / "metrics.csv") as file:
        fids = {row["epoch"]: row["val/fid"] for row in csv.DictReader(file) if row.get("val/elbo")}
    assert fids["0"] == "" and float(fids["1"]) > 0

    # no backbone weights in a model checkpoint
    for checkpoint in (run / "checkpoints").glob("*.ckpt"):
        content = torch.load(checkpoint, weights_only=False)
        assert {key.split(".")[0] for key in content["state_dict"]} <= {"encoder", "decoder", "likelihood"}
        assert not any(content["callbacks"].get(key) for key in content.get("callbacks", {}) if "ImageQuality" in key)


def test_image_quality_does_not_change_the_training_random_stream(in_tmp):
    fit("--trainer.max_epochs", "2", "--image_quality.every_n_epochs", "1", "--trainer.logger.init_args.version", "on")
    fit("--trainer.max_epochs", "2", "--image_quality.backbone", "none", "--trainer.logger.init_args.version", "off")
    runs = in_tmp / "runs" / "vae_digits"
    on, off = (torch.load(runs / version / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
               for version in ("on", "off"))
    for key in on:
        torch.testing.assert_close(on[key], off[key], rtol=0, atol=0, msg=key)
    off_metrics = json.loads((runs / "off" / "metrics.json").read_text())
    assert "val/fid" not in off_metrics["metrics"] and "image_quality" not in off_metrics["meta"]


def test_missing_inception_weights_stop_the_run_before_training_with_the_file_and_folder(in_tmp):
    pytest.importorskip("torch_fidelity")
    env = {**os.environ, "TORCH_HOME": str(in_tmp / "torch_home")}
    result = subprocess.run([sys.executable, "-m", "lit_gen.cli", "fit", "--config", VAE_DIGITS, "--config", SMOKE,
                             "--image_quality.backbone", "inception"], cwd=in_tmp, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert INCEPTION_WEIGHTS_FILE in result.stderr
    assert str(in_tmp / "torch_home" / "hub" / "checkpoints") in result.stderr
    assert not (in_tmp / "torch_home" / "hub" / "checkpoints" / INCEPTION_WEIGHTS_FILE).exists()  # nothing fetched
    assert not list((in_tmp / "runs").glob("*/*/checkpoints/*.ckpt"))


@pytest.mark.slow
def test_a_run_with_the_inception_backbone_records_it(in_tmp, monkeypatch):
    pytest.importorskip("torch_fidelity")
    from tests.test_fid import write_fake_inception_weights

    weights = in_tmp / "weights" / INCEPTION_WEIGHTS_FILE
    write_fake_inception_weights(weights, monkeypatch)  # the real file's format, random weights: no download
    main(["fit", "--config", str(CONFIGS / "experiments" / "dcgan_digits.yaml"), "--config", SMOKE,
          "--image_quality.backbone", "inception", "--image_quality.inception_weights", str(weights.parent),
          "--image_quality.num_samples", "8"])
    content = json.loads((in_tmp / "runs" / "dcgan_digits" / "version_0" / "metrics.json").read_text())
    assert all(isinstance(content["metrics"][f"{split}/fid"], float) for split in ("val", "test"))
    backbone = content["meta"]["image_quality"]["test"]["backbone"]
    assert backbone["name"] == "inception_v3" and backbone["weights"] == str(weights)
    assert content["meta"]["image_quality"]["test"]["kid"]["subset_size"] == 4  # half of N = 8


@pytest.mark.slow
def test_a_trained_dcgan_has_a_far_lower_fid_than_an_untrained_generator(in_tmp):
    seed_everything(0)
    data = DigitsDataModule(batch_size=64)
    # configs/model/dcgan.yaml's generator and discriminator
    model = GAN(data_shape=data.data_shape, levels=data.levels, latent_dim=64, network="conv", base_channels=64,
                ema_decay=0.999)
    trainer = Trainer(accelerator="cpu", max_epochs=60, check_val_every_n_epoch=1000, num_sanity_val_steps=0,
                      logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      callbacks=[ImageQuality(num_samples=300)])
    untrained = trainer.validate(model, datamodule=data, verbose=False)[0]
    trainer.fit(model, datamodule=data)
    trained = trainer.validate(model, datamodule=data, verbose=False)[0]
    assert trained["val/fid"] < 0.5 * untrained["val/fid"], (trained, untrained)
    assert trained["val/is"] > untrained["val/is"]
    assert not (in_tmp / "metrics.json").exists()  # without MetricsJson (a plain Trainer) no file is written


# --- samplers --------------------------------------------------------------------------------------------

class IdentityVAE:
    """The VAE API with z = x: the samplers' arithmetic, free of any network."""

    latent_dim = 2
    device = torch.device("cpu")

    def prepare(self, raw):
        return raw.float()

    def encode(self, x):
        return Normal(x, torch.full_like(x, 0.01))

    def latent(self, num):
        return torch.randn(num, self.latent_dim)  # the prior N(0, I), as GenerativeModel.latent

    def decode(self, z):
        return z

    def reconstruct(self, x):
        return self.decode(self.encode(x).mean)


def test_prior_sampler_decodes_standard_normal_codes():
    torch.manual_seed(0)
    samples = PriorSampler(IdentityVAE()).sample(20_000)
    assert samples.shape == (20_000, 2)
    torch.testing.assert_close(samples.mean(0), torch.zeros(2), atol=0.03, rtol=0)
    torch.testing.assert_close(samples.std(0), torch.ones(2), atol=0.03, rtol=0)


def test_mixture_sampler_recovers_the_aggregate_posterior():
    generator = torch.Generator().manual_seed(0)
    means = torch.tensor([[-5.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    counts = [1500, 900, 600]
    codes = torch.cat([m + 0.3 * torch.randn(n, 2, generator=generator) for m, n in zip(means, counts, strict=True)])
    codes = codes[torch.randperm(len(codes), generator=generator)]
    sampler = AggregatePosteriorSampler.fit(IdentityVAE(), codes, num_components=3, seed=0)
    again = AggregatePosteriorSampler.fit(IdentityVAE(), codes, num_components=3, seed=0)
    torch.testing.assert_close(sampler.mixture.component_distribution.loc, again.mixture.component_distribution.loc)
    torch.manual_seed(1)
    samples = sampler.sample(6000)
    nearest = torch.cdist(samples, means).argmin(1)
    shares = torch.bincount(nearest, minlength=3).float() / len(samples)
    torch.testing.assert_close(shares, torch.tensor(counts) / sum(counts), atol=0.03, rtol=0)
    spread = (samples - means[nearest]).std()
    assert spread == pytest.approx(0.3, rel=0.1)
    assert sampler.describe()["fitted_to"].endswith("3000 training examples")


# --- the evaluation functions: KID's spread, the samples' scale, what a model can do ------------------------

class TrainingImages:
    """A 'model' whose samples are training images on the real images' scale: only `sample`, like a GAN."""

    device = torch.device("cpu")

    def __init__(self, data: DigitsDataModule) -> None:
        self.images = real_intensities(data.raw_split("train"), data.levels)

    def sample(self, num: int) -> torch.Tensor:
        return self.images[torch.randint(len(self.images), (num,))]


@pytest.fixture(scope="module")
def digits_and_backbone():
    return DigitsDataModule(), DomainBackbone(load_classifier(next(PRETRAINED.glob("DigitsDataModule-*.pt"))))


def test_kid_on_the_digits_test_split_has_a_positive_spread_and_records_its_subset_size(digits_and_backbone):
    data, backbone = digits_and_backbone
    settings = Settings(kid_subsets=20)
    result = evaluate_image_quality(backbone, TrainingImages(data), data, "test", settings)
    kid = result.provenance["kid"]
    assert result.provenance["reference"]["num_images"] == 297
    assert kid["subset_size"] == 148  # half of the 297: subsets differ, so their spread is an uncertainty
    assert kid["std"]["kid"] > 0 and set(kid["std"]) == {"kid"}  # only `sample`: no mixture sampler
    assert set(result.metrics) == {"fid", "kid", "is"}
    assert result.provenance["samplers"]["fid, kid, is"]["sampler"] == "TrainingImages.sample"


def test_evaluation_asks_the_model_what_it_can_do(digits_and_backbone):
    data, backbone = digits_and_backbone
    gan, vae = GAN(data_shape=(1, 8, 8), levels=17), VAE(data_shape=(1, 8, 8), levels=17)
    assert isinstance(gan, Samples) and not isinstance(gan, Encodes)  # prepare, decode, latent_dim: no encoder
    assert isinstance(vae, Encodes) and isinstance(IdentityVAE(), Encodes)
    assert not isinstance(object(), Samples)
    assert holds_images(data) and not holds_images(None)
    nothing = type("Nothing", (), {"device": torch.device("cpu")})()
    with pytest.raises(LitGenError, match="no sample"):
        evaluate_image_quality(backbone, nothing, data, "val", Settings(num_samples=4))


@pytest.mark.parametrize("dequantize", [True, False])
def test_a_gaussian_vae_decodes_its_best_means_onto_the_real_images_scale(dequantize):
    data = DigitsDataModule()
    raw = data.raw_split("test")[:16]

    class Best(torch.nn.Module):  # the decoder's best output for these images: the mean of what prepare() gives
        def forward(self, z):
            return (raw + 0.5) / 17 if dequantize else raw / 16

    model = VAE(data_shape=data.data_shape, levels=data.levels, likelihood=GaussianLikelihood(dequantize=dequantize))
    model.decoder = Best()
    torch.testing.assert_close(model.decode(torch.zeros(16, model.latent_dim)), real_intensities(raw, 17))
    torch.testing.assert_close(model.sample(16), real_intensities(raw, 17))
    torch.testing.assert_close(PriorSampler(model).sample(16), real_intensities(raw, 17))
