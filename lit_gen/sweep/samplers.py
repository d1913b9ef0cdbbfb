"""Samplers of lit_gen's own, beside optuna's: a sweep spec names them as it names optuna's (`sampler: {name: ...}`).

`ForecastTPESampler` is optuna's TPE for sweeps whose pruner stops most trials. TPE ranks every pruned trial below
every finished one, and pruned ones among themselves by how far they ran. When a pruner stops 20 of 30 trials, a
few finished trials steer the whole search, and a trial stopped at epoch 40 of 60, a little behind the best, counts
as worse than a finished trial that ended far behind. In the σ sweep that sent pruned sweeps to other values than
the unpruned sweep of the same seed tried, and some ended several nats behind (`benchmarks/README.md`).

This sampler shows TPE a pruned trial as finished, with the value its learning curve forecasts for the last epoch
the finished trials reached: the power law that `ForecastPruner` fits to the latter half of the curve, never worse
than the value the trial last reported. A trial stopped with too few finite values to fit (fewer than 5) stays
pruned to TPE. Trials are only shown differently to TPE: the study and its storage are untouched, so `n_trials`,
states and results are the same as with any sampler.
"""

from __future__ import annotations

import copy
from collections.abc import Container, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from lit_gen.sweep.pruners import MIN_FORECAST_POINTS, curve_forecast


class ForecastTPESampler(BaseSampler):
    """optuna's `TPESampler` (its arguments, e.g. `n_startup_trials`), shown each pruned trial as finished with its
    forecast final value."""

    def __init__(self, seed: int | None = None, **tpe_arguments: Any) -> None:
        self.tpe = TPESampler(seed=seed, **tpe_arguments)

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self.tpe.infer_relative_search_space(_ForecastView(study), trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self.tpe.sample_relative(_ForecastView(study), trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self.tpe.sample_independent(_ForecastView(study), trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.tpe.before_trial(study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self.tpe.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.tpe.reseed_rng()


class _ForecastView:
    """The study as TPE is to see it: every attribute the study's own, but its trials with the pruned ones shown
    finished at their forecast. TPE reads trials through `Study._get_trials` (optuna 4.2–5.x); the public readers
    are covered too. `tests/test_samplers.py` fails if TPE stops reading them this way."""

    def __init__(self, study: optuna.Study) -> None:
        self._study = study

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(self, deepcopy: bool = True, states: Container[TrialState] | None = None,
                    use_cache: bool = False) -> list[FrozenTrial]:
        trials = self._study._get_trials(deepcopy=deepcopy, states=None, use_cache=use_cache)
        shown = as_forecast(trials, self._study.direction)
        return [t for t in shown if states is None or t.state in states]

    def get_trials(self, deepcopy: bool = True, states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=deepcopy, states=states)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()


def as_forecast(trials: list[FrozenTrial], direction: StudyDirection) -> list[FrozenTrial]:
    """The trials, each pruned one that has enough finite values replaced by a finished copy whose value is its
    forecast at the last step any finished trial reached (no finished trial yet: the trials as they are)."""
    finished_steps = [t.last_step for t in trials if t.state == TrialState.COMPLETE and t.last_step is not None]
    if not finished_steps:
        return list(trials)
    horizon = max(finished_steps)
    better = min if direction == StudyDirection.MINIMIZE else max
    shown = []
    for trial in trials:
        fit = curve_forecast(trial.intermediate_values, horizon, MIN_FORECAST_POINTS)
        if trial.state == TrialState.PRUNED and fit is not None:
            last_step, forecast = fit
            trial = copy.copy(trial)  # a shallow copy: the study's own record is not touched
            trial.state = TrialState.COMPLETE
            trial.values = [better(forecast, trial.intermediate_values[last_step])]
        shown.append(trial)
    return shown
