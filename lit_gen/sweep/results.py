"""Reading a study back: `lit-gen sweep status` and `lit-gen sweep best --export`."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from lit_gen.errors import LitGenError
from lit_gen.sweep.faults import failure_of, lineage
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
            "value": t.value if t.values else None,
            "params": dict(t.params),
            "user_attrs": dict(t.user_attrs),
            "epochs_reported": len(t.intermediate_values),
            "intermediate_values": dict(t.intermediate_values),
            "duration": (end - t.datetime_start).total_seconds() if t.datetime_start else None,
        })
    return rows


def status_text(study, spec: SweepSpec, n_trials: int) -> str:
    rows = trial_rows(study)
    states = Counter(r["state"] for r in rows)
    done = states["COMPLETE"] + states["PRUNED"]
    lines = [f"sweep {spec.name}: {done}/{n_trials} done — "
             + ", ".join(f"{n} {s}" for s, n in sorted(states.items())) if rows else f"sweep {spec.name}: no trials"]
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    if complete:
        best = study.best_trial
        se = best.user_attrs.get("value_se")
        lines.append(f"best: trial {best.user_attrs.get('root_number', best.number)}, {spec.metric} = {best.value:.6g}"
                     + (f" ± {se:.2g}" if se is not None else ""))
        lines += [f"  {k} = {short_value(v)}" for k, v in best.params.items()]
    now = time.time()
    running = [r for r in rows if r["state"] == "RUNNING"]
    if running:
        lines.append("running:")
        for r in running:
            attrs = r["user_attrs"]
            beat = now - attrs["heartbeat"] if "heartbeat" in attrs else None
            lines.append(f"  trial {r['number']} (root {r['root_number']}, attempt {r['attempt']}) for "
                         f"{r['duration']:.0f} s on {attrs.get('worker', '?')}, {r['epochs_reported']} epochs reported"
                         + (f", last heartbeat {beat:.0f} s ago" if beat is not None else ""))
    failed = [t for t in study.get_trials(deepcopy=False) if t.state.name == "FAIL"]
    if failed:
        lines.append("failed:")
        for t in failed[-10:]:
            error = (t.user_attrs.get("error") or "no heartbeat within faults.stale_after").strip().splitlines()
            lines.append(f"  trial {t.number} ({failure_of(t, spec.faults.max_retries)}): {error[0][:160]}")
    return "\n".join(lines)


def export_best(study, spec: SweepSpec, out: Path) -> Path:
    """Write the best trial's resolved config so that `lit-gen fit --config OUT` trains it again (its run goes to
    `runs/<study>-best/` instead of the trial's directory)."""
    from optuna.trial import TrialState

    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        raise LitGenError(f"sweep {spec.name} has no COMPLETE trial yet: nothing to export")
    best = study.best_trial
    run_dir = best.user_attrs.get("run_dir") or next(
        (v for k, v in sorted(best.user_attrs.items()) if k.startswith("run_dir_seed_")), None)
    if run_dir is None or not (Path(run_dir) / "config.yaml").is_file():
        raise LitGenError(f"the best trial's config.yaml is missing (looked in {run_dir}); is the sweep directory "
                          "on this machine?")
    config = yaml.safe_load((Path(run_dir) / "config.yaml").read_text())
    config.pop("run_dir", None)  # write a fresh run directory, not into the trial's
    trainer = config.get("trainer", {})
    trainer.pop("default_root_dir", None)
    loggers = trainer.get("logger")
    for logger in loggers if isinstance(loggers, list) else [loggers]:
        if isinstance(logger, dict) and isinstance(logger.get("init_args"), dict):
            args = logger["init_args"]
            if "save_dir" in args:
                args["save_dir"] = "runs"
            if args.get("name") == "":
                args["name"] = f"{spec.name}-best"
            if args.get("version") == "":
                args["version"] = None
    se = best.user_attrs.get("value_se")
    spread = f" ± {se:.2g} over seeds {spec.seeds}" if se is not None else ""
    root = best.user_attrs.get("root_number", best.number)
    header = [f"# Best trial of sweep {spec.name} ({spec.path}): trial {root}",
              f"# {spec.metric} = {best.value:.6g}{spread}",
              *[f"#   {k} = {v}" for k, v in best.params.items()],
              "# Re-run: lit-gen fit --config " + str(out)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(header) + "\n" + yaml.safe_dump(config, sort_keys=False))
    return out


def short_value(value: Any) -> str:
    """A sampled value for a line of output: floats to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
