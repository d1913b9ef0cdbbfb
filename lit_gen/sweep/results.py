"""Reading a study back: its trials as rows, `lit-gen sweep status` and the best trial."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from typing import Any

from lit_gen.sweep.faults import failure_of, lineage
from lit_gen.sweep.objectives import pareto_trials, values_text
from lit_gen.sweep.slots import is_done, slots_of, trial_label
from lit_gen.sweep.spec import SweepSpec


def trial_rows(study, max_retries: int | None = None) -> list[dict[str, Any]]:
    """Every trial as plain data (for status, reports and trackers); `failure` says why a FAIL trial failed
    (`faults.failure_of`: Optuna's stale check records no reason in the trial)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        end = t.datetime_complete or datetime.now()
        root, attempt = lineage(t)
        rows.append({
            "number": t.number,
            "root_number": root,
            "attempt": attempt,
            "state": t.state.name,
            "failure": failure_of(t, max_retries) if t.state.name == "FAIL" else None,
            "value": t.values[0] if t.values else None,  # the first objective (`t.value` refuses several)
            "values": list(t.values) if t.values else None,
            "params": dict(t.params),
            "user_attrs": dict(t.user_attrs),
            "epochs_reported": len(t.intermediate_values),
            "intermediate_values": dict(t.intermediate_values),
            "duration": (end - t.datetime_start).total_seconds() if t.datetime_start else None,
        })
    return rows


def status_text(study, spec: SweepSpec, n_trials: int) -> str:
    """The study by slot (slots.py): each slot's current state counted once, its stopped attempts listed under it,
    the best trial by the number of the trial that produced it."""
    trials = study.get_trials(deepcopy=False)
    if not trials:
        return f"sweep {spec.name}: no trials"
    max_retries = spec.faults.max_retries
    slots, surplus = slots_of(trials)
    states = Counter(slot.state for slot in slots)
    done = sum(is_done(slot.last) for slot in slots)
    lines = [f"sweep {spec.name}: {done}/{n_trials} done — " + ", ".join(f"{n} {s}" for s, n in sorted(states.items()))]
    retried = [slot for slot in slots if len(slot.attempts) > 1]
    notes = []
    if retried:
        stopped = sum(len(slot.attempts) - 1 for slot in retried)
        notes.append(f"{stopped} stopped attempt{'s' * (stopped > 1)} retried in {len(retried)} slot"
                     f"{'s' * (len(retried) > 1)} (below)")
    if surplus:
        notes.append(f"{len(surplus)} surplus trial{'s' * (len(surplus) > 1)} failed unrun (n_trials was reached)")
    if notes:
        lines.append(f"  counted by slot; {len(trials)} Optuna trials in all: " + "; ".join(notes))
    lines += best_lines(study, spec)
    now = time.time()
    running = [slot.last for slot in slots if slot.state == "RUNNING"]
    if running:
        lines.append("running:")
        for t in running:
            beat = now - t.user_attrs["heartbeat"] if "heartbeat" in t.user_attrs else None
            seconds = ((t.datetime_complete or datetime.now()) - t.datetime_start).total_seconds()
            lines.append(f"  {trial_label(t)} for {seconds:.0f} s on {t.user_attrs.get('worker', '?')}, "
                         f"{len(t.intermediate_values)} epochs reported"
                         + (f", last heartbeat {beat:.0f} s ago" if beat is not None else ""))
    if retried:
        lines.append("retried (a slot is named by its first trial; its retries resume in trials/trial-<slot>):")
        for slot in retried[-10:]:
            attempts = " → ".join(f"trial {t.number} {t.state.name}"
                                  + (f" ({failure_of(t, max_retries)})" if t.state.name == "FAIL" else "")
                                  for t in slot.attempts)
            lines.append(f"  slot {slot.root}: {attempts}")
    failed = [slot.last for slot in slots if slot.state == "FAIL"]
    if failed:
        lines.append("failed:")
        for t in failed[-10:]:
            error = (t.user_attrs.get("error") or "no heartbeat within faults.stale_after").strip().splitlines()
            lines.append(f"  {trial_label(t)}, {failure_of(t, max_retries)}: {error[0][:160]}")
    return "\n".join(lines)


def best_lines(study, spec: SweepSpec) -> list[str]:
    """The best trial, named by the Optuna trial that produced it (and its slot when it was a retry), its values
    and its run directory; for `sweep status`, `sweep best` and the end of `sweep run`."""
    from optuna.trial import TrialState

    if spec.multi_objective:
        return pareto_lines(study, spec)
    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        return [f"best: none (no trial of sweep {spec.name} has completed)"]
    best = study.best_trial
    se = best.user_attrs.get("value_se")
    lines = [f"best {trial_label(best)}: {spec.metric} = {best.value:.6g}" + (f" ± {se:.2g}" if se is not None else "")]
    lines += [f"  {k} = {short_value(v)}" for k, v in best.params.items()]
    run_dir = best_run_dir(best)
    if run_dir is not None:
        lines.append(f"  run directory: {run_dir}")
    return lines


def pareto_lines(study, spec: SweepSpec) -> list[str]:
    """The Pareto set of a sweep of several objectives, along the front: each trial's values and parameters."""
    front = pareto_trials(study)
    if not front:
        return [f"Pareto front: none (no trial of sweep {spec.name} has completed)"]
    complete = sum(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False))
    goals = ", ".join(f"{d} {m}" for m, d in zip(spec.objectives, spec.objective_directions, strict=True))
    lines = [f"Pareto front: {len(front)} of {complete} COMPLETE trials ({goals}), by {spec.objectives[0]}:"]
    for trial in front:
        params = ", ".join(f"{k.rsplit('.', 1)[-1]}={short_value(v)}" for k, v in trial.params.items())
        lines.append(f"  {trial_label(trial)}: {values_text(spec, trial.values)} ({params})")
    return lines


def best_run_dir(best) -> str | None:
    """The run directory of a trial (of its first seed when the sweep scores several)."""
    return best.user_attrs.get("run_dir") or next(
        (v for k, v in sorted(best.user_attrs.items()) if k.startswith("run_dir_seed_")), None)


def short_value(value: Any) -> str:
    """A sampled value for a line of output: floats to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
