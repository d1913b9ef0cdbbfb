"""Sweep files: every mistake is caught when the file is read, with a message that names it."""

from __future__ import annotations

import pytest
import yaml

from lit_gen.errors import LitGenError
from lit_gen.run.identity import TrialIdentity
from lit_gen.run.storage import masked, resolve_storage_url
from lit_gen.sweep.fit_run import fit_arguments, format_value
from lit_gen.sweep.spec import load_spec
from tests.conftest import REPO
from tests.sweep_helpers import write_spec


@pytest.mark.parametrize("name", ["quickstart", "vae_sigma_digits", "gan_grid25"])
def test_the_shipped_sweeps_load(name):
    spec = load_spec(REPO / "sweeps" / f"{name}.yaml")
    assert spec.n_trials >= 1 and spec.distributions()
    spec.build_sampler(), spec.build_pruner()


@pytest.mark.parametrize(("change", "message"), [
    ({"n_trails": 3}, "unknown key(s) ['n_trails']"),
    ({"direction": "down"}, "direction='down'"),
    ({"n_trials": 0}, "n_trials=0"),
    ({"space": {"model.init_args.latent_dim": {"type": "int", "low": 0, "high": 8, "log": True}}}, "log scale"),
    ({"space": {"model.init_args.latent_dim": {"type": "int", "low": 9, "high": 8}}}, "low=9 > high=8"),
    ({"space": {"model.init_args.latent_dim": {"type": "integer", "low": 1, "high": 8}}}, "float, int or categorical"),
    ({"space": {"a": {"type": "float", "low": 0.1, "high": 1, "lgo": True}}}, "unknown key(s) ['lgo']"),
    ({"sampler": {"name": "TPESamplr"}}, "'TPESamplr' is not in optuna.samplers"),
    ({"pruner": {"name": "MedianPruner", "n_warmup": 3}}, "MedianPruner"),
    ({"pruner": {"name": "TrendPrunr"}}, "not in optuna.pruners or lit_gen.sweep.pruners"),
    ({"pruner": {"name": "TrendPruner", "factor": 0.5}}, "factor=0.5 must be at least 1"),
    ({"pruner": {"name": "ForecastPruner", "margin": -1}}, "margin=-1 must be ≥ 0"),
    ({"pruner": {"name": "TrendPruner", "wrapped_pruner": "MedianPruner"}}, "`wrapped_pruner` must be {name: ..."),
    ({"pruner": {"name": "PatientPruner", "patience": 2, "wrapped_pruner": {"name": "MedianPrunr"}}},
     "'MedianPrunr' is not in optuna.pruners"),
    ({"limits": {"max_epoch": 3}}, "`limits` takes the keys"),
    ({"config": "missing.yaml"}, "does not exist"),
    ({"storage": "postgresql://me:hunter2@db.example/sweeps"}, "holds a password"),
    ({"seeds": []}, "`seeds` must be a non-empty list"),
    ({"enqueue": [{"model.init_args.nope": 1}]}, "each `enqueue` entry"),
])
def test_a_bad_sweep_file_is_refused_with_the_reason(tmp_path, change, message):
    with pytest.raises(LitGenError) as error:
        load_spec(write_spec(tmp_path, **change))
    assert message in str(error.value)
    assert "hunter2" not in str(error.value)


def test_a_password_on_the_command_line_is_refused_and_never_shown(tmp_path):
    with pytest.raises(LitGenError) as error:
        resolve_storage_url(None, "postgresql://me:hunter2@db/sweeps", tmp_path)
    assert "PGPASSWORD" in str(error.value) and "hunter2" not in str(error.value)
    assert masked("postgresql://me:hunter2@db:5433/sweeps") == "postgresql://me:***@db:5433/sweeps"
    assert masked("postgresql://me@db/sweeps") == "postgresql://me@db/sweeps"


def test_storage_defaults_to_a_journal_file_in_the_sweep_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("LIT_GEN_STORAGE", raising=False)
    assert resolve_storage_url(None, None, tmp_path) == f"journal://{tmp_path}/optuna.journal"
    monkeypatch.setenv("LIT_GEN_STORAGE", "postgresql://me:pw@db/s")  # the environment may carry a password
    assert resolve_storage_url("sqlite:///x.db", None, tmp_path) == "postgresql://me:pw@db/s"


def test_sampled_values_become_overrides_the_parser_reads_back_unchanged(tmp_path):
    # YAML reads "1e-05" as a string: the override must say 1.0e-05
    for value in (1e-05, 3e20, 0.1, 2.5e-7):
        text = format_value(value)
        assert yaml.safe_load(text) == value and isinstance(yaml.safe_load(text), float), text
    assert format_value(True) == "true" and format_value(7) == "7" and format_value("conv") == "conv"
    spec = load_spec(write_spec(tmp_path, seeds=[3], limits={"max_epochs": 2, "wall_time": 3725}))
    args = fit_arguments(spec, {"model.init_args.latent_dim": 4}, 3, tmp_path / "r", tmp_path / "last.ckpt", [])
    assert "--model.init_args.latent_dim=4" in args and "--trainer.max_epochs=2" in args
    assert "--trainer.max_time=00:01:02:05" in args
    assert "--seed_everything=3" in args and "--data.init_args.shuffle_seed=3" in args
    assert args[-2:] == [f"--run_dir={tmp_path / 'r'}", f"--ckpt_path={tmp_path / 'last.ckpt'}"]


def test_a_trial_identity_survives_its_retries():
    first = TrialIdentity("study", number=3, trial_id=3, root_number=3, attempt=0)
    retry = TrialIdentity("study", number=9, trial_id=9, root_number=3, attempt=1)
    assert first.run_id == retry.run_id == "study-trial-3" and first.run_name == "trial-3"
    assert TrialIdentity.from_env({"LIT_GEN_TRIAL": retry.to_env()}) == retry
    assert TrialIdentity("s" * 80, 1, 1, 1).run_id != TrialIdentity("s" * 79 + "t", 1, 1, 1).run_id
    assert len(TrialIdentity("s" * 80, 1, 1, 1).run_id) <= 64


def test_worker_processes_that_start_together_sample_different_values(tmp_path):
    import optuna

    spec = load_spec(write_spec(tmp_path, sampler={"name": "RandomSampler"}, seed=0,
                                space={"model.init_args.latent_dim": {"type": "int", "low": 1, "high": 10**6}}))

    def first_value(sampler) -> int:
        study = optuna.create_study(sampler=sampler)
        return study.ask(spec.distributions()).params["model.init_args.latent_dim"]

    # one driver alone: the sweep's seed makes its values reproducible
    assert first_value(spec.build_sampler()) == first_value(spec.build_sampler())
    # two SLURM array tasks on one study: their own streams of values
    assert first_value(spec.build_sampler(salt="slurm-7_0")) != first_value(spec.build_sampler(salt="slurm-7_1"))
