"""The run record: a trial's end record, the single metrics.json writer, a resumed run's whole curve, and the
in-process config check."""

from __future__ import annotations

import csv
import json
import math

import pytest

from lit_gen.cli import main
from lit_gen.errors import LitGenError
from lit_gen.lightning_cli import check_fit_config
from lit_gen.run.history import rows_before
from lit_gen.run.identity import TRIAL_ENV, TrialIdentity
from lit_gen.run.record import read_metrics, update_meta, write_split_metrics
from lit_gen.run.trial_end import TrialEnd, clear_trial_end, read_trial_end, write_trial_end
from tests.conftest import CONFIGS

DIGITS = str(CONFIGS / "experiments" / "vae_digits.yaml")
QUICK = ["--config", DIGITS, "--config", str(CONFIGS / "trainer" / "smoke.yaml"), "--model.init_args.iw_samples", "5",
         "--test_after_fit", "false"]


def train_epochs(path) -> list[int]:
    """The epochs of metrics.csv's training rows, in file order."""
    with open(path) as file:
        return [int(float(row["epoch"])) for row in csv.DictReader(file) if row.get("train/elbo")]


def test_trial_end_round_trip_and_states(tmp_path):
    assert read_trial_end(tmp_path) is None
    write_trial_end(tmp_path, TrialEnd("pruned", float("nan"), "MedianPruner at epoch 3", 1.5, 3))
    end = read_trial_end(tmp_path)
    assert end.state == "pruned" and math.isnan(end.value) and end.reason.startswith("MedianPruner")
    clear_trial_end(tmp_path)
    assert read_trial_end(tmp_path) is None
    with pytest.raises(ValueError, match="finished"):
        TrialEnd("finished")


def test_metrics_json_split_writes_replace_their_split_and_merge_meta(tmp_path):
    write_split_metrics(tmp_path, "val/", {"val/a": 1.0, "val/b": float("inf")}, {"seed": 1})
    write_split_metrics(tmp_path, "test/", {"test/a": 2.0}, {"image_quality": {"test": {"n": 5}}})
    write_split_metrics(tmp_path, "val/", {"val/a": 3.0}, {})
    update_meta(tmp_path, {"image_quality": {"val": {"n": 7}}, "seed": 2})
    content = read_metrics(tmp_path)
    assert content["metrics"] == {"test/a": 2.0, "val/a": 3.0}  # val/b went with the val split it belonged to
    assert content["meta"] == {"seed": 2, "image_quality": {"test": {"n": 5}, "val": {"n": 7}}}
    update_meta(tmp_path, {"image_quality": {"val": None, "test": None}})
    assert "image_quality" not in read_metrics(tmp_path)["meta"]


def test_rows_before_keep_earlier_epochs_and_the_restored_epoch_s_earlier_steps():
    rows = [{"epoch": "0", "step": "9", "train/loss": "1.0", "val/loss": ""},
            {"epoch": "1", "step": "19", "train/loss": "", "val/loss": "0.5"},
            {"epoch": "2", "step": "21", "train/loss": "0.7", "val/loss": ""},  # a step-level row of epoch 2
            {"epoch": "2", "step": "29", "train/loss": "0.6", "val/loss": ""},  # logged after the checkpoint
            {"epoch": "3", "step": "39", "train/loss": "0.5", "val/loss": ""}]
    kept = rows_before(rows, epoch=2, step=25)
    assert [step for step, _ in kept] == [9, 19, 21]
    assert kept[0][1] == {"epoch": 0, "train/loss": 1.0}  # empty cells are not values


