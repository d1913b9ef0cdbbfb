"""Sweeps as users run them: `lit-gen sweep run` in its own process, workers in parallel, faults on purpose."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lit_gen.run.trial_end import read_trial_end
from lit_gen.sweep.faults import lineage
from tests.sweep_helpers import (
    BAD_LR,
    DIVERGING_LR,
    GOOD_LR,
    TINY_OVERRIDES,
    a_dead_worker_s_trials_are_retried_then_given_up,
    load_trials,
    run_sweep_cli,
    states,
    write_spec,
)

pytestmark = pytest.mark.slow
LR = "model.init_args.optimizer.init_args.lr"


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    """Four trials on two workers, in a fixed order: two good learning rates, then a hopeless one the median
    pruner must stop early, then one that diverges."""
    folder = tmp_path_factory.mktemp("sweep")
    spec = write_spec(folder, pruner={"class_path": "MedianPruner",
                                      "init_args": {"n_startup_trials": 1, "n_warmup_steps": 0}},
                      enqueue=[{LR: GOOD_LR}, {LR: GOOD_LR}, {LR: BAD_LR}, {LR: DIVERGING_LR}])
    result = run_sweep_cli("run", str(spec), "--workers", "2", cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, spec, result


def test_two_workers_finish_exactly_the_requested_trials_and_the_pruner_stops_a_bad_one(finished_sweep):
    folder, spec, result = finished_sweep
    trials = load_trials(spec)
    assert states(trials) == {"COMPLETE": 2, "PRUNED": 2}, [(t.number, t.state, t.user_attrs) for t in trials]
    by_lr = {t.params[LR]: t for t in trials if t.params[LR] != GOOD_LR}
    hopeless = by_lr[BAD_LR]
    assert hopeless.state.name == "PRUNED" and "MedianPruner" in hopeless.user_attrs["pruned"]
    assert len(hopeless.intermediate_values) < 4  # stopped before its 4 epochs
    end = read_trial_end(Path(hopeless.user_attrs["run_dir"]))  # what the trial told its worker
    assert end.state == "pruned" and end.reason == hopeless.user_attrs["pruned"] and end.value is not None
    # two workers ran at once: each trial process had its own thread budget, and they overlapped in time
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert {t.user_attrs["worker"] for t in trials} and len({t.user_attrs["worker"] for t in trials}) == 2
    assert complete[0].datetime_start < complete[1].datetime_complete
    assert complete[1].datetime_start < complete[0].datetime_complete
    assert "best trial" in result.stdout
    assert "Warning" not in result.stderr, result.stderr[-3000:]  # nothing a trial start should warn about


def test_a_diverging_trial_is_pruned_with_its_reason_and_the_sweep_goes_on(finished_sweep):
    _, spec, _ = finished_sweep
    diverged = next(t for t in load_trials(spec) if t.params[LR] == DIVERGING_LR)
    assert diverged.state.name == "PRUNED"
    assert "training diverged" in diverged.user_attrs["diverged"]
    assert diverged.user_attrs.get("attempt") == 0 and not any(
        lineage(t)[0] == diverged.number for t in load_trials(spec) if t.number != diverged.number)  # not retried


def test_each_trial_is_an_ordinary_run_whose_config_reruns_it_by_hand(finished_sweep):
    folder, spec, _ = finished_sweep
    trial = next(t for t in load_trials(spec) if t.state.name == "COMPLETE")
    run_dir = Path(trial.user_attrs["run_dir"])
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["model"]["init_args"]["optimizer"]["init_args"]["lr"] == GOOD_LR
    assert "SweepPruning" not in (run_dir / "config.yaml").read_text()  # the pruning hook is not part of it
    assert json.loads((run_dir / "metrics.json").read_text())["metrics"]["val/nll_iw"] == pytest.approx(trial.value)
    assert trial.user_attrs["command"].startswith("lit-gen fit --config ")


def test_status_best_export_and_report(finished_sweep):
    folder, spec, _ = finished_sweep
    status = run_sweep_cli("status", str(spec), cwd=folder)
    assert status.returncode == 0, status.stderr
    assert "4/4 done" in status.stdout and "2 COMPLETE" in status.stdout and "2 PRUNED" in status.stdout

    # the replay, the default (full training, --full, is checked in test_sweep_status.py without training)
    best = run_sweep_cli("best", str(spec), "--export", str(folder / "best.yaml"), cwd=folder)
    assert best.returncode == 0, best.stderr
    assert "a replay of the best trial with the sweep's limits: max_epochs 4" in best.stdout
    trial = min((t for t in load_trials(spec) if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert f"best trial {trial.number}:" in best.stdout
    rerun = subprocess.run([sys.executable, "-m", "lit_gen.cli", "fit", "--config", str(folder / "best.yaml")],
                           cwd=folder, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    replayed = folder / "runs" / "test_sweep-best-replay"
    metrics = json.loads(next(replayed.glob("*/metrics.json")).read_text())["metrics"]
    assert metrics["val/nll_iw"] == pytest.approx(trial.value, rel=1e-4)  # the same run again

    report = run_sweep_cli("report", str(spec), "--out", str(folder / "report"), cwd=folder)
    assert report.returncode == 0, report.stderr
    for name in ("history.png", "slice.png", "trials.csv"):
        assert (folder / "report" / name).stat().st_size > 0
    rows = list(csv.DictReader(open(folder / "report" / "trials.csv")))
    assert [r["state"] for r in rows].count("PRUNED") == 2


def test_running_again_with_more_trials_extends_the_study(finished_sweep):
    folder, spec, _ = finished_sweep
    result = run_sweep_cli("run", str(spec), "--n_trials", "5", cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = states(load_trials(spec))
    assert counts.get("COMPLETE", 0) + counts.get("PRUNED", 0) == 5


def test_a_wrong_config_key_stops_the_sweep_before_any_trial(tmp_path):
    spec = write_spec(tmp_path, space={"model.init_args.latent_dimm": {"type": "int", "low": 2, "high": 4}})
    result = run_sweep_cli("run", str(spec), cwd=tmp_path)
    assert result.returncode != 0
    assert "latent_dimm" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "sweep" / "trials").exists()


@pytest.mark.parametrize("storage", ["journal", "sqlite"])
def test_stale_trials_are_retried_by_optuna_s_callback_on_every_storage(tmp_path, storage):
    spec = write_spec(tmp_path, faults={"heartbeat_interval": 1, "stale_after": 1, "max_retries": 1})
    url = str(tmp_path / "study.journal") if storage == "journal" else f"sqlite:///{tmp_path}/study.db"
    a_dead_worker_s_trials_are_retried_then_given_up(spec, url)


def _trial_processes(folder: Path) -> list[int]:
    """Processes working in this test's folder other than pytest itself: the driver, its fork server, trials."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if Path(os.readlink(proc / "cwd")) == folder:
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


