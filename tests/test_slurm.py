"""SLURM: profiles, the rendered sbatch script, and real jobs on a real one-node cluster (tests/slurm_cluster.py).

The cluster tests need Debian's slurmctld, slurmd, slurm-client and munge (`.ci/install_slurm.sh`) and root; they
start their own daemons and skip, saying so, only where the binaries are absent. Runs are tiny VAEs on the digits,
each DDP over 2 CPU ranks (gloo) under srun.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from lit_gen.errors import LitGenError
from lit_gen.slurm import commands
from lit_gen.slurm.profile import load_profile, profile_from_dict
from lit_gen.slurm.submit_command import main as submit_main
from lit_gen.slurm.submit_command import render_run_script
from lit_gen.slurm.sweep_jobs import cancel_sweep, job_states, render_sweep_script, submit_sweep
from lit_gen.sweep.command import main as sweep_main
from tests.conftest import CONFIGS, REPO
from tests.slurm_cluster import SlurmCluster, missing_binaries

GPU_PROFILE = REPO / "slurm" / "gpu_example.yaml"
CPU_PROFILE = REPO / "slurm" / "cpu.yaml"
EXPERIMENT = str(CONFIGS / "experiments" / "vae_digits.yaml")
ODD_NAME = "it's a dir"  # a space and a quote: every path in a script must stay one word
#: a tiny VAE on the digits whose epochs last a few seconds on 2 ranks, so a signal can land in the middle
TINY = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", "--images.every_n_epochs=0",
        "--image_quality.backbone=none", "--model.init_args.iw_samples=5", "--trainer.limit_val_batches=1"]
BATCH = 8


# ---- profiles and scripts (no cluster needed) -------------------------------------------------------------------

def test_profiles_that_ship_load():
    gpu, cpu = load_profile(GPU_PROFILE), load_profile(CPU_PROFILE)
    assert (gpu.accelerator, gpu.devices, gpu.gpu_type, gpu.mem_per_node_mb) == ("gpu", 4, "a100", 4 * 32 * 1024)
    assert (cpu.accelerator, cpu.devices, cpu.nodes) == ("cpu", 2, 1)


@pytest.mark.parametrize("raw, message", [
    ({"devices": 2, "partion": "gpu"}, "did you mean 'partition'"),
    ({"partition": "gpu"}, "`devices` is missing"),
    ({"devices": 0}, "devices=0 must be a whole number ≥ 1"),
    ({"devices": 2, "time": "ten hours"}, "must be a SLURM time"),
    ({"devices": 2, "accelerator": "tpu"}, "must be 'gpu' or 'cpu'"),
    ({"devices": 2, "mem_per_task": "lots"}, "must be a size like 16G"),
    ({"devices": 2, "env": {"PGPASSWORD": "x"}}, "looks like a secret"),
    ({"devices": 2, "sbatch_extra": ["constraint a100"]}, "must be one sbatch option"),
    ({"devices": 2, "name": "mine"}, "unknown key 'name'"),  # the profile's name is its file's stem
    ({"devices": "two"}, "devices='two' must be a whole number"),
    ({"devices": 2, "nodes": 1.5}, "nodes=1.5 must be a whole number"),
    ({"devices": 2, "array_throttle": "four"}, "array_throttle='four' must be a whole number, or null"),
    ({"devices": 2, "setup": {"a": 1}}, "setup={'a': 1} must be a list (a string each)"),
    ({"devices": 2, "env": {"A": [1]}}, "env.A must be a single value"),
    ({"devices": 2, "account": "  "}, "account='' must be a non-empty string"),
    ({"devices": 2, "time": 30, "template": "missing.sbatch"}, "template missing.sbatch does not exist"),
])
def test_bad_profiles_are_refused_with_the_key_named(raw, message):
    with pytest.raises(LitGenError, match=re.escape(message)) as error:
        profile_from_dict(raw, where="p.yaml")
    assert str(error.value).startswith("p.yaml: ") and "\n" not in str(error.value)


def test_yaml_numbers_and_text_blocks_become_what_the_script_needs(tmp_path):
    (tmp_path / "mine.sbatch").write_text("#!/bin/bash\n")
    (tmp_path / "c.yaml").write_text("devices: 2\naccount: 12345\ntime: 30\ntemplate: mine.sbatch\n"
                                     "setup: |\n  module load x\n\n  echo hi\n"
                                     "env: {OMP_PROC_BIND: true, N: 4}\nsbatch_extra: ['#SBATCH --exclusive']\n")
    profile = load_profile(tmp_path / "c.yaml")
    assert (profile.name, profile.account, profile.time) == ("c", "12345", "30")
    assert profile.setup == ("module load x", "echo hi") and profile.sbatch_extra == ("--exclusive",)
    assert profile.env == {"OMP_PROC_BIND": "true", "N": "4"} and profile.template == tmp_path / "mine.sbatch"


def test_gpu_profile_renders_the_directives_a_gpu_cluster_needs(tmp_path):
    spec = tmp_path / ODD_NAME / "sweep.yaml"
    spec.parent.mkdir()
    spec.write_text("name: my study\n")
    script = render_sweep_script(spec, tmp_path / ODD_NAME / "sweep dir", load_profile(GPU_PROFILE), workers=3)
    lines = script.splitlines()
    for directive in ["--partition=gpu", "--account=my-project", "--qos=normal", "--time=1-00:00:00", "--nodes=1",
                      "--ntasks-per-node=4", "--cpus-per-task=8", "--gres=gpu:a100:4", "--mem=128G",
                      "--array=0-2%2", "--signal=SIGUSR1@90", "--requeue", "--constraint=a100",
                      "--job-name='sweep-my study'"]:
        assert f"#SBATCH {directive}" in lines, directive
    env = {line.split("=", 1)[0].removeprefix("export "): line.split("=", 1)[1]
           for line in lines if line.startswith("export ")}
    assert shlex.split(env["LIT_GEN_TRIAL_LAUNCHER"]) == [
        "srun --nodes=1 --ntasks-per-node=4 --cpus-per-task=8 --gres=gpu:a100:4 --kill-on-bad-exit=1"]
    overrides = shlex.split(shlex.split(env["LIT_GEN_TRIAL_OVERRIDES"])[0])
    assert overrides[:8] == ["--trainer.accelerator", "gpu", "--trainer.devices", "4", "--trainer.num_nodes", "1",
                             "--trainer.strategy", "ddp_find_unused_parameters_true"]
    assert env["LIT_GEN_WORKER_ID"] == 'slurm-"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"'
    assert "module load cuda/12.1" in lines  # the user's own shell lines, as written
    # the spec path with its space and quote is one word of the worker's command line
    worker = shlex.split(shell_command(script, "lit-gen sweep run"))
    assert worker == ["lit-gen", "sweep", "run", str(spec.resolve()), "--workers", "1"]
    output = next(line for line in lines if line.startswith("#SBATCH --output="))
    assert shlex.split(output.removeprefix("#SBATCH "))[0].endswith(f"{ODD_NAME}/sweep dir/slurm/worker-%A_%a.out")
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0

    per_node = profile_from_dict({"devices": 8, "nodes": 2, "gpu_request": "gpus_per_node"})
    text = render_sweep_script(spec, tmp_path, per_node, workers=1)
    assert "#SBATCH --gpus-per-node=8" in text and "#SBATCH --nodes=2" in text and "--array=0-0\n" in text


def test_submit_options_reach_every_worker_and_a_password_never_does(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"name": "elsewhere", "config": EXPERIMENT, "n_trials": 9, "metric": "val/nll_iw",
                                    "space": {"model.init_args.latent_dim": {"type": "int", "low": 2, "high": 8}}}))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        sweep_main(["submit", str(spec), "--cluster", str(CPU_PROFILE), "--workers", "2", "--dry_run",
                    "--storage", f"{ODD_NAME}/NEW.journal", "--n_trials", "3"])
    worker = shlex.split(shell_command(out.getvalue(), "lit-gen sweep run"))
    # a relative journal path is the user's folder's file, for every worker wherever it runs
    assert worker == ["lit-gen", "sweep", "run", str(spec.resolve()), "--workers", "1",
                      "--storage", "journal:///" + str(tmp_path / ODD_NAME / "NEW.journal").lstrip("/"),
                      "--n_trials", "3"]
    with pytest.raises(LitGenError, match="password"):
        sweep_main(["submit", str(spec), "--cluster", str(CPU_PROFILE), "--dry_run",
                    "--storage", "postgresql://me:secret@db.example/optuna"])
    with pytest.raises(LitGenError, match="password"):
        render_sweep_script(spec, tmp_path / "sweep", load_profile(CPU_PROFILE), workers=1,
                            storage="postgresql://me:secret@db.example/optuna")
    assert "secret" not in (tmp_path / "runs" / "sweeps" / "elsewhere" / "slurm" / "sweep.sbatch").read_text()


def shell_command(script: str, start: str) -> str:
    """The command of `script` that begins with `start`, its backslash-continued lines joined."""
    lines = script.split("\n" + start, 1)[1].split("\n")
    command = start
    for line in lines:
        command += line.removesuffix("\\")
        if not line.endswith("\\"):
            return command
    return command


@pytest.mark.slow
def test_submit_dry_run_prints_a_single_run_script(in_tmp):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        submit_main(["--cluster", str(GPU_PROFILE), "--dry_run", "fit", "--config", EXPERIMENT,
                     "--trainer.max_epochs", "3"])
    text = out.getvalue()
    for directive in ["--gres=gpu:a100:4", "--ntasks-per-node=4", "--signal=SIGUSR1@90", "--job-name=vae_digits"]:
        assert f"#SBATCH {directive}\n" in text
    assert "--array" not in text
    assert 'RUN_DIR=runs/vae_digits/slurm-"${SLURM_JOB_ID}"' in text
    command = shell_command(text, "srun ")
    assert command.startswith("srun --nodes=1 --ntasks-per-node=4 --cpus-per-task=8 --gres=gpu:a100:4")
    assert '--trainer.devices 4' in command and '--run_dir "$RUN_DIR"' in command
    assert (in_tmp / "runs" / "vae_digits" / "vae_digits.sbatch").read_text() in text


def test_submit_without_slurm_names_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    with pytest.raises(LitGenError, match="`sbatch` is not on the PATH"):
        commands.sbatch(tmp_path / "x.sbatch")


# ---- a real cluster ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    missing = missing_binaries()
    if missing:
        pytest.skip(f"SLURM binaries absent ({', '.join(missing)}): install them with .ci/install_slurm.sh")
    try:
        cluster = SlurmCluster(tmp_path_factory.mktemp("slurm_cluster")).start()
    except RuntimeError as first:  # a daemon that died at start-up (seen once, after an interrupted run): once more
        print(f"the test cluster did not start, trying again in a fresh folder: {first}")
        cluster = SlurmCluster(tmp_path_factory.mktemp("slurm_cluster")).start()
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)  # for lit_gen's sbatch/scontrol calls, and inherited by the jobs
    try:
        yield cluster
    finally:
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        cluster.stop()


def wait_for(condition, timeout: float, what: str, cluster: SlurmCluster, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{cluster.logs()}")


def wait_until_ended(job_id: str, cluster: SlurmCluster, timeout: float = 600) -> list[dict]:
    def ended():
        rows = commands.job_rows(job_id)
        return rows if all(row["state"] in commands.FINAL_STATES for row in rows) else None

    return wait_for(ended, timeout, f"job {job_id} to end", cluster, every=2)


def signal_when_trained_an_epoch(checkpoint: Path, job_id: str, cluster: SlurmCluster) -> None:
    """SIGUSR1 to the job's steps, as SLURM sends it before the time limit, once the first epoch is saved."""
    wait_for(checkpoint.is_file, 300, f"{checkpoint} (the first epoch)", cluster)
    subprocess.run(["scancel", "--signal=USR1", job_id], check=True)


