"""`lit-gen sweep status` and `sweep best [--export]` on small studies made by hand with Optuna's API: no training.

The study of `retried_study` is what a user met after stopping a two-worker sweep with Ctrl-C and running it again:
trials 0 and 1 interrupted and retried as trials 2 and 3, then trial 4 COMPLETE and 5 PRUNED; one trial asked
after n_trials was reached (surplus, failed unrun) and one slot whose trial crashed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from optuna.trial import TrialState

from lit_gen.sweep import command
from lit_gen.sweep.driver import open_study_and_storage, print_best
from lit_gen.sweep.export import experiment_limits
from lit_gen.sweep.faults import TrialFaults, lineage
from lit_gen.sweep.results import status_text
from lit_gen.sweep.spec import load_spec
from tests.conftest import CONFIGS
from tests.sweep_helpers import write_spec

LR = "model.init_args.optimizer.init_args.lr"
TRIAL_LIMITS = {"max_epochs": 4, "max_time": "00:00:04:00"}  # what write_spec's trials would run with
VALUES = {2: 9.0, 3: 12.0, 4: 11.0}  # trial 2, a retry of trial 0, is the best


def _trial_config(run_dir: Path) -> None:
    """The parts of a trial's saved config.yaml that `--export` changes (LightningCLI writes every key)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {"seed_everything": 0,
              "trainer": {**TRIAL_LIMITS, "default_root_dir": str(run_dir), "logger": {
                  "class_path": "lightning.pytorch.loggers.CSVLogger",
                  "init_args": {"save_dir": str(run_dir.parent), "name": "", "version": ""}}},
              "model": {"init_args": {"optimizer": {"init_args": {"lr": 0.003}}}},
              "run_dir": str(run_dir), "ckpt_path": str(run_dir / "checkpoints" / "last.ckpt")}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture
def retried_study(tmp_path):
    spec = load_spec(write_spec(tmp_path, space={LR: {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}))
    study, storage, _ = open_study_and_storage(spec)
    faults = TrialFaults(study, storage, storage.get_study_id_from_name(spec.name), spec.faults)

    def take():  # what a worker does: ask, and note the run directory of the trial's slot
        trial = study.ask(spec.distributions())
        root, _ = lineage(storage.get_trial(trial._trial_id))
        run_dir = spec.sweep_dir / "trials" / f"trial-{root}"
        _trial_config(run_dir)
        storage.set_trial_user_attr(trial._trial_id, "run_dir", str(run_dir))
        return trial

    first = [take(), take()]
    for trial in first:  # Ctrl-C: both handed on as retries (trials 2 and 3)
        faults.fail_and_retry(storage.get_trial(trial._trial_id), "interrupted", "worker w0 was stopped")
    for _ in range(4):
        trial = take()
        if trial.number in VALUES:
            study.tell(trial, VALUES[trial.number])
        else:
            study.tell(trial, state=TrialState.PRUNED)
    for failure in ("surplus", "crashed"):
        trial = take()
        storage.set_trial_user_attr(trial._trial_id, "failure", failure)
        storage.set_trial_user_attr(trial._trial_id, "error", "boom\nmore")
        study.tell(trial, state=TrialState.FAIL)
    return spec, study


def test_status_counts_each_slot_once_with_its_retries_under_it(retried_study):
    spec, study = retried_study
    text = status_text(study, spec, 4)
    lines = text.splitlines()
    # 8 Optuna trials; 5 slots: 3 COMPLETE, 1 PRUNED, 1 crashed (the surplus trial never held one)
    assert lines[0] == "sweep test_sweep: 4/4 done — 3 COMPLETE, 1 FAIL, 1 PRUNED"
    assert "8 Optuna trials in all: 2 stopped attempts retried in 2 slots" in lines[1]
    assert "1 surplus trial failed unrun" in lines[1]
    assert "  slot 0: trial 0 FAIL (interrupted) → trial 2 COMPLETE" in lines
    assert "  slot 1: trial 1 FAIL (interrupted) → trial 3 COMPLETE" in lines
    failed = lines[lines.index("failed:") + 1:]
    assert failed == ["  trial 7, crashed: boom"]  # neither the retried attempts nor the surplus trial


def test_the_best_trial_is_named_by_the_trial_that_produced_it(retried_study, capsys):
    spec, study = retried_study
    assert "best trial 2 (slot 0, retry 1): val/nll_iw = 9" in status_text(study, spec, 4).splitlines()
    print_best(study, spec)  # the end of `sweep run`, and `sweep best`
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "best trial 2 (slot 0, retry 1): val/nll_iw = 9"
    assert out[2] == f"  run directory: {spec.sweep_dir / 'trials' / 'trial-0'}"  # the slot's, where it resumed


def test_export_writes_a_replay_by_default_and_full_training_on_request(retried_study, capsys):
    spec, study = retried_study
    for replay in (False, True):
        out = spec.sweep_dir.parent / ("replay.yaml" if replay else "best.yaml")
        command.main(["best", str(spec.path), "--export", str(out), *([] if replay else ["--full"])])
        said = capsys.readouterr().out.splitlines()[-1]
        config = yaml.safe_load(out.read_text())
        trainer = config["trainer"]
        assert "ckpt_path" not in config and "run_dir" not in config and "default_root_dir" not in trainer
        assert config["model"]["init_args"]["optimizer"]["init_args"]["lr"] == 0.003
        assert said.startswith(f"wrote {out}, ") and said.endswith(f"train it with: lit-gen fit --config {out}")
        if replay:
            assert {k: trainer[k] for k in TRIAL_LIMITS} == TRIAL_LIMITS
            assert trainer["logger"]["init_args"]["name"] == "test_sweep-best-replay"
            assert "a replay of the best trial with the sweep's limits: max_epochs 4, max_time 00:00:04:00" in said
        else:  # vae_digits.yaml says 100 epochs and no time limit
            assert trainer["max_epochs"] == 100 and trainer["max_time"] is None
            assert trainer["logger"]["init_args"]["name"] == "test_sweep-best"
            assert ("full training with the best values: max_epochs 100, no max_time, as the experiment says "
                    "(the trial: max_epochs 4, max_time 00:00:04:00)") in said
        assert "trial 2 (slot 0, retry 1)" in out.read_text().splitlines()[0]


def test_the_experiment_s_own_limits_come_from_its_files_then_the_sweep_s_overrides(tmp_path):
    (tmp_path / "trainer.yaml").write_text("max_epochs: 7\nmax_time: '00:01:00:00'\n")
    (tmp_path / "base.yaml").write_text("trainer: trainer.yaml\n")
    (tmp_path / "more.yaml").write_text("trainer: {max_epochs: 9}\n")
    experiment = str(CONFIGS / "experiments" / "vae_digits.yaml")  # the model and data; 100 epochs, overridden below
    files = [experiment, str(tmp_path / "base.yaml"), str(tmp_path / "more.yaml")]
    spec = load_spec(write_spec(tmp_path, config=files))
    assert experiment_limits(spec) == {"max_epochs": 9, "max_time": "00:01:00:00"}
    spec = load_spec(write_spec(tmp_path, config=[experiment, str(tmp_path / "base.yaml")],
                                overrides=["--trainer.max_epochs=12", "--trainer.max_time=null"]))
    assert experiment_limits(spec) == {"max_epochs": 12, "max_time": None}


def _dead_controller(folder: Path) -> Path:
    """A slurm.conf whose controller is a free port on this machine: nothing answers there (no cluster touched)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = folder / "slurm.conf"
    conf.write_text(f"ClusterName=gone\nSlurmctldHost={socket.gethostname()}(127.0.0.1)\nSlurmctldPort={port}\n"
                    "MessageTimeout=1\n"  # scontrol gives up at once instead of retrying for ~18 s
                    f"NodeName={socket.gethostname()} CPUs=1\nPartitionName=p Nodes=ALL Default=YES\n")
    return conf


@pytest.mark.parametrize("outage", ["controller down", "no SLURM here"])
def test_status_shows_the_study_when_slurm_cannot_be_asked(retried_study, outage, monkeypatch, capsys):
    spec, _ = retried_study
    jobs = spec.sweep_dir / "slurm" / "jobs.json"
    jobs.parent.mkdir(parents=True)
    jobs.write_text(json.dumps({"jobs": [{"job_id": "1", "workers": 2}, {"job_id": "2", "workers": 1}]}))
    if outage == "controller down":
        if subprocess.run(["which", "scontrol"], capture_output=True).returncode != 0:
            pytest.skip("SLURM's client is not installed")
        monkeypatch.setenv("SLURM_CONF", str(_dead_controller(spec.sweep_dir)))
        expected = "SLURM jobs: not shown, the SLURM controller cannot be reached (scontrol: "
    else:  # a laptop: no SLURM client at all
        monkeypatch.setenv("PATH", str(spec.sweep_dir))
        expected = "SLURM jobs: not shown, `scontrol` is not on the PATH"
    command.main(["status", str(spec.path)])  # returns: exit code 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "sweep test_sweep: 4/4 done — 3 COMPLETE, 1 FAIL, 1 PRUNED"
    assert out[-1].startswith(expected) and out[-1].endswith("the trials above come from the study's storage")
    assert sum("SLURM" in line for line in out) == 1


def test_status_and_best_import_neither_torch_nor_lightning(retried_study):
    """They only read the study: `lit-gen sweep status` answers in about a second instead of ~10."""
    spec, _ = retried_study
    code = ("import sys; from lit_gen.cli import main\n"
            f"main(['sweep', 'status', {str(spec.path)!r}]); main(['sweep', 'best', {str(spec.path)!r}])\n"
            "heavy = sorted(m for m in ('torch', 'lightning', 'matplotlib') if m in sys.modules)\n"
            "assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "best trial 2 (slot 0, retry 1)" in result.stdout