def test_a_killed_worker_s_trial_is_retried_and_resumes_from_its_checkpoint(tmp_path):
    epochs = 60  # long enough (full epochs, ~10-30 s in all) that the kill lands mid-training
    spec = write_spec(tmp_path, n_trials=1, space={LR: {"type": "categorical", "choices": [GOOD_LR]}},
                      limits={"max_epochs": epochs}, faults={"heartbeat_interval": 1, "stale_after": 8},
                      overrides=[o for o in TINY_OVERRIDES if "limit_train_batches" not in o])
    first = subprocess.Popen([sys.executable, "-m", "lit_gen.cli", "sweep", "run", str(spec)], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    checkpoint = tmp_path / "sweep" / "trials" / "trial-0" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 240
    while not checkpoint.exists():
        assert time.monotonic() < deadline and first.poll() is None, first.stderr.read().decode()[-2000:]
        time.sleep(0.1)
    time.sleep(0.3)  # a few more epochs
    first.send_signal(signal.SIGKILL)  # the worker dies mid-trial, with no chance to clean up
    first.wait(30)
    assert _trial_processes(tmp_path)  # the fork server and the trial were running in the folder
    assert _no_processes_left(tmp_path)  # its training process died with it, and so did its fork server

    second = run_sweep_cli("run", str(spec), cwd=tmp_path, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    trials = load_trials(spec)
    assert states(trials) == {"COMPLETE": 1, "FAIL": 1}  # the second driver waited for the slot, then retried
    killed = trials[0]
    assert killed.state.name == "FAIL" and killed.user_attrs["failure"] == "stale"
    retry = next(t for t in trials if lineage(t) == (0, 1))
    assert retry.state.name == "COMPLETE" and retry.params == killed.params
    assert retry.user_attrs["root_number"] == 0 and retry.user_attrs["attempt"] == 1
    assert retry.user_attrs["run_dir"] == killed.user_attrs["run_dir"]
    # named by its own trial number, in its slot, as it ran and as the best (not as the killed trial 0)
    label = f"trial {retry.number} (slot 0, retry 1)"
    assert f"{label} complete" in second.stdout and f"best {label}:" in second.stdout, second.stdout
    run_dir = Path(retry.user_attrs["run_dir"])
    assert retry.user_attrs["resumed_from"].endswith("last.ckpt")
    # it went on from its checkpoint, not from epoch 0, and its metrics.csv holds the whole curve: the first
    # attempt's rows up to that checkpoint, then the retry's, every epoch once
    assert retry.user_attrs["resumed_from_epoch"] is not None
    assert "Restored all states from the checkpoint" in (run_dir / "trial.log").read_text()
    assert _train_epochs(run_dir / "metrics.csv") == list(range(epochs))


def _no_processes_left(folder: Path, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while _trial_processes(folder):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _train_epochs(path: Path) -> list[int]:
    """The epochs of metrics.csv's training rows, in file order."""
    with open(path) as file:
        return [int(float(row["epoch"])) for row in csv.DictReader(file) if row.get("train/elbo")]


def start_one_long_trial(folder: Path, env: dict[str, str] | None = None):
    """`lit-gen sweep run` of one trial that trains far longer than a test waits, returned once its first epoch is
    saved: (spec, driver process, the trial's run directory)."""
    spec = write_spec(folder, n_trials=1, space={LR: {"type": "categorical", "choices": [GOOD_LR]}},
                      limits={"max_epochs": 200},  # full epochs: still training when the signal comes
                      overrides=[o for o in TINY_OVERRIDES if "limit_train_batches" not in o])
    process = subprocess.Popen([sys.executable, "-m", "lit_gen.cli", "sweep", "run", str(spec)], cwd=folder,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})})
    run_dir = folder / "sweep" / "trials" / "trial-0"
    deadline = time.monotonic() + 240
    while not (run_dir / "checkpoints" / "last.ckpt").exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.2)
    return spec, process, run_dir


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")
def test_the_worker_stopped_by_ctrl_c_hands_its_trial_on_at_once(tmp_path):
    spec, process, _ = start_one_long_trial(tmp_path)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGINT and "run the same command again" in stderr
    trials = load_trials(spec)
    assert [t.state.name for t in trials] == ["FAIL", "WAITING"]
    assert trials[0].user_attrs["failure"] == "interrupted" and lineage(trials[1]) == (0, 1)
    assert _no_processes_left(tmp_path)