def assert_resumed(run_dir: Path, log: str, max_epochs: int) -> None:
    """The run saved an hpc checkpoint mid-training, was restored from it (not restarted), and finished."""
    hpc = run_dir / "hpc_ckpt_1.ckpt"
    assert hpc.is_file(), sorted(p.name for p in run_dir.iterdir())
    saved = torch.load(hpc, weights_only=False, map_location="cpu")
    assert 0 < saved["global_step"] < max_epochs * steps_per_epoch(run_dir)
    restored = [line for line in log.splitlines() if line.startswith("Restored all states from the checkpoint at ")]
    assert restored and all(line.endswith("hpc_ckpt_1.ckpt") for line in restored), restored
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False, map_location="cpu")
    assert last["epoch"] == max_epochs - 1
    # every step was taken once: no epoch was run again from the start, none was skipped
    assert last["global_step"] == max_epochs * steps_per_epoch(run_dir)
    # metrics.csv holds the whole curve: the first attempt's epochs before the checkpoint, then the resumed run's
    epochs = [int(row["epoch"]) for row in csv.DictReader((run_dir / "metrics.csv").open()) if row.get("train/elbo")]
    assert epochs == list(range(max_epochs)), epochs


def steps_per_epoch(run_dir: Path, world_size: int = 2) -> int:
    """Optimizer steps per epoch when each of `world_size` ranks takes its shard of the training split."""
    train = json.loads((run_dir / "metrics.json").read_text())["meta"]["split_sizes"]["train"]
    return math.ceil(train / world_size / BATCH)


