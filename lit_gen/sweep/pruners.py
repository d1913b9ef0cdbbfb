"""Pruners of lit_gen's own, beside optuna's: a sweep spec names them as it names optuna's (`pruner: {name: ...}`).

`TrendPruner` is made for learning curves that are still falling when the epoch budget ends, and whose early order
is not their final order. In the σ sweep a small σ starts far behind (its reconstruction term is large until the
decoder is sharp) and finishes first; a large σ starts ahead and levels off. Pruners that rank trials at equal
epochs (median, percentile, successive halving) either stop the future winners or keep every trial that merely
looks average (`benchmarks/README.md`). `TrendPruner` asks each trial about its own curve instead:

    prune at step s  ⇔  b(s) + factor · (b(s) − b(s − window)) / window · (horizon − s)  is worse than  best

where b is the trial's best value so far, `horizon` the last step the finished trials reached, and `best` the best
value any finished trial reported. In words: even if the trial kept improving to the end at `factor` times its
recent rate, it would not beat the best finished trial. A learning curve flattens as it goes, so its recent rate
is an optimistic forecast; `factor` adds room for noise. Trials that level off behind are stopped; trials that are
far behind but falling fast are not. It judges nothing before `n_warmup_steps`, and can wrap another pruner
(`wrapped_pruner`, as optuna's PatientPruner does), which is asked first: a median pruner stops the trials that
are hopeless from the start, this one the ones that stall. Lower-is-better and higher-is-better metrics alike.

`ForecastPruner` asks the same question with another forecast than a straight line: a power law fitted to the
latter half of the trial's curve, which bends as learning curves do. Both are measured on the σ sweep in
`benchmarks/README.md`; `ForecastPruner` is the σ sweep's pruner.
"""

from __future__ import annotations

import math

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState


class _OwnCurvePruner(BasePruner):
    """What lit_gen's pruners share: the wrapped pruner asked first, the warm-up, the finished trials to compare
    with (their best value and the last step they reached), and the reason recorded. A subclass says, in `judge`,
    whether its own rule prunes a trial at `step`, and why.

    Args:
        wrapped_pruner: another pruner asked first (its "prune" stands); None: this rule alone.
        n_warmup_steps: no judgement of a trial before this step.
        n_startup_trials: no judgement until this many trials have finished.
    """

    def __init__(self, wrapped_pruner: BasePruner | None, n_warmup_steps: int, n_startup_trials: int) -> None:
        if n_warmup_steps < 0 or n_startup_trials < 1:
            raise ValueError(f"n_warmup_steps={n_warmup_steps} must be ≥ 0 and n_startup_trials="
                             f"{n_startup_trials} ≥ 1")
        if wrapped_pruner is not None and not isinstance(wrapped_pruner, BasePruner):
            raise ValueError(f"wrapped_pruner must be an optuna pruner, got {wrapped_pruner!r}")
        self.wrapped_pruner = wrapped_pruner
        self.n_warmup_steps = n_warmup_steps
        self.n_startup_trials = n_startup_trials
        self.last_reason: str | None = None  # why the last "prune" was decided, for the trial's record

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        self.last_reason = None
        if self.wrapped_pruner is not None and self.wrapped_pruner.prune(study, trial):
            self.last_reason = f"the wrapped {type(self.wrapped_pruner).__name__} decided"
            return True
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(finished) < self.n_startup_trials:
            return False
        sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0  # so that lower is better
        best = _best_finished(finished, sign)
        horizon = max((t.last_step for t in finished if t.last_step is not None), default=None)
        if math.isnan(best) or horizon is None or step >= horizon:
            return False  # nothing to compare with, or no epochs left to save
        self.last_reason = self.judge(trial, step, sign, best, horizon)
        return self.last_reason is not None

    def judge(self, trial: FrozenTrial, step: int, sign: float, best: float, horizon: int) -> str | None:
        """Why the trial is pruned at `step`, or None to keep it. Values are signed by `sign` so that lower is
        better; `best` is the best finished value, `horizon` the last step the finished trials reached (> step)."""
        raise NotImplementedError


