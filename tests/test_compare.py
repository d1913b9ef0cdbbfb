"""`lit-gen compare`: models on the same data side by side; clear errors for what cannot be compared."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
import yaml
from lightning.pytorch import Trainer
from PIL import Image

from lit_gen.compare import Entry, _data_overrides, main, markdown_table
from lit_gen.compare.likelihood import likelihood_entries
from lit_gen.data import DigitsDataModule
from lit_gen.errors import LitGenError
from lit_gen.metrics.divergences import Estimate
from lit_gen.models import VAE, BernoulliLikelihood, GaussianLikelihood
from tests.conftest import CONFIGS

SMOKE = str(CONFIGS / "trainer" / "smoke.yaml")
#: a small ring for every config (the experiments' own data, shared, take minutes to train on)
SAME_RING = ["--data.init_args.num_samples", "20000", "--data.init_args.val_size", "3000",
             "--data.init_args.test_size", "3000"]
FEW = ["--num_data", "400", "--num_model_samples", "400", "--kde_samples", "800", "--kde_cv_samples", "300"]


def fake_run(folder, **data_args):
    """A run directory as far as compare's first checks look: config.yaml and a checkpoint file."""
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "last.ckpt").write_bytes(b"")
    data = {"class_path": "lit_gen.data.MixtureDataModule", "init_args": {"shape": "ring", **data_args}}
    (folder / "config.yaml").write_text(yaml.safe_dump({"data": data}))
    return folder


# --- what cannot be compared -----------------------------------------------------------------------------


def test_a_missing_run_directory_is_named_with_the_fix(in_tmp):
    with pytest.raises(LitGenError, match="runs/nowhere does not exist: give a finished run directory"):
        main(["runs/nowhere", str(CONFIGS / "experiments" / "gan_ring8.yaml")])


def test_a_folder_that_is_not_a_run_is_refused(in_tmp):
    (in_tmp / "empty").mkdir()
    with pytest.raises(LitGenError, match="not a lit_gen run directory"):
        main(["empty"])
    fake_run(in_tmp / "nockpt")
    (in_tmp / "nockpt" / "checkpoints" / "last.ckpt").unlink()
    with pytest.raises(LitGenError, match="holds no checkpoints"):
        main(["nockpt"])


def test_runs_on_different_data_are_refused_naming_the_difference(in_tmp):
    fake_run(in_tmp / "a", std=0.01)
    fake_run(in_tmp / "b", std=0.05, batch_size=64)  # the batch size does not change the data
    with pytest.raises(LitGenError, match=r"^a and b use different data \(std: 0.01 vs 0.05\)"):
        main(["a", "b"])


def test_configs_on_different_data_are_refused_before_any_training(in_tmp):
    vae, gan = CONFIGS / "experiments" / "vae_mixture.yaml", CONFIGS / "experiments" / "gan_grid25.yaml"
    with pytest.raises(LitGenError, match=r"shape: 'ring' vs 'grid'; std: 0.01 vs 0.05"):  # a ring, a grid
        main([str(vae), str(gan), "--out_dir", "out"])
    assert not (in_tmp / "out").exists()  # nothing was trained
    # with the same data given after `--` the check passes (and training would start): check the parsing only
    assert _data_overrides(["--config", "x.yaml", "--data.init_args.std", "0.05", "--data.init_args.radius=2"]) \
        == {"std": 0.05, "radius": 2}
    assert _data_overrides(["--data", "configs/data/mixture_grid25.yaml"]) is None  # left to the check after fit


