"""lit_gen's own pruners, judged on curves whose decision is worked out by hand."""

from __future__ import annotations

import math

import optuna
import pytest

from lit_gen.sweep.pruners import POWER_LAW_EXPONENTS, ForecastPruner, TrendPruner, power_law_forecast

optuna.logging.set_verbosity(optuna.logging.WARNING)

# One finished trial: 100 at step 0 down to 0 at step 20, its last step. So `best` = 0 and `horizon` = 20.
FINISHED = [100.0 - 5.0 * step for step in range(21)]


def decide(curve: list[float], direction: str = "minimize", finished=(FINISHED,), pruner=None, **pruner_args) -> bool:
    """Whether the pruner prunes a trial that reported `curve` (one value per step), beside `finished` trials."""
    sign = -1.0 if direction == "maximize" else 1.0
    pruner = pruner or TrendPruner(**{"window": 2, "factor": 2.0, "n_warmup_steps": 2, **pruner_args})
    study = optuna.create_study(direction=direction, pruner=pruner)
    for values in finished:
        final = min((v for v in values if math.isfinite(v)), default=0.0)  # a finished trial's value is finite
        study.add_trial(optuna.trial.create_trial(
            value=sign * final, intermediate_values={step: sign * v for step, v in enumerate(values)}))
    trial = study.ask()
    for step, value in enumerate(curve):
        trial.report(sign * value, step)
    return trial.should_prune()


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize(("curve", "pruned"), [
    # at step 2, 18 steps before the horizon, with window 2 and factor 2: b(2) + 2 · (b(2) − b(0)) / 2 · 18 vs 0
    ([50.0, 40.0, 30.0], False),  # far behind but falling fast: 30 − 2 · 10 · 18 < 0
    ([10.4, 10.2, 10.0], True),  # close but stalling: 10 − 2 · 0.2 · 18 = 2.8 > 0
    ([10.4, 10.0, 10.7], True),  # judged by its best so far, 10.0 (b(0) = 10.4): 10 − 0.4 · 18 = 2.8 > 0
    ([10.4, 9.0, 10.7], False),  # best so far 9: 9 − 2 · 1.4 / 2 · 18 < 0, whatever the noisy last value
    ([-1.0, -1.0, -1.0], False),  # already ahead of the best finished trial
])
def test_a_trial_is_pruned_when_even_its_recent_rate_doubled_would_not_beat_the_best(curve, pruned, direction):
    assert decide(curve, direction=direction) is pruned


def test_factor_is_the_room_given_to_a_slowing_curve():
    assert decide([10.4, 10.2, 10.0], factor=2.0)
    assert not decide([10.4, 10.2, 10.0], factor=3.0)  # 10 − 3 · 0.2 · 18 = −0.8 < 0


def test_nothing_is_judged_in_the_warmup_before_a_finished_trial_or_at_the_horizon():
    stalling = [10.4, 10.2, 10.0]
    assert not decide(stalling, n_warmup_steps=3)
    assert not decide(stalling, finished=())
    assert not decide(stalling, n_startup_trials=2)
    assert not decide([10.0] * 21)  # step 20: no epochs left to save by stopping
    assert not decide([math.nan] * 3)  # no finite value: the divergence check, not this rule, deals with it


def test_the_wrapped_pruner_is_asked_first():
    behind_at_step_0 = [150.0]  # worse than the finished trial's 100 at step 0, in this pruner's warm-up
    assert not decide(behind_at_step_0)
    median = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    assert decide(behind_at_step_0, wrapped_pruner=median)


def test_the_reason_names_the_rule_that_decided_and_its_forecast():
    pruner = TrendPruner(window=2, factor=2.0, n_warmup_steps=2)
    assert decide([10.4, 10.2, 10.0], pruner=pruner)
    assert pruner.last_reason == ("improving at 2× its rate over the last 2 steps, it would reach 2.8 by step 20; "
                                  "the best finished trial has 0")
    assert not decide([50.0, 40.0, 30.0], pruner=pruner)
    assert pruner.last_reason is None
    median = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    pruner = TrendPruner(wrapped_pruner=median, window=2, n_warmup_steps=2)
    assert decide([150.0], pruner=pruner)
    assert pruner.last_reason == "the wrapped MedianPruner decided"


def test_bad_arguments_are_refused():
    for args in ({"window": 0}, {"factor": 0.9}, {"n_warmup_steps": -1}, {"n_startup_trials": 0},
                 {"wrapped_pruner": "MedianPruner"}):
        with pytest.raises(ValueError):
            TrendPruner(**args)


# ForecastPruner, beside the same finished trial (best 0, horizon step 20), judging at step 9 (ten values; the
# latter half, five, is fitted). Curves are power laws in x = step + 1, so the forecast is close to the curve's own
# value at step 20 (close: c is chosen from a grid).
def power_law(a: float, b: float, c: float, steps: int = 10) -> list[float]:
    return [a + b * (step + 1) ** -c for step in range(steps)]


