"""Evaluation sized to the training: validation's IWAE uses the small k, the test's the full k, and metrics.json
records the k of each split; the run prints the time evaluation took."""

from __future__ import annotations

import json

import torch

from lit_gen.cli import main
from lit_gen.models import VAE
from tests.conftest import CONFIGS

SMOKE = str(CONFIGS / "trainer" / "smoke.yaml")
VAE_DIGITS = str(CONFIGS / "experiments" / "vae_digits.yaml")


def test_val_uses_the_small_k_and_test_the_full_k_and_both_are_recorded(in_tmp, monkeypatch, capsys):
    seen: dict[str, set[int]] = {}
    real = VAE.log_marginal_likelihood

    def spy(self, x, num_samples=None):
        split = "val" if self.trainer.validating or self.trainer.sanity_checking else "test"
        seen.setdefault(split, set()).add(num_samples or self.iw_samples)
        return real(self, x, num_samples)

    monkeypatch.setattr(VAE, "log_marginal_likelihood", spy)
    main(["fit", "--config", VAE_DIGITS, "--config", SMOKE, "--model.init_args.hidden_dims", "[16]",
          "--model.init_args.iw_samples", "7", "--model.init_args.val_iw_samples", "3",
          "--images.every_n_epochs", "0", "--image_quality.backbone", "none"])
    assert seen == {"val": {3}, "test": {7}}  # every validation (in fit and after it) at 3, the test at 7
    content = json.loads((in_tmp / "runs" / "vae_digits" / "version_0" / "metrics.json").read_text())
    assert content["meta"]["iw_samples"] == {"val": 3, "test": 7}
    assert {"val/nll_iw", "val/bpd", "test/nll_iw", "test/bpd"} <= set(content["metrics"])  # the names monitors use
    assert content["meta"]["timing"]["evaluation_seconds"] <= content["meta"]["timing"]["fit_seconds"]
    err = capsys.readouterr().err
    assert "evaluation during fit took" in err
    assert "evaluation took" in err and "final validation and test of the best checkpoint" in err


def test_the_defaults_keep_validation_cheap_and_the_test_at_k_100():
    model = VAE(latent_dim=2, hidden_dims=[8])
    assert (model.iw_samples_for("val"), model.iw_samples_for("test")) == (10, 100)


def test_a_smaller_k_gives_a_looser_bound_on_average():
    # why the val figure is not compared with the test's: E[log mean of k weights] grows with k (IWAE's theorem)
    torch.manual_seed(0)
    model = VAE(data_shape=(1, 4, 4), latent_dim=2, hidden_dims=[8]).eval()
    x = model.prepare(torch.randint(0, 17, (64, 1, 4, 4)))
    with torch.no_grad():
        nll_small = torch.stack([-model.log_marginal_likelihood(x, 2).mean() for _ in range(20)]).mean()
        nll_large = torch.stack([-model.log_marginal_likelihood(x, 50).mean() for _ in range(20)]).mean()
    assert nll_small > nll_large