@pytest.mark.slow  # a fresh interpreter imports lightning: ~8 s on 2 cores
def test_the_command_line_reports_one_line_and_a_nonzero_exit(in_tmp):
    result = subprocess.run([sys.executable, "-m", "lit_gen.cli", "compare", "missing_run"], cwd=in_tmp,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("lit-gen: error: missing_run does not exist")


def test_the_table_shows_the_columns_some_model_has():
    entries = [Entry("a", "vae", extra={"class": "VAE"}), Entry("b", "gan", extra={"class": "GAN"})]
    rows = [{"kl_data_model": Estimate(1.25, 0.01), "modes_covered": 7, "num_modes": 8},
            {"kl_data_model": Estimate(0.5, 0.02), "jsd_lower_bound": Estimate(0.1, 0.001), "modes_covered": 8,
             "num_modes": 8}]
    table = markdown_table(entries, rows).splitlines()
    assert table[0] == "| model | class | KL(data‖model) | JSD ≥ (D) | modes |"
    assert table[2] == "| vae | VAE | 1.25 ± 0.01 | — | 7/8 |"
    assert table[3] == "| gan | GAN | 0.5 ± 0.02 | 0.1 ± 0.001 | 8/8 |"


# --- likelihoods side by side only where they describe the same data ------------------------------------------


def digits_vae_run(folder, likelihood) -> dict[str, float]:
    """A digits VAE run directory as `lit-gen fit` leaves it, made in-process: untrained, tested, checkpointed."""
    torch.manual_seed(0)
    model = VAE(likelihood=likelihood, latent_dim=2, hidden_dims=[16], iw_samples=2)
    trainer = Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, accelerator="cpu")
    data = {"val_size": 10, "test_size": 50}
    (metrics,) = trainer.test(model, datamodule=DigitsDataModule(**data), verbose=False)
    (folder / "checkpoints").mkdir(parents=True)
    trainer.save_checkpoint(folder / "checkpoints" / "last.ckpt")
    config = {"data": {"class_path": "lit_gen.data.DigitsDataModule", "init_args": data}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "metrics.json").write_text(json.dumps({"metrics": metrics, "meta": {}}))
    return metrics


def test_compare_puts_only_bits_per_dimension_of_the_same_images_in_one_column(in_tmp, capsys):
    gaussian = digits_vae_run(in_tmp / "gaussian", GaussianLikelihood(0.1))
    grey = digits_vae_run(in_tmp / "grey", BernoulliLikelihood())
    main(["gaussian", "grey", "--out_dir", "out"])
    assert "Results in out" in capsys.readouterr().out
    text = (in_tmp / "out" / "compare.md").read_text()
    lines = text.splitlines()
    assert "| model | class | bpd |" in lines  # no column of nll_iw in nats
    rows = {line.split(" | ")[0].split("/")[-1]: line for line in lines if line.startswith("| ") and "VAE" in line}
    assert rows["gaussian"].endswith(f"| VAE | {gaussian['test/bpd']:.4g} |")  # what the run logged as its bpd
    assert rows["grey"].endswith("| VAE | — (note 1) |")
    assert f"grey: BernoulliLikelihood on grey targets: nll_iw = {grey['test/nll_iw']:.4g} nats is a " \
           "cross-entropy against grey values" in text
    assert "an upper bound in expectation" in text and "not the code length itself" in text
    models = {m["label"].split("/")[-1]: m["metrics"] for m in json.loads((in_tmp / "out" / "compare.json")
                                                                            .read_text())["models"]}
    assert models["gaussian"]["bpd"] == pytest.approx(gaussian["test/bpd"], rel=1e-5)
    assert models["gaussian"]["nll_iw"] == gaussian["test/nll_iw"] and "likelihood_note" not in models["gaussian"]
    # the grey Bernoulli's nll_iw is kept, with the reason it has no column
    assert models["grey"]["nll_iw"] == grey["test/nll_iw"] and "bpd" not in models["grey"]
    assert "cross-entropy against grey values" in models["grey"]["likelihood_note"]


def test_bits_per_dimension_add_the_dequantisation_offset_and_other_likelihoods_say_why_not():
    gaussian = GaussianLikelihood(0.1)
    gaussian.bind((1, 8, 8), 17)
    entries = likelihood_entries(gaussian, -50.0)
    assert entries == {"nll_iw": -50.0, "bpd": pytest.approx((-50.0 + 64 * math.log(17)) / (64 * math.log(2)))}
    binary = BernoulliLikelihood(binarize=True)
    binary.bind((1, 8, 8), 17)
    note = likelihood_entries(binary, 50.0)["likelihood_note"]
    assert f"{50 / (64 * math.log(2)):.4g} bits per dimension of binarised images" in note
    assert "other data than the 17-level images: not comparable" in note
    plain = GaussianLikelihood(0.1, dequantize=False)
    plain.bind((1, 8, 8), 17)
    assert "without dequantisation" in likelihood_entries(plain, -50.0)["likelihood_note"]
    continuous = GaussianLikelihood(0.1)
    continuous.bind((2,), None)
    assert likelihood_entries(continuous, 1.5) == {"nll_iw": 1.5, "nll_iw_continuous": 1.5}
    assert likelihood_entries(None, 1.5) == likelihood_entries(gaussian, None) == {}  # a GAN; a run without test
    entry_rows = [Entry("a", "a", extra={"class": "VAE"}), Entry("b", "b", extra={"class": "GAN"})]
    table = markdown_table(entry_rows, [likelihood_entries(plain, -50.0), {"fid": 3.0}]).splitlines()
    assert table[:4] == ["| model | class | bpd | FID |", "| --- | --- | --- | --- |",
                         "| a | VAE | — (note 1) | — |", "| b | GAN | — | 3 |"]
    assert table[5].startswith("- Note 1. a: GaussianLikelihood without dequantisation")