@pytest.mark.slow
def test_a_resumed_run_keeps_its_whole_curve_in_metrics_csv(in_tmp):
    run = in_tmp / "run"
    main(["fit", *QUICK, "--trainer.max_epochs", "3", f"--run_dir={run}"])
    assert train_epochs(run / "metrics.csv") == [0, 1, 2]
    # an attempt that got further than its last checkpoint: its later rows are dropped on resume
    with open(run / "metrics.csv", "a") as file:
        file.write("3,999," + ",".join([""] * (len(open(run / "metrics.csv").readline().split(",")) - 2)) + "\n")
    main(["fit", *QUICK, "--trainer.max_epochs", "5", f"--run_dir={run}", "--ckpt_path", "last"])
    assert train_epochs(run / "metrics.csv") == [0, 1, 2, 3, 4]  # every epoch once
    assert not (run / "metrics.resumed.csv").exists()
    # resumed into another directory from the first run's checkpoint: the first run's rows come along
    other = in_tmp / "other"
    main(["fit", *QUICK, "--trainer.max_epochs", "6", f"--run_dir={other}",
          f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}"])
    assert train_epochs(other / "metrics.csv") == [0, 1, 2, 3, 4, 5]
    # a fresh run in a used directory starts a fresh curve, as Lightning's CSV logger does
    main(["fit", *QUICK, "--trainer.max_epochs", "1", f"--run_dir={run}"])
    assert train_epochs(run / "metrics.csv") == [0]


def _identity(**kwargs) -> str:
    return TrialIdentity(study_name="s", number=0, trial_id=0, root_number=0, metric="val/nll_iw", **kwargs).to_env()


@pytest.mark.slow
def test_a_trial_leaves_its_end_record_complete_or_diverged(in_tmp, monkeypatch):
    monkeypatch.setenv(TRIAL_ENV, _identity())  # no `report`: the fit scores only, without a study to talk to
    main(["fit", *QUICK, "--trainer.max_epochs", "1", "--run_dir=ok"])
    end = read_trial_end(in_tmp / "ok")
    assert end.state == "complete" and end.seconds > 0
    assert end.value == read_metrics(in_tmp / "ok")["metrics"]["val/nll_iw"]
    with pytest.raises(SystemExit):
        main(["fit", *QUICK, "--trainer.max_epochs", "2", "--run_dir=bad", "--model.init_args.optimizer.init_args.lr",
              "1000"])
    end = read_trial_end(in_tmp / "bad")
    assert end.state == "diverged" and end.reason.startswith("training diverged"), end
    # a metric the fit does not log: the trial fails, naming the keys it has
    monkeypatch.setenv(TRIAL_ENV, json.dumps({**json.loads(_identity()), "metric": "val/typo"}))
    main(["fit", *QUICK, "--trainer.max_epochs", "1", "--run_dir=typo"])
    end = read_trial_end(in_tmp / "typo")
    assert end.state == "failed" and "'val/typo'" in end.reason and "val/nll_iw" in end.reason


def test_config_check_parses_in_process_and_names_the_wrong_key(in_tmp):
    check_fit_config(["--config", DIGITS, "--model.init_args.latent_dim=3"])
    with pytest.raises(LitGenError, match="latnt_dim"):
        check_fit_config(["--config", DIGITS, "--model.init_args.latnt_dim=3"])
    assert not list(in_tmp.iterdir())  # parsed only: nothing instantiated, nothing written


@pytest.mark.parametrize("component", [
    {"class_path": "MedianPruner", "init_args": {"n_startup_trials": 5, "n_warmup_steps": 10}},
    {"class_path": "optuna.pruners.PatientPruner",
     "init_args": {"patience": 2,
                   "wrapped_pruner": {"class_path": "MedianPruner", "init_args": {"n_warmup_steps": 3}}}},
    None,
])
def test_a_trial_rebuilds_the_pruner_its_sweep_file_names(component):
    """The trial process builds its pruner from the dict its driver read (through the environment), to the same
    object the driver builds."""
    from lit_gen.callbacks.sweep_trial import build_pruner
    from lit_gen.sweep.spec import build_component

    ours, drivers = build_pruner(component), build_component("pruner", component)
    assert type(ours) is type(drivers) and vars(ours).keys() == vars(drivers).keys()
    for key, value in vars(drivers).items():
        if isinstance(value, (int, float, str, type(None))):
            assert vars(ours)[key] == value, key
