"""Building small sweeps for tests, and reading their studies back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import CONFIGS

#: a digits VAE trained for seconds: 3 batches an epoch, one validation batch, few importance samples
TINY_OVERRIDES = [
    "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
    "--trainer.limit_train_batches=3", "--trainer.limit_val_batches=1", "--trainer.limit_test_batches=1",
    "--model.init_args.iw_samples=5", "--images.every_n_epochs=0", "--image_quality.backbone=none",
]
GOOD_LR, BAD_LR, DIVERGING_LR = 0.003, 1.0e-7, 1000.0


def write_spec(folder: Path, **changes: Any) -> Path:
    spec: dict[str, Any] = {
        "name": "test_sweep",
        "config": str(CONFIGS / "experiments" / "vae_digits.yaml"),
        "overrides": list(TINY_OVERRIDES),
        "metric": "val/nll_iw",
        "direction": "minimize",
        "n_trials": 4,
        "space": {"model.init_args.optimizer.init_args.lr": {
            "type": "categorical", "choices": [GOOD_LR, BAD_LR, DIVERGING_LR]}},
        "sampler": {"class_path": "RandomSampler"},
        "pruner": None,
        "limits": {"max_epochs": 4},
        "seed": 0,
        "directory": str(folder / "sweep"),
    }
    spec.update(changes)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def run_sweep_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600,
                  ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lit_gen.cli", "sweep", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def load_trials(spec_path: Path, storage: str | None = None):
    from lit_gen.sweep.driver import open_study
    from lit_gen.sweep.spec import load_spec

    study, _ = open_study(load_spec(spec_path), storage, create=False)
    return study.get_trials(deepcopy=False)


def states(trials) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts


def a_dead_worker_s_trials_are_retried_then_given_up(spec_path: Path, storage: str) -> None:
    """Without training: a RUNNING trial whose heartbeat stopped is failed and retried once (faults.max_retries
    = 1) with its values and its root number; a trial left for a requeued SLURM job waits for it; a retry that goes
    stale too is given up and counts against the sweep. The same for every storage: Optuna's heartbeat on RDB,
    lit_gen's on a journal file."""
    import time

    from lit_gen.sweep.driver import open_study_and_storage
    from lit_gen.sweep.faults import TrialFaults, failure_of, lineage
    from lit_gen.sweep.slots import slot_counts
    from lit_gen.sweep.spec import load_spec

    spec = load_spec(spec_path)
    study, backend, _ = open_study_and_storage(spec, storage)
    faults = TrialFaults(study, backend, backend.get_study_id_from_name(spec.name), spec.faults)

    def start(worker: str) -> int:  # what a worker does when it takes a trial
        number = study.ask(spec.distributions()).number
        faults.beat(faults.trial_id(number))
        backend.set_trial_user_attr(faults.trial_id(number), "worker", worker)
        return number

    def trial(number: int):
        return study.get_trials(deepcopy=False)[number]

    first = start("dead")
    time.sleep(spec.faults.stale_after + 1.5)
    faults.fail_stale(study.get_trials(deepcopy=False), "alive")
    assert trial(first).state.name == "FAIL" and failure_of(trial(first), 1) == "stale"
    [retry] = [t for t in study.get_trials(deepcopy=False) if t.state.name == "WAITING"]
    assert lineage(retry) == (first, 1) and retry.params == trial(first).params
    assert retry.user_attrs == {}  # the failed attempt's worker, error, command stay with it

    second = start("requeued")
    assert second == retry.number  # a worker takes the retry first
    backend.set_trial_user_attr(faults.trial_id(second), "requeued_at", time.time())
    time.sleep(spec.faults.stale_after + 1.5)
    faults.fail_stale(study.get_trials(deepcopy=False), "alive")
    assert trial(second).state.name == "RUNNING"  # its SLURM job may still come back for it
    backend.set_trial_user_attr(faults.trial_id(second), "requeued_at", None)  # it came back, then died
    faults.fail_stale(study.get_trials(deepcopy=False), "alive")
    trials = study.get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["FAIL", "FAIL"]  # no third attempt
    assert failure_of(trials[second], 1) == "gave_up" and slot_counts(trials, 1).crashed == 1
