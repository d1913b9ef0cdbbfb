"""lit_gen's ForecastTPESampler: what TPE is shown of pruned trials, and that TPE samples by it."""

import math

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from lit_gen.sweep.pruners import POWER_LAW_EXPONENTS
from lit_gen.sweep.samplers import ForecastTPESampler, _ForecastView, as_forecast
from lit_gen.sweep.spec import _build

X = FloatDistribution(0.0, 1.0)


def power_law(steps, a=-40.0, b=30.0, c=POWER_LAW_EXPONENTS[30]):
    return {s: a + b * (s + 1.0) ** -c for s in steps}


def finished(x, value, last_step=59):
    return create_trial(state=TrialState.COMPLETE, value=value, params={"x": x}, distributions={"x": X},
                        intermediate_values={last_step: value})


def pruned(x, intermediate_values):
    return create_trial(state=TrialState.PRUNED, params={"x": x}, distributions={"x": X},
                        intermediate_values=intermediate_values)


def test_a_pruned_trial_is_shown_finished_at_its_forecast_for_the_finished_trials_last_step():
    curve = power_law(range(10))  # exactly a power law whose exponent the fit can choose
    shown = as_forecast([finished(0.1, -20.0), pruned(0.9, curve)], optuna.study.StudyDirection.MINIMIZE)
    assert shown[1].state == TrialState.COMPLETE
    assert shown[1].value == pytest.approx(power_law([59])[59], abs=1e-6)  # −40 + 30·60^(−c), not the last value
    assert shown[1].value < curve[9]


def test_the_forecast_is_never_worse_than_the_last_value_and_maximising_is_mirrored():
    rising = {s: -40.0 + 0.5 * s for s in range(10)}  # getting worse: its forecast is worse still
    shown = as_forecast([finished(0.1, -20.0), pruned(0.9, rising)], optuna.study.StudyDirection.MINIMIZE)
    assert shown[1].value == rising[9]
    mirrored = {s: -v for s, v in power_law(range(10)).items()}
    shown = as_forecast([finished(0.1, 20.0), pruned(0.9, mirrored)], optuna.study.StudyDirection.MAXIMIZE)
    assert shown[1].value == pytest.approx(-power_law([59])[59], abs=1e-6)


def test_too_few_values_no_finished_trial_or_a_finished_one_stay_as_they_are():
    few = pruned(0.5, {0: 1.0, 1: 0.5, 2: math.nan, 3: 0.2, 4: 0.1})  # 4 finite values: no fit
    done = finished(0.1, -20.0)
    assert as_forecast([done, few], optuna.study.StudyDirection.MINIMIZE)[1].state == TrialState.PRUNED
    alone = pruned(0.9, power_law(range(10)))
    assert as_forecast([alone], optuna.study.StudyDirection.MINIMIZE)[0].state == TrialState.PRUNED
    assert as_forecast([done, alone], optuna.study.StudyDirection.MINIMIZE)[0] is done


def test_the_study_record_is_untouched_and_tpe_reads_the_forecast_view():
    study = optuna.create_study()
    study.add_trials([finished(0.1, -20.0), pruned(0.9, power_law(range(10)))])
    view = _ForecastView(study)
    assert [t.state for t in view._get_trials(deepcopy=False, states=(TrialState.COMPLETE,))] == [
        TrialState.COMPLETE, TrialState.COMPLETE]
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.PRUNED]
    assert view.direction == study.direction


def _samples(sampler, n=30):
    """x of n trials sampled after a history where the finished trials sit at x < 0.3 and end at −30 to −32.5, and
    the pruned ones sit at x > 0.7, stopped at epoch 12 at about −29.4 (behind every finished trial) on curves that
    forecast about −35 (ahead of every finished trial) at the finished trials' step 59."""
    study = optuna.create_study(sampler=sampler)
    for i in range(6):
        study.add_trial(finished(0.05 + 0.04 * i, -30.0 - 0.5 * i))
    for i in range(6):
        study.add_trial(pruned(0.75 + 0.04 * i, power_law(range(12), a=-45.0 - 0.1 * i, b=30.0)))
    xs = []
    for _ in range(n):
        trial = study.ask({"x": X})
        xs.append(trial.params["x"])
        study.tell(trial, state=TrialState.FAIL)  # fails do not enter TPE's history: every draw sees the same one
    return np.array(xs)


def test_tpe_samples_where_the_pruned_trials_forecast_the_best_values():
    plain = _samples(optuna.samplers.TPESampler(n_startup_trials=5, seed=0))
    forecast = _samples(ForecastTPESampler(n_startup_trials=5, seed=0))
    assert np.mean(plain > 0.6) < 0.2  # plain TPE ranks the pruned trials last: it samples away from them
    assert np.mean(forecast > 0.6) > 0.8  # shown their forecasts (the best values), TPE samples among them


def test_a_sweep_spec_builds_it_by_name_with_the_sweeps_seed():
    built = _build(optuna.samplers, {"name": "ForecastTPESampler", "n_startup_trials": 8}, "sampler", 3)
    assert isinstance(built, ForecastTPESampler)
    first = [optuna.create_study(sampler=s).ask({"x": X}).params["x"]
             for s in (built, ForecastTPESampler(seed=3), ForecastTPESampler(seed=4))]
    assert first[0] == first[1] != first[2]