class TrendPruner(_OwnCurvePruner):
    """Prune a trial that could not beat the best finished trial even if it went on improving at `factor` times
    its rate over the last `window` steps (see the module docstring).

    Args:
        wrapped_pruner: another pruner asked first (its "prune" stands); None: this rule alone.
        window: steps over which the trial's recent rate of improvement is measured.
        factor: how much faster than that rate the trial is allowed to improve from now on (≥ 1: a margin for
            noise and for curves that do not flatten).
        n_warmup_steps: no judgement of a trial before this step (nor before `window` steps).
        n_startup_trials: no judgement until this many trials have finished.
    """

    def __init__(self, wrapped_pruner: BasePruner | None = None, window: int = 10, factor: float = 2.0,
                 n_warmup_steps: int = 10, n_startup_trials: int = 1) -> None:
        if window < 1:
            raise ValueError(f"window={window} must be at least 1")
        if not factor >= 1.0:
            raise ValueError(f"factor={factor} must be at least 1 (the recent rate is already the forecast)")
        super().__init__(wrapped_pruner, n_warmup_steps, n_startup_trials)
        self.window = window
        self.factor = factor

    def judge(self, trial: FrozenTrial, step: int, sign: float, best: float, horizon: int) -> str | None:
        if step < self.window:
            return None
        now, then = _best_until(trial, sign, step), _best_until(trial, sign, step - self.window)
        if math.isnan(now + then):
            return None  # no finite value yet, or none `window` steps back
        rate = (now - then) / self.window  # ≤ 0: the best so far never gets worse
        forecast = now + self.factor * rate * (horizon - step)
        if forecast <= best:
            return None
        return (f"improving at {self.factor:g}× its rate over the last {self.window} steps, it would reach "
                f"{_shown(sign * forecast)} by step {horizon}; the best finished trial has {_shown(sign * best)}")


MIN_FORECAST_POINTS = 5  # the fewest finite values a forecast is fitted to, by default


class ForecastPruner(_OwnCurvePruner):
    """Prune a trial whose own learning curve, extrapolated to the last step, would leave it more than `margin`
    behind the best finished trial even if it gained `factor` times the gain the extrapolation forecasts.

    The forecast fits the power law `a + b · (s + 1)^(−c)` to the latter half of the trial's values (at least
    `min_points` of them) by least squares, c on a log grid from 0.05 to 4, a and b exactly for each c; and
    evaluates it at the horizon (the last step the finished trials reached). With v(s) the value the trial reported
    at step s:

        prune at step s  ⇔  v(s) − factor · max(0, v(s) − forecast)  is worse than  best + margin

    A power law bends as learning curves do, so it follows a curve that is still falling fast (a small σ, far
    behind) further than one that levels off (a large σ). Fitted to the latter half it follows the curve's present
    shape, not its first epochs. `factor` > 1 leaves room for curves that fall faster than the fit expects, and
    `margin` (in the metric's units) for noise in the metric itself. Unlike `TrendPruner` it starts from the latest
    value, not the best so far: the fit, not one lucky epoch, says where the curve is. It judges from step 5 once
    one trial has finished: it compares with the best finished trial, which one trial already gives, and every
    startup trial runs to the end (five were 300 of the 640–810 epochs a pruned σ sweep trained). The defaults are
    the σ sweep's settings (`benchmarks/README.md`), but for `margin`: it is in the metric's units, so its default
    is 0 (the σ sweep's is 3 nats).

    Args:
        wrapped_pruner: another pruner asked first (its "prune" stands); None: this rule alone.
        factor: how many times the forecast gain the trial may still make (≥ 1).
        margin: how far behind the best finished value the trial may end, after `factor` times the forecast
            gain, and still be kept (≥ 0).
        n_warmup_steps: no judgement of a trial before this step.
        n_startup_trials: no judgement until this many trials have finished.
        min_points: the fewest values a forecast is fitted to (≥ 4: the power law has three parameters).
    """

    def __init__(self, wrapped_pruner: BasePruner | None = None, factor: float = 3.0, margin: float = 0.0,
                 n_warmup_steps: int = 5, n_startup_trials: int = 1, min_points: int = MIN_FORECAST_POINTS) -> None:
        if not factor >= 1.0:
            raise ValueError(f"factor={factor} must be at least 1 (the fitted gain is already the forecast)")
        if not margin >= 0.0:
            raise ValueError(f"margin={margin} must be ≥ 0")
        if min_points < 4:
            raise ValueError(f"min_points={min_points} must be ≥ 4 (the power law has three parameters)")
        super().__init__(wrapped_pruner, n_warmup_steps, n_startup_trials)
        self.factor = factor
        self.margin = margin
        self.min_points = min_points

    def judge(self, trial: FrozenTrial, step: int, sign: float, best: float, horizon: int) -> str | None:
        fit = curve_forecast(trial.intermediate_values, horizon, self.min_points)
        if fit is None or fit[0] != step:
            return None  # too few finite values to fit, or the latest is not finite (the divergence check's)
        now = sign * trial.intermediate_values[step]
        forecast = sign * fit[1]  # a least-squares fit: the forecast of the signed values is the signed forecast
        hoped_for = now - self.factor * max(0.0, now - forecast)
        if hoped_for <= best + self.margin:
            return None
        return (f"its curve forecasts {_shown(sign * forecast)} at step {horizon}; even {self.factor:g}× that gain "
                f"reaches only {_shown(sign * hoped_for)}; the best finished trial has {_shown(sign * best)}"
                + (f" (margin {self.margin:g})" if self.margin else ""))


