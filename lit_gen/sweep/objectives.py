"""Several objectives in one sweep: a Pareto front instead of one best trial.

    metrics: [val/recon, val/kl]          # keys of the trial's metrics.json, instead of `metric`
    directions: [minimize, minimize]      # one per metric, instead of `direction` (default: minimize each)

Optuna optimises them together (`create_study(directions=...)`). Its Pareto set (`study.best_trials`: the COMPLETE
trials no other COMPLETE trial matches or beats in every objective) replaces the best trial in `sweep status` and
`sweep best`; `best --export DIR` writes one config per Pareto trial, and `--pick "val/kl<=20"` the trial best in
the first objective among those that satisfy a constraint. Optuna cannot prune a study of several objectives, so a
`pruner` is refused. A trial whose objectives are not all finite (a NaN, a diverged fit) ends FAIL with
`failure: diverged`: Optuna takes no NaN in a COMPLETE trial's values and keeps no values for a PRUNED one of
several objectives, so it is recorded, and never on the front.
"""

from __future__ import annotations

import math
import operator
import re
from typing import Any

from lit_gen.errors import LitGenError

DIRECTIONS = ("minimize", "maximize")
COMPARISONS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}
_CONSTRAINT = re.compile(r"^\s*([^<>=\s]+)\s*(<=|>=|==|<|>)\s*([-+0-9.eE]+|inf)\s*$")


def objectives_of(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """The sweep file's keys with `metrics`/`directions` checked and `metric`/`direction` set to their first ones
    (the name every single-metric part of lit_gen reads); a file without `metrics` is returned as it is."""
    if "metrics" not in raw and "directions" not in raw:
        return raw
    if "metric" in raw or "direction" in raw:
        raise LitGenError(f"{where}: give either `metric` and `direction` (one objective) or `metrics` and "
                          "`directions` (several), not both")
    metrics = raw.get("metrics")
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) and m for m in metrics):
        raise LitGenError(f"{where}: `metrics` must be a non-empty list of keys of the trial's metrics.json, "
                          f"e.g. [val/recon, val/kl]; got {metrics!r}")
    if len(set(metrics)) != len(metrics):
        raise LitGenError(f"{where}: `metrics` names a metric twice: {metrics}")
    directions = raw.get("directions")
    directions = ["minimize"] * len(metrics) if directions is None else directions
    if not isinstance(directions, list) or len(directions) != len(metrics) or any(
            d not in DIRECTIONS for d in directions):
        raise LitGenError(f"{where}: `directions` must list minimize or maximize once per metric "
                          f"({len(metrics)}: {', '.join(metrics)}); got {directions!r}")
    return {**raw, "metric": metrics[0], "direction": directions[0], "metrics": metrics, "directions": directions}


def check_objectives(spec, where: str) -> None:
    if spec.multi_objective and spec.pruner is not None:
        raise LitGenError(f"{where}: a sweep of several metrics cannot prune (Optuna prunes single-objective studies "
                          "only): remove `pruner`, or optimise one `metric`")


def finite_values(values: list[float | None]) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def values_text(spec, values: list[float] | None) -> str:
    """`val/recon = 12.3, val/kl = 4.56`."""
    if values is None:
        return "no values"
    return ", ".join(f"{name} = {value:.6g}" for name, value in zip(spec.objectives, values, strict=True))


def pareto_trials(study) -> list:
    """The Pareto set of the study (Optuna's `best_trials`), ordered along the front by the first objective."""
    from optuna.trial import TrialState

    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        return []
    return sorted(study.best_trials, key=lambda t: (t.values[0], t.number))


def parse_constraint(text: str) -> tuple[str, str, float]:
    """`val/kl<=20` → ("val/kl", "<=", 20.0)."""
    found = _CONSTRAINT.match(text)
    if found is None:
        raise LitGenError(f"--pick {text!r}: write a metric, a comparison (<=, >=, <, >, ==) and a number, "
                          "e.g. --pick 'val/kl<=20'")
    try:
        return found.group(1), found.group(2), float(found.group(3))
    except ValueError:
        raise LitGenError(f"--pick {text!r}: {found.group(3)!r} is not a number") from None


def metric_of(spec, trial, key: str) -> float | None:
    """An objective's value of a COMPLETE trial, or another metric of its metrics.json (kept in its user_attrs)."""
    if key in spec.objectives and trial.values is not None:
        return trial.values[spec.objectives.index(key)]
    value = (trial.user_attrs.get("metrics") or {}).get(key)
    return float(value) if isinstance(value, (int, float)) else None


def pick(study, spec, constraint: str):
    """The COMPLETE trial best in the first objective among those whose `key` satisfies the constraint."""
    from optuna.trial import TrialState

    key, comparison, bound = parse_constraint(constraint)
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not complete:
        raise LitGenError(f"sweep {spec.name} has no COMPLETE trial yet: nothing to pick")
    known = [t for t in complete if metric_of(spec, t, key) is not None]
    if not known:
        names = sorted({*spec.objectives, *(complete[0].user_attrs.get("metrics") or {})})
        raise LitGenError(f"--pick {constraint!r}: no trial has a metric {key!r}; the metrics are {', '.join(names)}")
    satisfying = [t for t in known if COMPARISONS[comparison](metric_of(spec, t, key), bound)]
    if not satisfying:
        reached = sorted(metric_of(spec, t, key) for t in known)
        raise LitGenError(f"--pick {constraint!r}: none of the {len(known)} COMPLETE trials satisfies it ({key} "
                          f"ranges from {reached[0]:.6g} to {reached[-1]:.6g}); loosen the bound")
    sign = 1.0 if spec.objective_directions[0] == "minimize" else -1.0
    return min(satisfying, key=lambda t: (sign * t.values[0], t.number))