def assert_world_size_2(log: str) -> None:
    assert "MEMBER: 1/2" in log and "MEMBER: 2/2" in log and "Starting with 2 processes" in log
    assert "distributed_backend=gloo" in log


def test_cpu_profile_scripts_pass_sbatch_test_only(slurm_cluster, tmp_path):
    profile = load_profile(CPU_PROFILE)
    folder = tmp_path / ODD_NAME
    folder.mkdir()
    sweep_script = folder / "sweep.sbatch"
    sweep_script.write_text(render_sweep_script(folder / "spec.yaml", folder / "sweep", profile, workers=2))
    (folder / "sweep" / "slurm").mkdir(parents=True)
    assert "to start at" in commands.sbatch(sweep_script, test_only=True)
    run_script = folder / "run.sbatch"
    run_script.write_text(render_run_script(profile, ["--config", EXPERIMENT], folder / "runs", "vae digits's",
                                            run_script))
    assert "to start at" in commands.sbatch(run_script, test_only=True)


def test_sweep_status_and_cancel_follow_the_jobs(slurm_cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"name": "cancel_me"}))
    sweep_dir = tmp_path / "sweep"
    profile = profile_from_dict({"devices": 1, "accelerator": "cpu", "setup": ["sleep 300  # stands in for work"]})
    [job_id] = submit_sweep(spec, sweep_dir, profile, workers=2)
    assert json.loads((sweep_dir / "slurm" / "jobs.json").read_text())["jobs"][0]["job_id"] == job_id
    def running():
        rows = job_states(sweep_dir)
        return rows if len(rows) == 2 and all(row["state"] == "RUNNING" for row in rows) else None

    rows = wait_for(running, 60, "both workers running", slurm_cluster)
    assert sorted(row["job_id"] for row in rows) == [f"{job_id}_0", f"{job_id}_1"]
    assert all(row["node"] == slurm_cluster.node and row["restarts"] == 0 for row in rows)
    assert cancel_sweep(sweep_dir) == [job_id]
    rows = wait_until_ended(job_id, slurm_cluster, timeout=60)
    assert {row["state"] for row in rows} == {"CANCELLED"}
    assert cancel_sweep(sweep_dir) == []  # nothing left to cancel