POWER_LAW_EXPONENTS = np.geomspace(0.05, 4.0, 80)  # the exponents c a forecast chooses from


def curve_forecast(values: dict[int, float], horizon: int, min_points: int) -> tuple[int, float] | None:
    """The last step with a finite value, and the power law fitted to the latter half of the finite values (at least
    `min_points` of them) evaluated at `horizon`; None if there are fewer than `min_points` finite values."""
    steps = sorted(s for s, v in values.items() if math.isfinite(v))
    steps = steps[-max(min_points, len(steps) // 2):]  # the latter half
    if len(steps) < min_points:
        return None
    return steps[-1], power_law_forecast(steps, [values[s] for s in steps], horizon)


def power_law_forecast(steps: list[int], values: list[float], horizon: int) -> float:
    """The least-squares power law `a + b · (step + 1)^(−c)` through the values, evaluated at `horizon`: for each c
    of `POWER_LAW_EXPONENTS` the line in (step + 1)^(−c) exactly, then the c with the smallest squared error."""
    x = np.asarray(steps, dtype=float) + 1.0
    y = np.asarray(values, dtype=float)
    features = x[None, :] ** -POWER_LAW_EXPONENTS[:, None]  # one row per exponent c
    centred = features - features.mean(axis=1, keepdims=True)
    b = centred @ (y - y.mean()) / np.maximum((centred**2).sum(axis=1), 1e-300)
    a = y.mean() - b * features.mean(axis=1)
    errors = ((y[None, :] - a[:, None] - b[:, None] * features) ** 2).sum(axis=1)
    c = int(np.argmin(errors))
    return float(a[c] + b[c] * (horizon + 1.0) ** -POWER_LAW_EXPONENTS[c])


def _shown(value: float) -> str:
    return f"{value + 0.0:.6g}"  # + 0.0: a best of 0 in a maximised metric is 0, not "-0"


def _best_finished(finished: list[FrozenTrial], sign: float) -> float:
    """The best finite value any finished trial reported, signed so that lower is better; NaN if none.
    (Python's `min` over values that include NaN depends on their order, so NaNs are left out first.)"""
    return min((b for b in (_best_until(t, sign, math.inf) for t in finished) if not math.isnan(b)), default=math.nan)


def _best_until(trial: FrozenTrial, sign: float, step: float) -> float:
    """The best finite value the trial reported at or before `step`, signed so that lower is better; NaN if none."""
    values = [sign * v for s, v in trial.intermediate_values.items() if s <= step and math.isfinite(v)]
    return min(values) if values else math.nan