# --- a VAE and a GAN on the ring of 8, trained by compare, then compared again from their run directories ---


@pytest.mark.slow
def test_compare_trains_configs_then_compares_their_runs_again_with_the_same_numbers(in_tmp, capsys):
    vae, gan = CONFIGS / "experiments" / "vae_mixture.yaml", CONFIGS / "experiments" / "gan_ring8.yaml"
    main([str(vae), str(gan), "--out_dir", "first", *FEW, "--", "--config", SMOKE, *SAME_RING])
    out = capsys.readouterr().out
    assert "| vae_mixture | VAE | IWAE k=100 |" in out and "| gan_ring8 | GAN | KDE h=" in out
    assert "Results in first: compare.md, compare.json, compare.png" in out
    first = json.loads((in_tmp / "first" / "compare.json").read_text())
    assert [m["label"] for m in first["models"]] == ["vae_mixture", "gan_ring8"]
    assert all(m["trained_here"] for m in first["models"])
    vae_metrics, gan_metrics = (m["metrics"] for m in first["models"])
    for metrics in (vae_metrics, gan_metrics):
        for key in ("nll", "kl_data_model", "kl_model_data", "jsd", "modes_covered", "high_quality"):
            assert key in metrics, key
        assert metrics["kl_data_model_se"] > 0
        assert 0 <= metrics["jsd"] <= 0.6932
        # the identity kl_data_model = −H(p_data) + NLL, on the same points
        entropy = first["entropy_data"]["entropy_data"]
        assert metrics["kl_data_model"] == pytest.approx(metrics["nll"] - entropy, abs=1e-6)
    assert "jsd_lower_bound" in gan_metrics and "jsd_lower_bound" not in vae_metrics
    assert gan_metrics["jsd_lower_bound"] <= gan_metrics["jsd"] + 4 * gan_metrics["jsd_se"]
    assert "| model | class |" in (in_tmp / "first" / "compare.md").read_text()
    with Image.open(in_tmp / "first" / "compare.png") as image:
        assert image.width > 3 * image.height / 2  # data + two panels side by side
    # the fit runs logged the callback's estimates too
    run_metrics = json.loads((in_tmp / "first" / "runs" / "gan_ring8" / "metrics.json").read_text())
    assert "test/kl_data_model" in run_metrics["metrics"] and "test/jsd_se" in run_metrics["metrics"]

    # the finished runs, loaded: the same seed and settings give the same numbers
    main(["first/runs/vae_mixture", "first/runs/gan_ring8", "--out_dir", "second", *FEW])
    second = json.loads((in_tmp / "second" / "compare.json").read_text())
    for a, b in zip(first["models"], second["models"], strict=True):
        assert a["metrics"] == pytest.approx(b["metrics"])
        assert not b["trained_here"]
    # a config's run directory cannot be reused by accident
    with pytest.raises(LitGenError, match="already exists"):
        main([str(vae), "--out_dir", "first", "--", "--config", SMOKE, *SAME_RING])


@pytest.mark.slow
def test_compare_on_images_reads_fid_from_the_runs(in_tmp, capsys):
    vae, gan = CONFIGS / "experiments" / "vae_digits.yaml", CONFIGS / "experiments" / "dcgan_digits.yaml"
    main([str(vae), str(gan), "--out_dir", "digits", "--", "--config", SMOKE,
          "--image_quality.num_samples", "100"])
    content = json.loads((in_tmp / "digits" / "compare.json").read_text())
    vae_metrics, gan_metrics = (m["metrics"] for m in content["models"])
    assert {"nll_iw", "bpd", "fid", "kid", "is"} <= set(vae_metrics) and {"fid", "kid", "is"} <= set(gan_metrics)
    assert "kl_data_model" not in vae_metrics  # no exact density for the digits
    assert content["entropy_data"] is None
    assert "| bpd | FID | KID | IS |" in capsys.readouterr().out
    assert (in_tmp / "digits" / "compare.png").is_file()