@pytest.fixture(scope="module")
def preempted_run(slurm_cluster, tmp_path_factory):
    """`lit-gen submit` of a 3-epoch DDP run from a folder with a space and a quote; SIGUSR1 after epoch 0."""
    folder = tmp_path_factory.mktemp("submit") / ODD_NAME
    folder.mkdir()
    previous = Path.cwd()
    os.chdir(folder)
    try:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            submit_main(["--cluster", str(CPU_PROFILE), "fit", "--config", EXPERIMENT, "--trainer.max_epochs", "3",
                         f"--data.init_args.batch_size={BATCH}", *TINY])
    finally:
        os.chdir(previous)
    job_id = re.search(r"Submitted job (\d+)", out.getvalue()).group(1)
    run_dir = folder / "runs" / "vae_digits" / f"slurm-{job_id}"
    started = time.monotonic()
    signal_when_trained_an_epoch(run_dir / "checkpoints" / "last.ckpt", job_id, slurm_cluster)
    rows = wait_until_ended(job_id, slurm_cluster)
    seconds = time.monotonic() - started
    log = (folder / "runs" / "vae_digits" / f"slurm-{job_id}.out").read_text()
    return {"job_id": job_id, "rows": rows, "run_dir": run_dir, "log": log, "seconds": seconds}


@pytest.mark.slow
def test_submitted_run_trains_with_ddp_on_2_tasks(preempted_run):
    [row] = preempted_run["rows"]
    assert row["state"] == "COMPLETED", preempted_run["log"][-3000:]
    run_dir = preempted_run["run_dir"]
    assert_world_size_2(preempted_run["log"])
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    assert math.isfinite(metrics["val/nll_iw"]) and math.isfinite(metrics["test/nll_iw"])
    config = yaml.safe_load((run_dir / "config.yaml").read_text())["trainer"]
    assert (str(config["devices"]), config["num_nodes"], config["accelerator"]) == ("2", 1, "cpu")
    assert (run_dir.parent / "vae_digits.sbatch").is_file()


