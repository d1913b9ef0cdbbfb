"""Sweep files: every mistake is caught when the file is read, with a message that names it."""

from __future__ import annotations

import optuna
import pytest
import yaml

from lit_gen.errors import LitGenError
from lit_gen.run.identity import TrialIdentity
from lit_gen.run.storage import masked, resolve_storage_url
from lit_gen.sweep.fit_run import fit_arguments, format_value
from lit_gen.sweep.spec import DEFAULT_SEED_KEYS, Limits, build_component, load_spec
from tests.conftest import REPO
from tests.sweep_helpers import write_spec


@pytest.mark.parametrize("name", ["quickstart", "vae_sigma_digits", "gan_grid25", "rate_distortion_digits"])
def test_the_shipped_sweeps_load(name):
    spec = load_spec(REPO / "sweeps" / f"{name}.yaml")
    assert spec.n_trials >= 1 and spec.distributions()
    spec.build_sampler(), spec.build_pruner()


def pruner(class_path: str, **init_args):
    return {"class_path": class_path, "init_args": init_args}


@pytest.mark.parametrize(("change", "message"), [
    ({"n_trails": 3}, "spec.yaml: unknown key 'n_trails' (did you mean 'n_trials'?)"),
    ({"limits": {"max_epoch": 3}}, "unknown key 'limits.max_epoch' (did you mean 'max_epochs'?)"),
    ({"path": "x"}, "unknown key 'path'"),  # a field of SweepSpec, but not the file's to set
    ({"n_trials": "three"}, "n_trials='three' must be a whole number"),
    ({"n_trials": 2.5}, "n_trials=2.5 must be a whole number"),
    ({"limits": {"wall_time": "long"}}, "limits.wall_time='long' must be a number, or null"),
    ({"seeds": [1, "a"]}, "seeds=[1, 'a'] must be a list (a whole number each), or null"),
    ({"direction": "down"}, "direction='down' must be 'minimize' or 'maximize'"),
    ({"n_trials": 0}, "n_trials=0"),
    ({"space": {"model.init_args.latent_dim": {"type": "int", "low": 0, "high": 8, "log": True}}}, "log scale"),
    ({"space": {"model.init_args.latent_dim": {"type": "int", "low": 9, "high": 8}}}, "low=9 > high=8"),
    ({"space": {"model.init_args.latent_dim": {"type": "integer", "low": 1, "high": 8}}}, "float, int or categorical"),
    ({"space": {"a": {"type": "float", "low": 0.1, "high": 1, "logg": True}}}, "'space.a.logg' (did you mean 'log'?)"),
    ({"sampler": {"class_path": "TPESamplr"}}, "sampler 'TPESamplr' is not in optuna.samplers (did you mean "
                                               "'TPESampler'?)"),
    ({"sampler": {"name": "TPESampler", "n_startup_trials": 4}},
     "is the old form; write `sampler: {class_path: TPESampler, init_args: {'n_startup_trials': 4}}`"),
    ({"sampler": "TPESampler"}, "`sampler` must be {class_path:"),
    ({"sampler": {"class_path": "TPESampler", "init_arg": {}}}, "'sampler.init_arg' (did you mean 'init_args'?)"),
    ({"pruner": pruner("MedianPruner", n_warmup=3)}, "'pruner.init_args.n_warmup' (did you mean 'n_warmup_steps'?)"),
    ({"pruner": pruner("MedianPruner", n_warmup_steps="ten")}, "n_warmup_steps=ten must be a whole number"),
    ({"pruner": pruner("MedianPruner", n_warmup_steps=-1)}, "MedianPruner"),  # optuna's own check
    ({"pruner": pruner("TPESampler")}, "is not in optuna.pruners"),
    ({"pruner": pruner("optuna.samplers.TPESampler")}, "is not a subclass of optuna.pruners.BasePruner"),
    ({"pruner": pruner("my_pruners.Nope")}, "cannot be imported"),
    ({"pruner": pruner("PatientPruner", patience=2, wrapped_pruner={"class_path": "MedianPrunr"})}, "MedianPrunr"),
    ({"config": "missing.yaml"}, "does not exist"),
    ({"storage": "postgresql://me:hunter2@db.example/sweeps"}, "holds a password"),
    ({"seeds": []}, "`seeds` must be a non-empty list"),
    ({"enqueue": [{"model.init_args.nope": 1}]}, "each `enqueue` entry"),
    ({"faults": {"max_retries": -1}}, "faults.max_retries=-1 must be a non-negative number"),
])
def test_a_bad_sweep_file_is_refused_with_the_reason(tmp_path, change, message):
    with pytest.raises(LitGenError) as error:
        load_spec(write_spec(tmp_path, **change))
    assert message in str(error.value)
    assert "\n" not in str(error.value) and str(error.value).startswith(str(tmp_path / "spec.yaml"))
    assert "hunter2" not in str(error.value)


