"""The `lit-gen` command as users run it: configs, run directories, metrics.json, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import yaml

import lit_gen
import lit_gen.lightning_cli  # noqa: F401  (Lightning's log handler then holds the real stderr, not one test's capture)
from lit_gen.cli import main
from tests.conftest import CONFIGS
from tests.helpers import write_fake_cifar10, write_fake_mnist

SMOKE = str(CONFIGS / "trainer" / "smoke.yaml")


def fit(*args: str) -> None:
    main(["fit", *args])


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lit_gen.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_fit_writes_the_run_directory(in_tmp, capsys, caplog):
    fit("--config", str(CONFIGS / "experiments" / "vae_digits.yaml"), "--config", SMOKE,
        "--trainer.max_epochs", "2", "--model.init_args.iw_samples", "10",
        "--trainer.enable_progress_bar", "true", "--trainer.enable_model_summary", "true")
    run = in_tmp / "runs" / "vae_digits" / "version_0"
    content = json.loads((run / "metrics.json").read_text())
    for key in ["val/elbo", "val/kl", "val/recon", "val/nll_iw", "val/bpd", "test/nll_iw", "test/elbo"]:
        assert isinstance(content["metrics"][key], float), key
    metrics = content["metrics"]
    assert metrics["val/elbo"] == pytest.approx(-(metrics["val/recon"] + metrics["val/kl"]), rel=1e-4)
    meta = content["meta"]
    assert meta["seed"] == 0 and meta["split_sizes"] == {"train": 1350, "val": 150, "test": 297}
    assert meta["versions"]["torch"] == torch.__version__
    assert (run / "checkpoints" / "last.ckpt").is_file() and list((run / "checkpoints").glob("best-*.ckpt"))
    assert (run / "images" / "epoch_0001_samples.png").is_file()
    assert (run / "images" / "epoch_0001_reconstructions.png").is_file()
    assert (run / "images" / "epoch_0001_interpolation.png").is_file()
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["init_args"]["iw_samples"] == 10
    captured = capsys.readouterr()
    assert f"Results in {run.relative_to(in_tmp)}" in captured.out and "test/nll_iw" in captured.out
    assert "density on [0,1]^(1×8×8)" in captured.out and "bpd" in captured.out  # what a negative nll_iw means
    # stderr is not a terminal here: one line per epoch instead of bars, the model in one line, no advertisement
    assert "epoch 1/2  step 3  train/elbo" in captured.err and "epoch 2/2  step 6" in captured.err, captured.err
    assert "it/s" not in captured.err
    logged = [record.getMessage() for record in caplog.records]
    assert any("trainable parameters" in line for line in logged) and not any("💡" in line for line in logged)
    assert not any(line.startswith("image quality") and "{" in line for line in logged)  # provenance: in the file


def test_saved_config_reruns_the_same_experiment(in_tmp):
    fit("--config", str(CONFIGS / "experiments" / "vae_digits.yaml"), "--config", SMOKE,
        "--model.init_args.latent_dim", "3", "--model.init_args.iw_samples", "5")
    first = in_tmp / "runs" / "vae_digits" / "version_0"
    fit("--config", str(first / "config.yaml"), "--trainer.logger.init_args.version", "rerun")
    second = in_tmp / "runs" / "vae_digits" / "rerun"
    a = json.loads((first / "metrics.json").read_text())["metrics"]
    b = json.loads((second / "metrics.json").read_text())["metrics"]
    # same seed, same config: the same run (val/test dequantisation noise is seeded too)
    assert a["val/elbo"] == pytest.approx(b["val/elbo"], rel=1e-4)
    assert lit_gen.load(second).latent_dim == 3


def test_last_checkpoint_is_the_last_epoch_even_when_it_is_not_the_best(in_tmp):
    # the KL rises from ~0 as the encoder starts to use z, so monitoring its minimum makes epoch 0 the best
    fit("--config", str(CONFIGS / "experiments" / "vae_digits.yaml"), "--config", SMOKE,
        "--trainer.max_epochs", "4", "--model.init_args.iw_samples", "5",
        "--checkpoint.monitor", "val/kl", "--checkpoint.mode", "min")
    checkpoints = in_tmp / "runs" / "vae_digits" / "version_0" / "checkpoints"
    last = torch.load(checkpoints / "last.ckpt", weights_only=False)
    assert last["epoch"] == 3
    best = next(checkpoints.glob("best-*.ckpt"))
    assert torch.load(best, weights_only=False)["epoch"] == 0


def test_a_diverging_run_stops_with_a_clear_message_and_keeps_its_checkpoints(in_tmp):
    result = run_cli("fit", "--config", str(CONFIGS / "experiments" / "vae_digits.yaml"), "--config", SMOKE,
                     "--trainer.max_epochs", "3", "--model.init_args.optimizer.init_args.lr", "1000",
                     "--model.init_args.iw_samples", "5", cwd=in_tmp)
    assert result.returncode == 1
    assert "training diverged" in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]


def test_test_after_fit_can_be_switched_off(in_tmp):
    fit("--config", str(CONFIGS / "experiments" / "vae_digits.yaml"), "--config", SMOKE,
        "--model.init_args.iw_samples", "5", "--test_after_fit", "false")
    metrics = json.loads((in_tmp / "runs" / "vae_digits" / "version_0" / "metrics.json").read_text())["metrics"]
    assert "val/nll_iw" in metrics and not any(k.startswith("test/") for k in metrics)


def test_load_returns_a_model_that_encodes_decodes_and_samples(in_tmp):
    fit("--config", str(CONFIGS / "experiments" / "vae_digits.yaml"), "--config", SMOKE,
        "--model.init_args.iw_samples", "5")
    model = lit_gen.load(in_tmp / "runs" / "vae_digits" / "version_0")
    assert not model.training
    x = torch.rand(4, 1, 8, 8)
    posterior = model.encode(x)
    assert posterior.mean.shape == (4, 8)
    assert model.decode(posterior.mean).shape == (4, 1, 8, 8)
    assert model.sample(5).shape == (5, 1, 8, 8)


def test_sample_command_writes_a_png(in_tmp, capsys):
    fit("--config", str(CONFIGS / "experiments" / "vae_digits.yaml"), "--config", SMOKE,
        "--model.init_args.iw_samples", "5")
    ckpt = in_tmp / "runs" / "vae_digits" / "version_0" / "checkpoints" / "last.ckpt"
    main(["sample", "--ckpt_path", str(ckpt), "--num", "16", "--out", "grid.png"])
    from PIL import Image

    with Image.open(in_tmp / "grid.png") as image:
        assert image.width > 100
    assert "16 samples written" in capsys.readouterr().out


@pytest.mark.parametrize("experiment", sorted(p.name for p in (CONFIGS / "experiments").glob("*.yaml")))
def test_every_experiment_config_runs_with_a_tiny_budget(in_tmp, experiment):
    write_fake_mnist(in_tmp / "data")  # the torchvision experiments read real-format files
    write_fake_mnist(in_tmp / "data", folder="FashionMNIST")
    write_fake_cifar10(in_tmp / "data")
    # without FID/KID/IS: on random pixels each experiment would train a domain classifier of its own (20–80 s
    # each); the domain classifier and image-quality path are tested in test_image_quality.py and test_features.py
    fit("--config", str(CONFIGS / "experiments" / experiment), "--config", SMOKE,
        "--data.init_args.val_size", "50", "--trainer.logger.init_args.version", "smoke",
        "--image_quality.backbone", "none")
    folders = list((in_tmp / "runs").glob("*/smoke"))
    assert len(folders) == 1 and (folders[0] / "metrics.json").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model.init_args.latent_dim", "0"], "--model.init_args.latent_dim 0: must be > 0"),
        (["--model.init_args.likelihood.init_args.sigma", "-0.1"],
         "--model.init_args.likelihood.init_args.sigma -0.1: must be > 0"),
        (["--model.init_args.latnet_dim", "16"],
         "--model.init_args.latnet_dim: unknown key 'latnet_dim' of lit_gen.models.VAE: did you mean 'latent_dim'?"),
        (["--config", "typo.yaml"],
         "typo.yaml: model.init_args.latnet_dim: unknown key 'latnet_dim' of lit_gen.models.VAE: did you mean "
         "'latent_dim'?"),
        (["--config", "experiment.yaml"],  # the file named is the one that holds the value, not the one naming it
         "model.yaml: init_args.likelihood.init_args.sigma = -0.5: must be > 0"),
        (["--trainer.max_epocs", "3"], "--trainer.max_epocs: unknown key 'trainer.max_epocs': did you mean "
                                       "'trainer.max_epochs'?"),
        (["--trainer.max_epochs", "many"], "--trainer.max_epochs many: expected a whole number"),
        (["--data", "lit_gen.data.MNISTDataModule", "--data.init_args.data_dir", "missing"], "MNIST/raw"),
        (["--ckpt_path", "damaged.ckpt"], "damaged.ckpt cannot be read"),
        (["--ckpt_path", "nowhere.ckpt"], "nowhere.ckpt does not exist"),
    ],
)
def test_bad_input_is_one_clear_message_and_a_nonzero_exit(in_tmp, capsys, args, message):
    """In this process, as `lit-gen` runs it (an exception other than the exit would fail the test with its
    traceback); `test_a_diverging_run_stops_with_a_clear_message_and_keeps_its_checkpoints` runs a real process."""
    (in_tmp / "damaged.ckpt").write_bytes(b"PK\x03\x04 not really a zip")
    (in_tmp / "typo.yaml").write_text("model:\n  init_args:\n    latnet_dim: 16\n")
    (in_tmp / "model.yaml").write_text("class_path: lit_gen.models.VAE\ninit_args:\n  likelihood:\n"
                                       "    class_path: lit_gen.models.GaussianLikelihood\n"
                                       "    init_args:\n      sigma: -0.5\n")
    (in_tmp / "experiment.yaml").write_text("model: model.yaml\n")
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(CONFIGS / "experiments" / "vae_digits.yaml"), *args])
    stderr = capsys.readouterr().err
    assert exit_.value.code not in (0, None)
    assert "lit-gen: error:" in stderr and message in stderr, stderr[-2000:]
    assert "usage:" not in stderr and len(stderr.strip().splitlines()) <= 3, stderr


@pytest.mark.parametrize(
    "command, word, message",
    [
        ("fit", "best", "`best` exists only once a fit has run"),
        ("fit", "hpc", "leave --ckpt_path out"),
        ("test", "best", "needs the checkpoint file or the run directory"),
        ("validate", "hpc", "needs the checkpoint file or the run directory"),
        # Lightning would warn and evaluate the untrained weights
        ("test", "last", "needs the checkpoint file or the run directory"),
    ],
)
def test_lightning_checkpoint_words_a_command_cannot_resolve_are_one_clear_message(in_tmp, capsys, command, word,
                                                                                    message):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--config", str(CONFIGS / "experiments" / "vae_digits.yaml"), "--ckpt_path", word])
    stderr = capsys.readouterr().err
    assert exit_.value.code not in (0, None)
    assert f"lit-gen: error: --ckpt_path {word}" in stderr and message in stderr, stderr[-2000:]
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) <= 3, stderr


def test_lightning_registry_checkpoints_are_left_to_lightning():
    from jsonargparse import Namespace

    from lit_gen.checkpoints import checkpoint_as_data

    for command in ("fit", "test"):
        for word in ("registry", "registry:my-model:latest"):  # not read here, and not refused as best/last/hpc are
            assert checkpoint_as_data(Namespace(ckpt_path=word), command).ckpt_path == word


def test_a_run_directory_stands_for_its_checkpoint_in_test(in_tmp):
    quick = ["--config", str(CONFIGS / "experiments" / "vae_digits.yaml"), "--image_quality.every_n_epochs", "0",
             "--trainer.limit_train_batches", "2", "--trainer.enable_progress_bar", "false"]
    main(["fit", *quick, "--trainer.max_epochs", "1", "--run_dir", "run"])
    main(["test", *quick, "--ckpt_path", "run", "--run_dir", "tested"])
    tested = json.loads((in_tmp / "tested" / "metrics.json").read_text())
    assert tested["meta"]["test_checkpoint"].endswith("run/checkpoints/best-0000.ckpt")
    assert "test/nll_iw" in tested["metrics"]


def test_load_of_a_damaged_checkpoint_is_a_clear_error(in_tmp):
    (in_tmp / "bad.ckpt").write_text("garbage")
    with pytest.raises(lit_gen.errors.LitGenError, match="cannot be read"):
        lit_gen.load(in_tmp / "bad.ckpt")


def test_the_process_group_is_closed_before_the_interpreter_exits():
    """Under DDP, `lit-gen` destroys the process group (joining gloo's threads) before Python shuts down: a gloo
    thread left running can abort a finished run at exit. One gloo rank stands in for a DDP run here."""
    import torch.distributed as dist

    from lit_gen.lightning_cli import end_process_group

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        dist.broadcast(torch.zeros(3), src=0)  # a collective whose work a gloo thread finishes
        end_process_group()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    end_process_group()  # without a group: nothing to do
