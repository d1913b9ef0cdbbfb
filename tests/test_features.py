"""`lit-gen features`: the domain classifier, its stored provenance, and how runs find (or refuse) it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lit_gen.cli import main
from lit_gen.data import DigitsDataModule, ImageFolderDataModule
from lit_gen.errors import LitGenError
from lit_gen.features import auto
from lit_gen.features.store import load_classifier
from tests.conftest import CONFIGS
from tests.helpers import write_fake_mnist

SMOKE = str(CONFIGS / "trainer" / "smoke.yaml")
pytestmark = pytest.mark.usefixtures("offline_one_thread")


def test_features_train_then_a_dcgan_run_reports_fid_kid_is_with_that_classifier(in_tmp, capsys):
    main(["features", "train", "--data", "digits", "--out", "features/digits.pt", "--epochs", "8"])
    assert "test accuracy" in capsys.readouterr().out
    stored = load_classifier(in_tmp / "features" / "digits.pt")  # loads with weights_only=True
    assert stored.info["accuracy"]["test"] > 0.9
    trained_on = stored.info["trained_on"]
    assert trained_on["data"] == "DigitsDataModule" and trained_on["data_shape"] == [1, 8, 8]
    assert trained_on["levels"] == 17 and trained_on["split_sizes"]["test"] == 297
    assert stored.info["versions"]["lit_gen"] and stored.info["training"]["epochs"] == 8

    main(["fit", "--config", str(CONFIGS / "experiments" / "dcgan_digits.yaml"), "--config", SMOKE,
          "--image_quality.domain_classifier", "features/digits.pt", "--image_quality.num_samples", "100"])
    run = in_tmp / "runs" / "dcgan_digits" / "version_0"
    content = json.loads((run / "metrics.json").read_text())
    for key in ["val/fid", "val/kid", "val/is", "test/fid", "test/kid", "test/is"]:
        assert isinstance(content["metrics"][key], float), key
    assert not any(key.endswith("_gmm") for key in content["metrics"])  # a GAN has one sampler
    assert 1.0 <= content["metrics"]["val/is"] <= 10.0
    for split in ("val", "test"):
        provenance = content["meta"]["image_quality"][split]
        assert provenance["backbone"]["file"] == "features/digits.pt"
        assert provenance["backbone"]["sha256"] == stored.sha256[:16]
        assert provenance["backbone"]["test_accuracy"] == stored.info["accuracy"]["test"]
        assert provenance["reference"]["split"] == split and provenance["num_generated"] == 100
        assert provenance["kid"]["subset_size"] == 50  # from 1000 to half of N = 100
    # and the model checkpoints hold the GAN alone
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert {key.split(".")[0] for key in state} == {"generator", "discriminator", "generator_ema"}


def test_a_classifier_for_another_image_shape_is_refused_with_how_to_make_one(in_tmp, capsys):
    main(["features", "train", "--data", "digits", "--out", "digits.pt", "--epochs", "1"])
    write_fake_mnist(in_tmp / "data")
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(CONFIGS / "experiments" / "vae_mnist.yaml"), "--config", SMOKE,
              "--data.init_args.val_size", "50", "--image_quality.domain_classifier", "digits.pt"])
    assert exit_.value.code == 1
    error = capsys.readouterr().err
    assert "shape (1, 8, 8)" in error and "(1, 28, 28)" in error and "lit-gen features train" in error
    assert not (in_tmp / "runs" / "vae_mnist" / "version_0" / "checkpoints").exists()  # stopped before training


def test_a_set_without_labels_gets_told_only_inception_applies(in_tmp, capsys):
    from PIL import Image

    folder = in_tmp / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    (in_tmp / "faces.yaml").write_text(
        "class_path: lit_gen.data.ImageFolderDataModule\ninit_args: {root: faces, size: 8, val_size: 2, test_size: 2}\n"
    )
    with pytest.raises(SystemExit):
        main(["features", "train", "--data", "faces.yaml", "--out", "faces.pt"])
    assert "has no labels" in capsys.readouterr().err
    with pytest.raises(LitGenError, match="only the Inception backbone applies"):
        auto.find_or_train(ImageFolderDataModule("faces", size=8, val_size=2, test_size=2))


def test_auto_uses_the_shipped_digits_classifier_and_trains_once_for_another_split(capsys):
    shipped = auto.find_or_train(DigitsDataModule(), may_train=False)
    assert shipped.parent == auto.PRETRAINED
    assert load_classifier(shipped).info["accuracy"]["test"] > 0.97

    other_split = DigitsDataModule(split_seed=1)
    with pytest.raises(FileNotFoundError):
        auto.find_or_train(other_split, may_train=False)
    trained = auto.find_or_train(other_split)  # a few seconds, into $LIT_GEN_CACHE
    assert trained.parent == auto.cache_dir() and "training a domain classifier" in capsys.readouterr().out
    assert auto.find_or_train(other_split, may_train=False) == trained
    stored = load_classifier(trained)
    assert stored.info["accuracy"]["test"] > 0.9 and stored.info["trained_on"]["settings"]["split_seed"] == 1


def test_processes_that_need_the_same_classifier_at_once_train_it_once(tmp_path):
    """Two sweep workers on a fresh cache: one trains, the other waits for its file, so both score with one
    classifier (two trainings differ in the last bits between processes)."""
    import os
    import subprocess
    import sys

    script = ("from lit_gen.data import DigitsDataModule\nfrom lit_gen.features import auto\n"
              "print('FILE', auto.find_or_train(DigitsDataModule(split_seed=3)))\n")
    env = {**os.environ, "LIT_GEN_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    assert sum(out.count("training a domain classifier") for out in outputs) == 1, outputs
    files = {line.split(" ", 1)[1] for out in outputs for line in out.splitlines() if line.startswith("FILE ")}
    assert len(files) == 1


def test_show_prints_what_a_classifier_was_trained_on(capsys):
    main(["features", "show", str(auto.find_or_train(DigitsDataModule(), may_train=False))])
    shown = json.loads(capsys.readouterr().out)
    assert shown["trained_on"]["data"] == "DigitsDataModule" and len(shown["sha256"]) == 64


def test_a_missing_or_foreign_classifier_file_is_a_clear_error(in_tmp):
    with pytest.raises(LitGenError, match="does not exist: make it with `lit-gen features train"):
        load_classifier(in_tmp / "nowhere.pt")
    torch.save({"weights": torch.zeros(1)}, in_tmp / "other.pt")
    with pytest.raises(LitGenError, match="not a lit_gen domain classifier"):
        load_classifier(in_tmp / "other.pt")