@pytest.mark.parametrize("asked_for_requeue", [False, True])
def test_a_slurm_worker_keeps_only_a_trial_that_asked_for_a_requeue(tmp_path, asked_for_requeue):
    """A SLURM worker ended by SIGTERM: a trial that saved an hpc checkpoint (and asked SLURM to requeue the job)
    stays RUNNING for the requeued job to re-adopt; any other (time limit without warning, scancel) is handed on
    as a retry at once, since no requeued job may come back for it."""
    # what the sbatch script sets
    spec, process, run_dir = start_one_long_trial(tmp_path, {"LIT_GEN_WORKER_ID": "slurm-7_0", "SLURM_JOB_ID": "7"})
    if asked_for_requeue:  # what SlurmRequeue saves on SIGUSR1 before it runs `scontrol requeue`
        (run_dir / "hpc_ckpt_1.ckpt").write_bytes((run_dir / "checkpoints" / "last.ckpt").read_bytes())
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    trials = load_trials(spec)
    if asked_for_requeue:
        [trial] = trials
        assert trial.state.name == "RUNNING" and trial.user_attrs["requeued_at"] > 0
    else:
        assert [t.state.name for t in trials] == ["FAIL", "WAITING"]
        assert trials[0].user_attrs["failure"] == "interrupted" and lineage(trials[1]) == (0, 1)
    assert _no_processes_left(tmp_path)


def test_a_trial_runs_local_ddp_ranks_when_the_sweep_was_started_by_the_lit_gen_script(tmp_path):
    """Lightning starts DDP's other local ranks by re-running the main program; a forked trial's main program is
    the driver's `lit-gen` script, so this once ran a file `./lit-gen` that does not exist."""
    script = shutil.which("lit-gen")
    assert script is not None, "the `lit-gen` console script is not installed (pip install -e .)"
    ddp = ["--trainer.devices=2", "--trainer.accelerator=cpu", "--trainer.strategy=ddp"]
    spec = write_spec(tmp_path, overrides=TINY_OVERRIDES + ddp, n_trials=1, enqueue=[{LR: GOOD_LR}],
                      limits={"max_epochs": 1})
    result = subprocess.run([script, "sweep", "run", str(spec), "--workers", "1"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (trial,) = load_trials(spec)
    assert trial.state.name == "COMPLETE", trial.user_attrs
    log = (Path(trial.user_attrs["run_dir"]) / "trial.log").read_text()
    assert "MEMBER: 2/2" in log and "LightningCLI's args parameter" not in log