def test_a_missing_key_is_named_with_what_it_holds(tmp_path):
    path = write_spec(tmp_path)
    raw = yaml.safe_load(path.read_text())
    del raw["metric"]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(LitGenError, match="`metric` is missing: a key of the trial's metrics.json"):
        load_spec(path)


def test_values_keep_their_yaml_types_and_numbers_become_text_where_text_is_expected(tmp_path):
    spec = load_spec(write_spec(tmp_path, name=2024, limits={"max_epochs": 3, "wall_time": 60},
                                space={"model.init_args.latent_dim": {"type": "categorical", "choices": ["1e-5", 4]}},
                                enqueue=[{"model.init_args.latent_dim": "1e-5"}]))
    assert spec.name == "2024" and spec.limits.wall_time == 60.0 and spec.limits.max_epochs == 3
    # jsonargparse alone would read the string '1e-5' inside a free-form value as a number
    assert spec.space["model.init_args.latent_dim"]["choices"] == ["1e-5", 4] and spec.enqueue[0][
        "model.init_args.latent_dim"] == "1e-5"
    assert load_spec(write_spec(tmp_path, limits=None)).limits == Limits()
    empty = load_spec(write_spec(tmp_path, overrides=None, enqueue=None, seed_keys=None))  # `overrides:` left empty
    assert (empty.overrides, empty.enqueue, empty.seed_keys) == ([], [], DEFAULT_SEED_KEYS)


class StopAtOnce(optuna.pruners.BasePruner):
    """A user's own pruner, named in a sweep file by its import path."""

    def __init__(self, after: int = 0) -> None:
        self.after = after

    def prune(self, study, trial) -> bool:
        return trial.last_step is not None and trial.last_step >= self.after


def test_any_optuna_class_or_a_users_own_plugs_in_with_its_arguments(tmp_path):
    spec = load_spec(write_spec(tmp_path, seed=7,
                                sampler={"class_path": "optuna.samplers.QMCSampler", "init_args": {"scramble": True}},
                                pruner=pruner("PatientPruner", patience=2,
                                              wrapped_pruner=pruner("SuccessiveHalvingPruner", reduction_factor=3))))
    sampler, patient = spec.build_sampler(), spec.build_pruner()
    assert isinstance(sampler, optuna.samplers.QMCSampler) and sampler._seed == 7  # the sweep's seed
    assert isinstance(patient, optuna.pruners.PatientPruner)
    assert isinstance(patient._wrapped_pruner, optuna.pruners.SuccessiveHalvingPruner)
    assert patient._wrapped_pruner._reduction_factor == 3
    own = load_spec(write_spec(tmp_path, pruner=pruner(f"{__name__}.StopAtOnce", after=4))).build_pruner()
    assert isinstance(own, StopAtOnce) and own.after == 4
    # a seed the file gives the sampler wins over the sweep's
    given = {"class_path": "RandomSampler", "init_args": {"seed": 3}}
    assert load_spec(write_spec(tmp_path, seed=7, sampler=given)).build_sampler()._rng.rng.random() == \
        optuna.samplers.RandomSampler(seed=3)._rng.rng.random()
    # what a trial process gets through its environment: the plain dict, rebuilt the same way
    assert isinstance(build_component("pruner", spec.pruner), optuna.pruners.PatientPruner)
    assert isinstance(build_component("pruner", None), optuna.pruners.NopPruner)
    assert isinstance(build_component("sampler", None), optuna.samplers.TPESampler)


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
    spec = load_spec(write_spec(tmp_path, sampler={"class_path": "RandomSampler"}, seed=0,
                                space={"model.init_args.latent_dim": {"type": "int", "low": 1, "high": 10**6}}))

    def first_value(sampler) -> int:
        study = optuna.create_study(sampler=sampler)
        return study.ask(spec.distributions()).params["model.init_args.latent_dim"]

    # one driver alone: the sweep's seed makes its values reproducible
    assert first_value(spec.build_sampler()) == first_value(spec.build_sampler())
    # two SLURM array tasks on one study: their own streams of values
    assert first_value(spec.build_sampler(salt="slurm-7_0")) != first_value(spec.build_sampler(salt="slurm-7_1"))
