"""The per-step shortcuts that keep lit_gen's training loop close to a hand-written one give Lightning's answers.

Speed itself is measured by `benchmarks/vae_throughput.py`, never here; these tests check behaviour only.
"""

from __future__ import annotations

import ctypes
import inspect
import re

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.utilities.signature_utils import is_param_in_hook_signature
from torch import nn

from lit_gen import cuda_probe
from lit_gen.callbacks.progress import ProgressBar
from lit_gen.data import DigitsDataModule
from lit_gen.models import VAE


def tiny_trainer(tmp_path, **kwargs) -> Trainer:
    defaults = dict(accelerator="cpu", max_epochs=1, limit_train_batches=3, limit_val_batches=0, logger=False,
                    enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                    num_sanity_val_steps=0, default_root_dir=tmp_path)
    return Trainer(**{**defaults, **kwargs})


def tiny_vae(**kwargs) -> VAE:
    torch.manual_seed(0)
    return VAE(latent_dim=2, hidden_dims=[16], **kwargs)


# --- the NVML check -------------------------------------------------------------------------------------


def test_nvml_check_is_dropped_only_where_nvml_cannot_load(monkeypatch):
    def missing(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setenv(cuda_probe.NVML_CHECK, "1")
    monkeypatch.setattr(cuda_probe.ctypes, "CDLL", missing)
    assert cuda_probe.drop_unusable_nvml_check()
    assert cuda_probe.NVML_CHECK not in cuda_probe.os.environ

    monkeypatch.setenv(cuda_probe.NVML_CHECK, "1")
    monkeypatch.setattr(cuda_probe.ctypes, "CDLL", lambda name: object())  # a machine with the driver
    assert not cuda_probe.drop_unusable_nvml_check()
    assert cuda_probe.os.environ[cuda_probe.NVML_CHECK] == "1"

    monkeypatch.delenv(cuda_probe.NVML_CHECK)  # not asked for: nothing to do, and nothing loaded
    monkeypatch.setattr(cuda_probe.ctypes, "CDLL", missing)
    assert not cuda_probe.drop_unusable_nvml_check()
    assert cuda_probe.NVML_CHECK not in cuda_probe.os.environ


def test_cuda_availability_is_the_same_with_and_without_the_dropped_check(monkeypatch):
    try:
        ctypes.CDLL(cuda_probe.NVML_LIBRARY)
    except OSError:
        pass
    else:
        pytest.skip("NVML loads here: the check is kept")
    monkeypatch.setenv(cuda_probe.NVML_CHECK, "1")
    with_check = torch.cuda.is_available(), torch.cuda.device_count()
    assert cuda_probe.drop_unusable_nvml_check()
    assert (torch.cuda.is_available(), torch.cuda.device_count()) == with_check


# --- the module's hooks ---------------------------------------------------------------------------------


def test_fx_name_is_a_plain_attribute_and_modules_still_register():
    model = tiny_vae()
    model._current_fx_name = "training_step"
    assert model.__dict__["_current_fx_name"] == "training_step"
    model.extra = nn.Linear(2, 2)  # everything else still goes through nn.Module
    assert "extra" in model._modules and "extra.weight" in dict(model.named_parameters())


def test_training_step_signature_is_what_inspect_reads(monkeypatch):
    cached = VAE.training_step.__signature__
    monkeypatch.delattr(VAE.training_step, "__signature__")
    assert cached == inspect.signature(VAE.training_step)
    monkeypatch.undo()
    assert is_param_in_hook_signature(tiny_vae().training_step, "batch_idx", min_args=2)

    class OneArgument(VAE):
        def training_step(self, batch):  # Lightning must see that batch_idx is not wanted
            return super().training_step(batch, 0)

    assert not is_param_in_hook_signature(OneArgument().training_step, "batch_idx", min_args=2)


# --- the epoch means ------------------------------------------------------------------------------------


def test_train_metrics_are_the_epoch_means_of_the_per_example_terms(tmp_path):
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
    trainer = tiny_trainer(tmp_path)
    trainer.fit(model, datamodule=DigitsDataModule())
    for name, values in seen.items():
        expected = torch.cat(values).double().mean()
        torch.testing.assert_close(trainer.callback_metrics[f"train/{name}"].double(), expected, rtol=1e-5, atol=1e-5)
    metrics = trainer.callback_metrics
    assert metrics["train/elbo"] == -(metrics["train/recon"] + metrics["train/kl"])


# --- the progress bar -----------------------------------------------------------------------------------


def test_progress_bar_draws_on_its_clock_and_ends_on_the_final_count(tmp_path, capsys):
    bar = ProgressBar(min_interval=3600)  # nothing but the first draw falls due within the run
    tiny_trainer(tmp_path, max_epochs=4, limit_train_batches=5, enable_progress_bar=True, callbacks=[bar]).fit(
        tiny_vae(), datamodule=DigitsDataModule())
    draws = [d for d in re.split(r"[\r\n]", capsys.readouterr().out) if d.strip()]
    assert len(draws) <= 3, draws  # the empty bar, at most one other, and the final state on closing
    assert "Epoch 3" in draws[-1] and "5/5" in draws[-1] and "train/elbo" in draws[-1], draws[-1]


# --- the checkpoint callback's key ----------------------------------------------------------------------


def test_checkpoint_state_key_is_lightnings_and_follows_its_settings():
    from lightning.pytorch.callbacks import ModelCheckpoint as LightningModelCheckpoint

    from lit_gen.callbacks.checkpoint import ModelCheckpoint

    ours, theirs = ModelCheckpoint(monitor="val/nll_iw", mode="min"), LightningModelCheckpoint(monitor="val/nll_iw")
    assert ours.state_key == theirs.state_key  # checkpoints store callback states under this key
    ours.monitor, theirs.monitor = "val/elbo", "val/elbo"
    ours.mode = theirs.mode = "max"
    assert ours.state_key == theirs.state_key
