"""lit_gen's own pruners, judged on curves whose decision is worked out by hand."""

from __future__ import annotations

import math

import optuna
import pytest

from lit_gen.sweep.pruners import TrendPruner

optuna.logging.set_verbosity(optuna.logging.WARNING)

# One finished trial: 100 at step 0 down to 0 at step 20, its last step. So `best` = 0 and `horizon` = 20.
FINISHED = [100.0 - 5.0 * step for step in range(21)]


def decide(curve: list[float], direction: str = "minimize", finished=(FINISHED,), pruner=None, **pruner_args) -> bool:
    """Whether the pruner prunes a trial that reported `curve` (one value per step), beside `finished` trials."""
    sign = -1.0 if direction == "maximize" else 1.0
    pruner = pruner or TrendPruner(**{"window": 2, "factor": 2.0, "n_warmup_steps": 2, **pruner_args})
    study = optuna.create_study(direction=direction, pruner=pruner)
    for values in finished:
        study.add_trial(optuna.trial.create_trial(
            value=sign * min(values), intermediate_values={step: sign * v for step, v in enumerate(values)}))
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
