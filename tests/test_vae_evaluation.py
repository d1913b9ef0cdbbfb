"""Evaluation sized to the training: validation's IWAE uses the small k, the test's the full k, and metrics.json
records the k of each split; the run prints the time evaluation took."""

from __future__ import annotations

import json

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from lit_gen.callbacks import MetricsJson, default_callbacks
from lit_gen.callbacks.evaluation_time import EvaluationTime
from lit_gen.data import DigitsDataModule
from lit_gen.models import VAE


def test_val_uses_the_small_k_and_test_the_full_k_and_both_are_recorded(tmp_path, monkeypatch, capsys):
    seen: dict[str, set[int]] = {}
    real = VAE.log_marginal_likelihood

    def spy(self, x, num_samples=None):
        split = "test" if self.trainer.testing else "val"
        seen.setdefault(split, set()).add(num_samples or self.iw_samples)
        return real(self, x, num_samples)

    monkeypatch.setattr(VAE, "log_marginal_likelihood", spy)
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden_dims=[16], iw_samples=7, val_iw_samples=3)
    trainer = Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=2, limit_val_batches=1,
                      limit_test_batches=1, num_sanity_val_steps=1, logger=CSVLogger(tmp_path, name="", version=""),
                      callbacks=[MetricsJson(), EvaluationTime(), ModelCheckpoint(monitor="val/nll_iw")],
                      enable_progress_bar=False, enable_model_summary=False)
    data = DigitsDataModule()
    # what `lit-gen fit` does (lightning_cli.LitGenCLI.after_fit): fit, then validate and test the best checkpoint
    trainer.fit(model, datamodule=data)
    trainer.validate(model, datamodule=data, ckpt_path="best", verbose=False)
    trainer.test(model, datamodule=data, ckpt_path="best", verbose=False)
    assert seen == {"val": {3}, "test": {7}}  # every validation (sanity check, epochs, the best's) at 3, the test at 7
    content = json.loads((tmp_path / "metrics.json").read_text())
    assert content["meta"]["iw_samples"] == {"val": 3, "test": 7}
    assert {"val/nll_iw", "val/bpd", "test/nll_iw", "test/bpd"} <= set(content["metrics"])  # the names monitors use
    assert content["meta"]["timing"]["evaluation_seconds"] > 0
    err = capsys.readouterr().err
    assert "evaluation during fit took" in err
    assert "evaluation took" in err and "final validation and test of the best checkpoint" in err


def test_every_cli_run_times_its_evaluation():
    assert any(isinstance(callback, EvaluationTime) for callback in default_callbacks())


def test_the_defaults_keep_validation_cheap_and_the_test_at_k_100():
    model = VAE(latent_dim=2, hidden_dims=[8])
    assert (model.iw_samples_for("val"), model.iw_samples_for("test")) == (10, 100)


def test_a_smaller_k_gives_a_looser_bound_on_average():
    # why the val figure is not compared with the test's: E[log mean of k weights] grows with k (IWAE's theorem)
    torch.manual_seed(0)
    model = VAE(data_shape=(1, 4, 4), latent_dim=2, hidden_dims=[8]).eval()
    x = model.prepare(torch.randint(0, 17, (64, 1, 4, 4)))
    with torch.no_grad():
        nll_small = torch.stack([-model.log_marginal_likelihood(x, 2).mean() for _ in range(10)]).mean()
        nll_large = torch.stack([-model.log_marginal_likelihood(x, 50).mean() for _ in range(10)]).mean()
    assert nll_small > nll_large
