"""Sweeps against a real PostgreSQL server, the storage for workers on many nodes; its password stays hidden."""

from __future__ import annotations

import os

import pytest

from tests import postgres_server
from tests.sweep_helpers import (
    BAD_LR,
    GOOD_LR,
    a_dead_worker_s_trials_are_retried_then_given_up,
    load_trials,
    run_sweep_cli,
    states,
    write_spec,
)

pytestmark = pytest.mark.slow
PASSWORD = "pw-7f3e9c-never-shown"
LR = "model.init_args.optimizer.init_args.lr"


@pytest.fixture(scope="module")
def server():
    reason = postgres_server.why_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    running = postgres_server.start(PASSWORD)
    yield running
    postgres_server.stop(running)


def test_two_workers_on_postgresql_finish_the_requested_trials_without_leaking_the_password(server, tmp_path,
                                                                                          monkeypatch):
    spec = write_spec(tmp_path, n_trials=3, pruner={"class_path": "MedianPruner", "init_args": {
                                                    "n_startup_trials": 1, "n_warmup_steps": 0}},
                      enqueue=[{LR: GOOD_LR}, {LR: GOOD_LR}, {LR: BAD_LR}])
    # the password reaches the driver and the trial processes through PGPASSWORD only
    result = run_sweep_cli("run", str(spec), "--workers", "2", "--storage", server.url(), cwd=tmp_path,
                           env={"PGPASSWORD": PASSWORD})
    assert result.returncode == 0, result.stderr[-3000:]
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    trials = load_trials(spec, storage=server.url())
    counts = states(trials)
    assert counts.get("COMPLETE", 0) + counts.get("PRUNED", 0) == 3
    # a FAIL here can only be a surplus trial: both workers asked for the last slot at once, one ran it
    assert all(t.user_attrs.get("failure") == "surplus" for t in trials if t.state.name == "FAIL")
    assert any(t.state.name == "PRUNED" and len(t.intermediate_values) < 4 for t in trials)  # the bad one
    # every trial reported its intermediate values to the server from inside its own process
    assert all(t.intermediate_values for t in trials if t.state.name != "FAIL")

    status = run_sweep_cli("status", str(spec), "--storage", server.url(), cwd=tmp_path,
                           env={"PGPASSWORD": PASSWORD})
    assert "3/3 done" in status.stdout, status.stderr
    assert PASSWORD not in result.stdout + result.stderr + status.stdout + status.stderr
    _assert_not_in_files(tmp_path, PASSWORD)


def test_stale_trials_are_failed_and_retried_by_optuna_s_heartbeat_on_postgresql(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    spec = write_spec(tmp_path, name="stale", faults={"heartbeat_interval": 1, "stale_after": 1, "max_retries": 1})
    a_dead_worker_s_trials_are_retried_then_given_up(spec, server.url())


def test_a_url_with_its_password_in_the_environment_is_masked_everywhere(server, tmp_path, monkeypatch):
    spec = write_spec(tmp_path, n_trials=1, name="masked",
                      space={LR: {"type": "categorical", "choices": [GOOD_LR]}}, limits={"max_epochs": 1})
    env = {"LIT_GEN_STORAGE": server.url(with_password=True)}
    result = run_sweep_cli("run", str(spec), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "postgresql://lit_gen:***@127.0.0.1" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    _assert_not_in_files(tmp_path, PASSWORD)
    monkeypatch.setenv("LIT_GEN_STORAGE", server.url(with_password=True))
    trial = load_trials(spec)[0]
    assert PASSWORD not in repr(trial.user_attrs)  # not in the recorded command line either


def test_a_wrong_password_is_one_clear_error(server, tmp_path):
    spec = write_spec(tmp_path, n_trials=1)
    result = run_sweep_cli("run", str(spec), "--storage", server.url(), cwd=tmp_path,
                           env={"PGPASSWORD": "wrong-password"})
    assert result.returncode == 1
    assert "cannot open the study storage postgresql://lit_gen@127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr and "wrong-password" not in result.stderr


def _assert_not_in_files(folder, secret: str) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