@pytest.mark.slow
def test_submitted_run_checkpoints_requeues_and_resumes_on_usr1(preempted_run):
    [row] = preempted_run["rows"]
    assert row["state"] == "COMPLETED" and row["restarts"] == 1, row
    log = preempted_run["log"]
    assert "SLURM warning signal: saved" in log and f"requeued SLURM job {preempted_run['job_id']}" in log
    run_dir = preempted_run["run_dir"]
    assert_resumed(run_dir, log, max_epochs=3)
    print(f"single run with one requeue: {preempted_run['seconds']:.0f} s")


@pytest.fixture(scope="module")
def preempted_sweep(slurm_cluster, tmp_path_factory):
    """`lit-gen sweep submit` of 2 trials as an array of 2 workers, each trial DDP on 2 CPU tasks; one trial's job
    gets SIGUSR1 after its first epoch."""
    folder = tmp_path_factory.mktemp("sweep") / ODD_NAME
    folder.mkdir()
    spec = {
        "name": "slurm_test", "config": EXPERIMENT, "overrides": [*TINY, f"--data.init_args.batch_size={BATCH}"],
        "metric": "val/nll_iw", "n_trials": 2, "space": {"model.init_args.latent_dim": {"type": "int", "low": 2,
                                                                                         "high": 8}},
        "sampler": {"class_path": "RandomSampler"}, "pruner": None, "limits": {"max_epochs": 3},
        "directory": str(folder / "sweep"),
    }
    spec_path = folder / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    started = time.monotonic()
    submitted = subprocess.run([sys.executable, "-m", "lit_gen.cli", "sweep", "submit", str(spec_path), "--cluster",
                                str(CPU_PROFILE), "--workers", "2"], cwd=folder, capture_output=True, text=True)
    assert submitted.returncode == 0, submitted.stderr
    job_id = re.search(r"Submitted job array (\d+)", submitted.stdout).group(1)
    trials = folder / "sweep" / "trials"
    first = wait_for(lambda: next(iter(trials.glob("*/checkpoints/last.ckpt")), None), 300,
                     "a trial's first epoch", slurm_cluster)
    run_dir = first.parent.parent
    worker = re.search(r"worker slurm-(\d+_\d+)", (run_dir / "trial.log").read_text()).group(1)
    subprocess.run(["scancel", "--signal=USR1", worker], check=True)
    rows = wait_until_ended(job_id, slurm_cluster)
    seconds = time.monotonic() - started
    status = subprocess.run([sys.executable, "-m", "lit_gen.cli", "sweep", "status", str(spec_path)], cwd=folder,
                            capture_output=True, text=True)
    from lit_gen.sweep.driver import open_study
    from lit_gen.sweep.spec import load_spec

    study, _ = open_study(load_spec(spec_path), create=False)
    return {"job_id": job_id, "rows": rows, "preempted": run_dir, "worker": worker, "study": study,
            "status": status.stdout + status.stderr, "trials": trials, "seconds": seconds,
            "logs": {p.name: p.read_text() for p in (folder / "sweep" / "slurm").glob("*.out")}}


@pytest.mark.slow
def test_sweep_array_of_2_workers_runs_every_trial_with_ddp_on_2_tasks(preempted_sweep):
    from optuna.trial import TrialState

    job_id = preempted_sweep["job_id"]
    assert sorted(row["job_id"] for row in preempted_sweep["rows"]) == [f"{job_id}_0", f"{job_id}_1"]
    assert {row["state"] for row in preempted_sweep["rows"]} == {"COMPLETED"}, preempted_sweep["logs"]
    trials = preempted_sweep["study"].get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2, [t.user_attrs.get("error") for t in trials]
    for trial in trials:
        assert trial.user_attrs["worker"] in (f"slurm-{job_id}_0", f"slurm-{job_id}_1")
        run_dir = Path(trial.user_attrs["run_dir"])
        assert_world_size_2((run_dir / "trial.log").read_text())
        last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False, map_location="cpu")
        assert last["global_step"] == 3 * steps_per_epoch(run_dir)  # each rank took half of every epoch
    status = preempted_sweep["status"]
    assert "2/2 done" in status and "SLURM jobs:" in status
    row = next(line for line in status.splitlines() if line.startswith(f"{job_id}_0"))
    assert row.split()[1] in ("COMPLETED", "FINISHED"), status


