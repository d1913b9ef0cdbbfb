"""Training metrics are epoch means over examples, logged through Lightning; a NaN loss stops training clearly."""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch import Trainer

from lit_gen.data import DigitsDataModule, MixtureDataModule
from lit_gen.errors import LitGenError
from lit_gen.models import GAN, VAE


def tiny_trainer(tmp_path, **kwargs) -> Trainer:
    defaults = dict(accelerator="cpu", max_epochs=1, limit_train_batches=3, limit_val_batches=0, logger=False,
                    enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                    num_sanity_val_steps=0, default_root_dir=tmp_path)
    return Trainer(**{**defaults, **kwargs})


def test_vae_train_metrics_are_the_epoch_means_of_the_per_example_terms(tmp_path):
    seen = {"elbo": [], "recon": [], "kl": []}

    class Watched(VAE):
        def forward(self, x):
            out = super().forward(x)
            if self.training:
                for name in seen:
                    seen[name].append(getattr(out, name).detach())
            return out

    torch.manual_seed(0)
    model = Watched(latent_dim=2, hidden_dims=[16])
    # batches of 100 and a partial last one weigh their examples equally; the second epoch's means are its own
    trainer = tiny_trainer(tmp_path, limit_train_batches=1.0, max_epochs=2)
    trainer.fit(model, datamodule=DigitsDataModule(batch_size=100))
    assert len({len(values) for values in seen["recon"]}) == 2  # a partial last batch
    for name, values in seen.items():
        expected = torch.cat(values[len(values) // 2:]).double().mean()
        torch.testing.assert_close(trainer.callback_metrics[f"train/{name}"].double(), expected, rtol=1e-5, atol=1e-4)
    metrics = trainer.callback_metrics
    assert metrics["train/elbo"] == pytest.approx(-(metrics["train/recon"] + metrics["train/kl"]), rel=1e-5)


def test_gan_train_losses_are_epoch_means_weighted_by_batch_size(tmp_path):
    seen = []

    class Watched(GAN):
        def _step(self, optimizer, loss):
            seen.append(float(loss))
            super()._step(optimizer, loss)

        def training_step(self, batch, batch_idx):
            sizes.append(len(batch))
            return super().training_step(batch, batch_idx)

    sizes: list[int] = []
    torch.manual_seed(0)
    model = Watched(latent_dim=2, generator_hidden=[8], discriminator_hidden=[8])
    data = MixtureDataModule(num_samples=1000, batch_size=300)  # 800 training examples
    trainer = tiny_trainer(tmp_path, limit_train_batches=1.0)
    trainer.fit(model, datamodule=data)
    assert len(set(sizes)) == 2, sizes  # a partial last batch, so weighting matters
    d_losses, g_losses = seen[0::2], seen[1::2]  # n_critic = 1: one D step, then one G step, per batch
    for name, losses in (("d_loss", d_losses), ("g_loss", g_losses)):
        expected = sum(loss * size for loss, size in zip(losses, sizes, strict=True)) / sum(sizes)
        assert float(trainer.callback_metrics[f"train/{name}"]) == pytest.approx(expected, rel=1e-5)


def test_a_nan_loss_stops_training_before_validation_with_a_clear_message(tmp_path):
    class Poisoned(VAE):
        def forward(self, x):
            out = super().forward(x)
            if self.training and self.global_step == 1:
                out.kl = out.kl + math.nan  # one step's per-example values: the epoch mean is NaN
            return out

    validated = []

    class Watched(Poisoned):
        def validation_step(self, batch, batch_idx):
            validated.append(batch_idx)
            return super().validation_step(batch, batch_idx)

    torch.manual_seed(0)
    model = Watched(latent_dim=2, hidden_dims=[16], iw_samples=2)
    trainer = tiny_trainer(tmp_path, limit_val_batches=1)
    with pytest.raises(LitGenError, match=r"training diverged in epoch 0 \(train/elbo = nan, train/kl = nan\)"):
        trainer.fit(model, datamodule=DigitsDataModule())
    assert validated == []  # stopped before validation ran on the diverged weights


def test_a_nan_loss_stops_training_at_the_epochs_end_without_validation(tmp_path):
    class Poisoned(GAN):
        def training_step(self, batch, batch_idx):
            super().training_step(batch, batch_idx)
            if batch_idx == 0:
                self.log_train_means(g_loss=torch.tensor([math.inf]))

    torch.manual_seed(0)
    model = Poisoned(latent_dim=2, generator_hidden=[8], discriminator_hidden=[8])
    with pytest.raises(LitGenError, match=r"training diverged in epoch 0 \(train/g_loss = inf\)"):
        tiny_trainer(tmp_path).fit(model, datamodule=MixtureDataModule(num_samples=1000, batch_size=100))