def forecast_decides(curve: list[float], direction: str = "minimize", **args) -> bool:
    pruner = ForecastPruner(**{"factor": 2.0, "n_warmup_steps": 5, "n_startup_trials": 1, **args})
    return decide(curve, direction=direction, pruner=pruner)


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize(("curve", "pruned"), [
    # y(9) = 14, forecast 10 + 40/21 = 11.9: even twice the gain left, 14 − 2 · 2.1 = 9.8, is behind 0
    (power_law(10.0, 40.0, 1.0), True),
    # far behind, y(9) = 11.6, but still falling fast: forecast ≈ −20 + 100/√21 = 1.8 (1.9 from the grid's c),
    # 11.6 − 2 · 9.7 = −7.8 < 0
    (power_law(-20.0, 100.0, 0.5), False),
    ([10.0] * 10, True),  # levelled off behind
    ([1.0 + 0.1 * step for step in range(10)], True),  # getting worse, behind: no gain is forecast
    ([-1.0 + 0.1 * step for step in range(10)], False),  # getting worse but ahead now (−0.1): a loss is no gain
    ([-1.0] * 10, False),  # already ahead of the best finished trial
])
def test_a_trial_is_pruned_when_twice_the_gain_its_curve_forecasts_would_not_beat_the_best(curve, pruned, direction):
    assert forecast_decides(curve, direction=direction) is pruned


def test_the_forecast_is_the_power_law_through_the_values():
    c = POWER_LAW_EXPONENTS[40]
    steps = list(range(10, 20))
    values = [-40.0 + 30.0 * (step + 1) ** -c for step in steps]
    assert power_law_forecast(steps, values, 59) == pytest.approx(-40.0 + 30.0 * 60**-c, abs=1e-9)
    assert power_law_forecast(steps, [5.0] * 10, 59) == pytest.approx(5.0)


def test_the_forecast_is_fitted_to_the_latter_half_of_the_curve():
    def reason(curve: list[float]) -> str | None:
        pruner = ForecastPruner()
        decide(curve, finished=([100.0 - 2.5 * step for step in range(41)],), pruner=pruner)  # best 0, horizon 40
        return pruner.last_reason

    late = power_law(5.0, 40.0, 1.0, steps=20)[10:]  # steps 10 to 19, the half that is fitted at step 19
    assert reason([1000.0] * 10 + late) is not None  # 7 at step 19, levelling off towards 6: pruned
    assert reason([1000.0] * 10 + late) == reason([50.0] * 10 + late)  # the first half plays no part
    assert reason([50.0] * 10 + [5.0] + late[1:]) != reason([50.0] * 10 + late)  # the whole latter half does


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_factor_and_margin_are_the_room_given_to_the_forecast(direction):
    curve = power_law(10.0, 40.0, 1.0)  # 14 now, 2.1 of gain forecast
    assert forecast_decides(curve, direction, factor=6.0)  # 14 − 6 · 2.1 = 1.4 > 0
    assert not forecast_decides(curve, direction, factor=7.0)  # 14 − 7 · 2.1 = −0.7
    assert forecast_decides(curve, direction, margin=9.0)  # 9.8 > 0 + 9
    assert not forecast_decides(curve, direction, margin=10.0)


def test_forecast_pruner_judges_nothing_in_the_warmup_before_enough_trials_or_values_or_at_the_horizon():
    stalled = [10.0] * 10
    assert not forecast_decides(stalled, n_warmup_steps=10)
    assert not forecast_decides(stalled, n_startup_trials=2)
    assert not decide(stalled, finished=(), pruner=ForecastPruner())
    assert decide(stalled, pruner=ForecastPruner())  # by default one finished trial is enough to compare with
    assert not forecast_decides([10.0] * 6, n_warmup_steps=0, min_points=7)  # six values, seven needed
    assert not forecast_decides([10.0] * 21)  # step 20: no epochs left to save by stopping
    assert not forecast_decides([10.0] * 9 + [math.nan])  # the divergence check, not this rule, deals with it


def test_forecast_pruner_asks_its_wrapped_pruner_first_and_says_which_rule_decided():
    median = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    pruner = ForecastPruner(wrapped_pruner=median)
    assert decide([150.0], pruner=pruner)  # behind the finished trial's 100 at step 0, in this rule's warm-up
    assert pruner.last_reason == "the wrapped MedianPruner decided"
    pruner = ForecastPruner(wrapped_pruner=median)
    assert decide([150.0] * 10, pruner=pruner)  # both rules would prune: the wrapped one was asked first
    assert pruner.last_reason == "the wrapped MedianPruner decided"
    pruner = ForecastPruner(margin=1.0)
    assert decide([10.0] * 10, pruner=pruner)
    assert pruner.last_reason == ("its curve forecasts 10 at step 20; even 3× that gain reaches only 10; "
                                  "the best finished trial has 0 (margin 1)")
    assert decide([10.0] * 10, direction="maximize", pruner=pruner)
    assert pruner.last_reason == ("its curve forecasts -10 at step 20; even 3× that gain reaches only -10; "
                                  "the best finished trial has 0 (margin 1)")
    assert not decide(power_law(-20.0, 100.0, 0.5), pruner=pruner)
    assert pruner.last_reason is None
    pruner = ForecastPruner()
    assert decide([10.0] * 10, pruner=pruner)
    assert pruner.last_reason.endswith("the best finished trial has 0")  # no margin, none mentioned


def test_forecast_pruner_refuses_bad_arguments():
    for args in ({"factor": 0.9}, {"margin": -1.0}, {"n_warmup_steps": -1}, {"n_startup_trials": 0},
                 {"min_points": 3}, {"wrapped_pruner": "MedianPruner"}):
        with pytest.raises(ValueError):
            ForecastPruner(**args)


@pytest.mark.parametrize("pruner", [TrendPruner(window=2, n_warmup_steps=2), ForecastPruner()],
                         ids=["trend", "forecast"])
def test_a_finished_trial_without_a_finite_value_does_not_hide_the_best(pruner):
    no_finite_value = [math.nan] * 21
    for finished in ((no_finite_value, FINISHED), (FINISHED, no_finite_value)):  # in either order
        assert decide([10.0] * 10, finished=finished, pruner=pruner)