@pytest.mark.slow
def test_sweep_trial_preempted_by_usr1_resumes_in_its_run_directory(preempted_sweep):
    study, run_dir, worker = preempted_sweep["study"], preempted_sweep["preempted"], preempted_sweep["worker"]
    rows = {row["job_id"]: row for row in preempted_sweep["rows"]}
    assert rows[worker]["restarts"] == 1, rows
    # the requeued worker took its own trial back: no retry, no extra trial, the same trial finished
    trials = study.get_trials()
    assert len(trials) == 2 and all(t.user_attrs.get("attempt", 0) == 0 for t in trials)
    [trial] = [t for t in trials if Path(t.user_attrs["run_dir"]) == run_dir]
    assert trial.user_attrs["worker"] == f"slurm-{worker}"
    assert trial.user_attrs["resumed_from"] == str(run_dir / "hpc_ckpt_1.ckpt")
    log = (run_dir / "trial.log").read_text()
    assert f"requeued SLURM job {worker}" in log
    assert_resumed(run_dir, log, max_epochs=3)
    print(f"sweep of 2 trials with one requeue: {preempted_sweep['seconds']:.0f} s")


@pytest.mark.slow
def test_sweep_submit_with_storage_and_n_trials_fills_that_study(slurm_cluster, tmp_path):
    """`sweep submit --storage NEW.journal --n_trials 2` of a spec that names 5 trials: the array's workers run 2
    trials into NEW.journal (relative to where the user typed it), none into the spec's own storage, and `sweep
    status --storage` finds them."""
    from optuna.trial import TrialState

    from lit_gen.sweep.driver import open_study
    from lit_gen.sweep.spec import load_spec

    folder = tmp_path / ODD_NAME
    folder.mkdir()
    spec = {
        "name": "slurm_storage", "config": EXPERIMENT, "n_trials": 5, "metric": "val/nll_iw",
        "overrides": [*TINY, f"--data.init_args.batch_size={BATCH}", "--test_after_fit=false"],
        "space": {"model.init_args.latent_dim": {"type": "int", "low": 2, "high": 8}},
        "sampler": {"class_path": "RandomSampler"}, "pruner": None, "limits": {"max_epochs": 1},
        "directory": str(folder / "sweep"),
    }
    spec_path = folder / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))

    def lit_gen(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lit_gen.cli", "sweep", *args], cwd=folder, capture_output=True,
                              text=True)

    submitted = lit_gen("submit", str(spec_path), "--cluster", str(CPU_PROFILE), "--workers", "2",
                        "--storage", "NEW.journal", "--n_trials", "2")
    assert submitted.returncode == 0, submitted.stderr
    job_id = re.search(r"Submitted job array (\d+)", submitted.stdout).group(1)
    rows = wait_until_ended(job_id, slurm_cluster)
    logs = {p.name: p.read_text()[-3000:] for p in (folder / "sweep" / "slurm").glob("*.out")}
    assert {row["state"] for row in rows} == {"COMPLETED"}, logs
    study, _ = open_study(load_spec(spec_path), str(folder / "NEW.journal"), create=False)
    trials = study.get_trials()
    assert len(trials) == 2 and {t.state for t in trials} == {TrialState.COMPLETE}, logs
    assert {t.user_attrs["worker"] for t in trials} <= {f"slurm-{job_id}_0", f"slurm-{job_id}_1"}
    assert not (folder / "sweep" / "optuna.journal").exists(), "the spec's own storage stayed untouched"
    status = lit_gen("status", str(spec_path), "--storage", "NEW.journal", "--n_trials", "2")
    assert status.returncode == 0 and "2/2 done" in status.stdout, status.stdout + status.stderr


def test_the_template_is_installed_with_the_package(tmp_path):
    """A profile of the user's own, away from this repository, renders with the template lit_gen installs (a
    non-editable install has no repository `slurm/` folder); one beside the profile takes its place."""
    import lit_gen.slurm.render as render

    profile_path = tmp_path / "cluster.yaml"
    profile_path.write_text("devices: 2\naccelerator: cpu\n")
    profile = load_profile(profile_path)
    installed = render.template_path(profile)
    assert installed.parent == Path(render.__file__).parent and installed.is_file()
    assert installed.resolve() == (REPO / "slurm" / "template.sbatch").resolve()  # the repository's link
    own = tmp_path / "template.sbatch"
    own.write_text(installed.read_text())
    assert render.template_path(load_profile(profile_path)) == own
