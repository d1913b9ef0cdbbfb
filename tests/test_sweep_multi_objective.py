"""Sweeps of several objectives (`metrics` + `directions`): the spec, the Pareto set in `status`/`best`, one export
per Pareto trial and `--pick`, the rate–distortion figure. All on studies built by hand with Optuna's API, except
one tiny real sweep (3 trials × 2 epochs) that checks the trial's end record and the samples along the front."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from optuna.trial import TrialState

from lit_gen.callbacks.sweep_trial import _complete
from lit_gen.errors import LitGenError
from lit_gen.run.trial_end import TrialEnd, read_trial_end, write_trial_end
from lit_gen.sweep import command
from lit_gen.sweep.driver import open_study_and_storage, run_sweep
from lit_gen.sweep.front_report import _equal_elbo_lines, plane_axes, rate_distortion_plot, view_limits
from lit_gen.sweep.objectives import pareto_trials, parse_constraint, pick
from lit_gen.sweep.results import status_text
from lit_gen.sweep.slots import slot_counts
from lit_gen.sweep.spec import load_spec
from tests.sweep_helpers import DIVERGING_LR, GOOD_LR, write_spec

SIGMA = "model.init_args.likelihood.init_args.sigma"
LR = "model.init_args.optimizer.init_args.lr"
TWO = {"metric": None, "direction": None, "metrics": ["val/recon", "val/kl"], "directions": ["minimize", "minimize"]}
SPACE = {SIGMA: {"type": "float", "low": 0.05, "high": 1.0, "log": True}}
#: (σ, recon, kl) of the hand-built trials: 0, 1, 3 on the front; 2 is beaten by 1 in both; 4 diverged
TRIALS = [(0.05, 10.0, 30.0), (0.1, 20.0, 15.0), (0.2, 25.0, 18.0), (0.5, 40.0, 5.0), (1.0, None, None)]


def multi_spec(folder: Path, **changes):
    raw = {**TWO, "space": SPACE, **changes}
    path = write_spec(folder, **raw)
    data = {k: v for k, v in yaml.safe_load(path.read_text()).items() if v is not None or k == "pruner"}
    for key in ("metric", "direction"):
        if raw.get(key) is None:
            data.pop(key, None)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_sweep_file_names_one_metric_or_several(tmp_path):
    single = load_spec(write_spec(tmp_path))
    assert single.objectives == ["val/nll_iw"] and single.objective_directions == ["minimize"]
    assert not single.multi_objective
    spec = load_spec(multi_spec(tmp_path, directions=["minimize", "maximize"]))
    assert spec.objectives == ["val/recon", "val/kl"] and spec.objective_directions == ["minimize", "maximize"]
    assert spec.multi_objective and spec.metric == "val/recon" and spec.direction == "minimize"
    assert load_spec(multi_spec(tmp_path, directions=None)).objective_directions == ["minimize", "minimize"]


@pytest.mark.parametrize(("change", "message"), [
    ({"pruner": {"class_path": "MedianPruner"}}, "a sweep of several metrics cannot prune (Optuna prunes "
                                                 "single-objective studies only): remove `pruner`"),
    ({"metric": "val/nll_iw"}, "give either `metric` and `direction` (one objective) or `metrics`"),
    ({"directions": ["minimize"]}, "`directions` must list minimize or maximize once per metric (2: val/recon"),
    ({"directions": ["minimize", "down"]}, "`directions` must list minimize or maximize"),
    ({"metrics": ["val/kl", "val/kl"]}, "names a metric twice"),
    ({"metrics": []}, "`metrics` must be a non-empty list"),
])
def test_a_bad_multi_objective_file_is_refused_in_one_line(tmp_path, change, message):
    with pytest.raises(LitGenError) as error:
        load_spec(multi_spec(tmp_path, **change))
    assert message in str(error.value) and "\n" not in str(error.value)


def _config(run_dir: Path, sigma: float) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {"trainer": {"max_epochs": 4, "default_root_dir": str(run_dir)},
              "model": {"init_args": {"likelihood": {"init_args": {"sigma": sigma}}}}, "run_dir": str(run_dir)}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture
def front_study(tmp_path):
    spec = load_spec(multi_spec(tmp_path, n_trials=4))
    study, storage, _ = open_study_and_storage(spec)
    for sigma, recon, kl in TRIALS:
        study.enqueue_trial({SIGMA: sigma})
        trial = study.ask(spec.distributions())
        run_dir = spec.sweep_dir / "trials" / f"trial-{trial.number}"
        _config(run_dir, sigma)
        storage.set_trial_user_attr(trial._trial_id, "run_dir", str(run_dir))
        if recon is None:  # what the worker does with a diverged trial of several objectives
            storage.set_trial_user_attr(trial._trial_id, "failure", "diverged")
            storage.set_trial_user_attr(trial._trial_id, "error", "training diverged in epoch 1")
            study.tell(trial, state=TrialState.FAIL)
        else:
            storage.set_trial_user_attr(trial._trial_id, "metrics", {"val/recon": recon, "val/kl": kl,
                                                                     "val/nll_iw": recon + kl})
            study.tell(trial, [recon, kl])
    return spec, study


def test_status_and_best_show_the_pareto_front_with_values_and_parameters(front_study, capsys):
    spec, study = front_study
    assert [t.number for t in pareto_trials(study)] == [0, 1, 3]  # along the front by val/recon; 2 is dominated
    lines = status_text(study, spec, 4).splitlines()
    assert lines[0] == "sweep test_sweep: 5/4 done — 4 COMPLETE, 1 FAIL"  # the diverged trial holds a done slot
    assert lines[1] == "Pareto front: 3 of 4 COMPLETE trials (minimize val/recon, minimize val/kl), by val/recon:"
    assert lines[2:5] == ["  trial 0: val/recon = 10, val/kl = 30 (sigma=0.05)",
                          "  trial 1: val/recon = 20, val/kl = 15 (sigma=0.1)",
                          "  trial 3: val/recon = 40, val/kl = 5 (sigma=0.5)"]
    assert "  trial 4, diverged: training diverged in epoch 1" in lines  # recorded, not on the front
    command.main(["best", str(spec.path)])
    out = capsys.readouterr().out.splitlines()
    assert out[1:4] == lines[2:5] and "--export front/" in out[-1]


def test_a_diverged_trial_of_several_objectives_fills_its_slot_without_a_retry(front_study):
    spec, study = front_study
    counts = slot_counts(study.get_trials(deepcopy=False), spec.faults.max_retries)
    assert (counts.done, counts.crashed, counts.waiting) == (5, 0, 0)


def test_best_export_writes_one_config_per_pareto_trial_and_pick_the_constrained_best(front_study, capsys):
    spec, study = front_study
    out = spec.sweep_dir.parent / "front"
    command.main(["best", str(spec.path), "--export", str(out), "--full"])
    assert sorted(p.name for p in out.iterdir()) == ["trial-0.yaml", "trial-1.yaml", "trial-3.yaml"]
    for number, sigma in ((0, 0.05), (1, 0.1), (3, 0.5)):
        text = (out / f"trial-{number}.yaml").read_text()
        config = yaml.safe_load(text)
        assert config["model"]["init_args"]["likelihood"]["init_args"]["sigma"] == sigma
        assert "run_dir" not in config and config["trainer"]["max_epochs"] == 100  # full training
        assert f"Pareto trial {number} of sweep test_sweep" in text.splitlines()[0]
    capsys.readouterr()
    # the best val/recon among trials with val/kl <= 20: trial 1 (trial 0 has kl 30; 2 and 3 recon worse)
    command.main(["best", str(spec.path), "--pick", "val/kl<=20", "--export", str(out / "pick.yaml")])
    said = capsys.readouterr().out.splitlines()
    assert said[0] == "picked trial 1 (val/kl<=20, best val/recon): val/recon = 20, val/kl = 15"
    assert yaml.safe_load((out / "pick.yaml").read_text())["model"]["init_args"]["likelihood"]["init_args"][
        "sigma"] == 0.1
    assert pick(study, spec, "val/kl < 5.5").number == 3 and pick(study, spec, "val/nll_iw>=44").number == 3
    assert pick(study, spec, "val/kl>15").number == 0
    with pytest.raises(LitGenError, match=r"none of the 4 COMPLETE trials satisfies it \(val/kl ranges from 5 to "
                                          r"30\); loosen the bound"):
        pick(study, spec, "val/kl<1")
    with pytest.raises(LitGenError, match="no trial has a metric 'val/typo'"):
        pick(study, spec, "val/typo<1")
    with pytest.raises(LitGenError, match="write a metric, a comparison"):
        parse_constraint("val/kl is small")
    with pytest.raises(LitGenError, match="give a folder"):
        command.main(["best", str(spec.path), "--export", str(out / "one.yaml")])


def test_the_rate_distortion_figure_is_a_png_of_the_plane(front_study, tmp_path):
    import matplotlib.image

    spec, study = front_study
    assert plane_axes(spec) == (1, 0)  # KL across, reconstruction up
    out = rate_distortion_plot(study, spec, tmp_path / "rd.png")
    image = matplotlib.image.imread(out)
    assert image.shape[:2] == (605, 825)  # 7.5 × 5.5 inches at 110 dpi
    assert image[..., :3].std() > 0.05  # not blank


def test_lines_of_equal_elbo_have_recon_plus_kl_constant_across_the_box():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots()
    _equal_elbo_lines(axis, (0.0, 20.0), (10.0, 50.0), count=3)
    totals = [np.unique(np.round(line.get_xdata() + line.get_ydata(), 9)) for line in axis.get_lines()]
    assert all(len(t) == 1 for t in totals)  # each line: recon + KL = its constant
    assert [t[0] for t in totals] == pytest.approx([25.0, 40.0, 55.0])  # evenly between the corners 10 and 70
    plt.close(figure)


def test_the_view_keeps_the_front_and_leaves_far_trials_above_the_scale():
    x_lim, y_lim = view_limits([0.0, 10.0], [0.0, 10.0], [0.0, 5.0, 10.0], [0.0, 25.0, 1000.0])
    assert y_lim[0] < 0.0 and 25.0 < y_lim[1] < 1000.0 and x_lim[0] < 0.0 and x_lim[1] > 10.0


def test_the_end_record_carries_every_objective_and_a_nan_is_a_divergence(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"metrics": {"val/recon": -12.5, "val/kl": 7.25}}))
    end = _complete(tmp_path, ["val/recon", "val/kl"], 1.0, 3)
    assert (end.state, end.value, end.values) == ("complete", -12.5, [-12.5, 7.25])
    (tmp_path / "metrics.json").write_text(json.dumps({"metrics": {"val/recon": -12.5, "val/kl": float("nan")}}))
    end = _complete(tmp_path, ["val/recon", "val/kl"], 1.0, 3)
    assert end.state == "diverged" and "val/kl = nan" in end.reason
    write_trial_end(tmp_path, end)  # JSON has no NaN: written as text, read back as a float
    json.loads((tmp_path / "trial_end.json").read_text(), parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    back = read_trial_end(tmp_path)
    assert back.values[0] == -12.5 and math.isnan(back.values[1])
    assert _complete(tmp_path, ["val/recon", "val/typo"], 1.0, 3).state == "failed"
    assert _complete(tmp_path, ["val/kl"], 1.0, 3).state == "failed"  # one objective: unchanged
    write_trial_end(tmp_path, TrialEnd("complete", 1.0))
    assert read_trial_end(tmp_path).values is None


@pytest.mark.slow
def test_a_small_real_sweep_ends_with_a_front_samples_along_it_and_a_diverged_trial_off_it(tmp_path):
    """3 trials × 1 epoch: two σ, and one learning rate that diverges."""
    from lit_gen.sweep.front_report import front_samples_plot

    enqueue = [{SIGMA: 0.1, LR: GOOD_LR}, {SIGMA: 0.8, LR: GOOD_LR}, {SIGMA: 0.3, LR: DIVERGING_LR}]
    spec = load_spec(multi_spec(tmp_path, n_trials=3, limits={"max_epochs": 1}, enqueue=enqueue, space={
        SIGMA: {"type": "float", "low": 0.05, "high": 1.0, "log": True},
        LR: {"type": "categorical", "choices": [GOOD_LR, DIVERGING_LR]}}))
    assert run_sweep(spec, workers=1) == 0
    study, _, _ = open_study_and_storage(spec, create=False)
    trials = study.get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "FAIL"]
    assert trials[2].user_attrs["failure"] == "diverged"
    for trial in trials[:2]:
        end = read_trial_end(Path(trial.user_attrs["run_dir"]))
        metrics = json.loads((Path(trial.user_attrs["run_dir"]) / "metrics.json").read_text())["metrics"]
        assert end.values == trial.values == [metrics["val/recon"], metrics["val/kl"]]
    out = front_samples_plot(study, spec, tmp_path / "samples.png")
    import matplotlib.image

    image = matplotlib.image.imread(out)
    assert image.shape[0] > 100 and image[..., :3].std() > 0.05


def test_wandb_gets_a_column_per_objective_and_the_front_in_its_summary(front_study):
    from lit_gen.sweep.results import trial_rows
    from lit_gen.sweep.wandb_report import pareto_summary, trials_table, with_objectives

    spec, study = front_study
    columns, rows = trials_table(with_objectives(trial_rows(study), spec.objectives))
    recon, kl = columns.index("objective/val/recon"), columns.index("objective/val/kl")
    assert [(r[recon], r[kl]) for r in rows] == [(r, k) for _, r, k in TRIALS]  # the diverged trial: None, None
    assert pareto_summary(pareto_trials(study), spec.objectives)[1] == {
        "number": 1, "val/recon": 20.0, "val/kl": 15.0, SIGMA: 0.1}


def test_a_multi_objective_study_reads_back_from_sqlite(tmp_path):
    spec = load_spec(multi_spec(tmp_path, storage=f"sqlite:///{tmp_path / 'study.db'}"))
    study, _, _ = open_study_and_storage(spec)
    for values in ([1.0, 3.0], [2.0, 2.0], [3.0, 3.0]):
        study.tell(study.ask(spec.distributions()), values)
    again, _, _ = open_study_and_storage(spec, create=False)
    assert [t.number for t in pareto_trials(again)] == [0, 1]
    assert [d.name for d in again.directions] == ["MINIMIZE", "MINIMIZE"]


def test_a_retried_trial_keeps_its_slot_and_reaches_the_front_under_its_slot(tmp_path):
    from lit_gen.sweep.faults import TrialFaults

    spec = load_spec(multi_spec(tmp_path))
    study, storage, _ = open_study_and_storage(spec)
    faults = TrialFaults(study, storage, storage.get_study_id_from_name(spec.name), spec.faults)
    first = study.ask(spec.distributions())
    faults.fail_and_retry(storage.get_trial(first._trial_id), "stale", "no heartbeat")  # its worker died
    retry = study.ask(spec.distributions())
    assert retry.params == first.params
    study.tell(retry, [1.0, 2.0])
    lines = status_text(study, spec, 1).splitlines()
    assert lines[0] == "sweep test_sweep: 1/1 done — 1 COMPLETE"
    assert any(line.startswith("  trial 1 (slot 0, retry 1): val/recon = 1, val/kl = 2 (") for line in lines)
    assert slot_counts(study.get_trials(deepcopy=False), spec.faults.max_retries).done == 1



def test_the_report_of_two_swept_values_draws_without_a_warning(tmp_path, recwarn):
    """Optuna's slice plot of two values has a colour bar that tight_layout cannot place (a matplotlib warning)."""
    from lit_gen.sweep.report import write_report

    space = {**SPACE, LR: {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}
    spec = load_spec(multi_spec(tmp_path, space=space, n_trials=3))
    study, storage, _ = open_study_and_storage(spec)
    for sigma, lr, recon, kl in ((0.05, 1e-3, 10.0, 30.0), (0.1, 3e-3, 20.0, 15.0), (0.5, 1e-4, 40.0, 5.0)):
        study.enqueue_trial({SIGMA: sigma, LR: lr})
        trial = study.ask(spec.distributions())
        run_dir = spec.sweep_dir / "trials" / f"trial-{trial.number}"
        _config(run_dir, sigma)
        storage.set_trial_user_attr(trial._trial_id, "run_dir", str(run_dir))
        storage.set_trial_user_attr(trial._trial_id, "metrics", {"val/recon": recon, "val/kl": kl,
                                                                 "val/nll_iw": recon + kl})
        study.tell(trial, [recon, kl])
    written = write_report(study, spec, tmp_path / "report")
    assert {"history.png", "slice.png", "trials.csv"} <= {p.name for p in written}
    assert not [w for w in recwarn if "tight_layout" in str(w.message)]
