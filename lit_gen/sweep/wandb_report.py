"""`lit-gen sweep report --wandb`: one W&B run that summarises a sweep, beside the runs of its trials.

The run has the study name as its group (where the trials' runs are) and job type `sweep-summary`; it holds a
table of every trial (number, state, value, duration, one column per parameter and per user attribute) and
the counts by state in its summary; for a sweep of several objectives, a column per objective and the Pareto
front (each trial's objectives and values) in its summary. Each trial's own run has the objectives in its summary
already: a run's summary is its metrics.json. Its id derives from the study name, so reporting again updates the
same run.
Offline-first like every lit_gen run (`lit_gen.loggers.wandb_mode.resolve_mode`); nothing here reads a key.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from lit_gen.loggers.wandb_mode import resolve_mode
from lit_gen.run.identity import safe_id

JOB_TYPE = "sweep-summary"
TABLE_KEY = "trials"


def summary_run_id(study_name: str) -> str:
    return safe_id(f"{study_name}-summary")


def trials_table(trials: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows, one per trial by number: number, state, value, duration, the trials' other fields
    (e.g. root_number, attempt), then `params/<name>` and `user_attrs/<name>`; a value that is not a number, a
    string or a boolean (a dict of intermediate values, say) as JSON text."""
    first = ["number", "state", "value", "duration"]
    nested = ("params", "user_attrs")
    others = sorted({key for trial in trials for key in trial if key not in (*first, *nested)})
    params = sorted({name for trial in trials for name in (trial.get("params") or {})})
    attrs = sorted({name for trial in trials for name in (trial.get("user_attrs") or {})})
    columns = [*first, *others, *[f"params/{p}" for p in params], *[f"user_attrs/{a}" for a in attrs]]
    rows = []
    for trial in sorted(trials, key=lambda t: t["number"]):
        row = [trial["number"], str(trial.get("state")), *[_cell(trial.get(key)) for key in first[2:] + others]]
        row += [_cell((trial.get("params") or {}).get(p)) for p in params]
        row += [_cell((trial.get("user_attrs") or {}).get(a)) for a in attrs]
        rows.append(row)
    return columns, rows


def with_objectives(trials: list[dict[str, Any]], objectives: list[str]) -> list[dict[str, Any]]:
    """Each trial with one field per objective (`objective/val/kl`), None for a trial without values: columns a
    W&B table can plot against each other, where `values` alone is a list."""
    return [{**trial, **{f"objective/{name}": (trial.get("values") or [None] * len(objectives))[index]
                         for index, name in enumerate(objectives)}} for trial in trials]


def pareto_summary(front, objectives: list[str]) -> list[dict[str, Any]]:
    """The Pareto trials (FrozenTrials) as summary values: number, each objective, the parameters."""
    return [{"number": t.number, **dict(zip(objectives, t.values, strict=True)), **t.params} for t in front]


def write_sweep_summary_run(study_name: str, trials: list[dict[str, Any]], out_dir: Path, project: str | None,
                            entity: str | None, objectives: list[str] | None = None,
                            front: list[dict[str, Any]] | None = None) -> Path:
    """Log the summary run of sweep `study_name` (W&B's files below `out_dir/wandb/`); returns its run folder
    (`offline-run-…` when offline: what `wandb sync` takes). `project` should be the trials' project (default
    `WANDB_PROJECT`, else `lit_gen` as in configs/logger/wandb.yaml). The run is finished on return; wandb's
    service writes the file's last block by the time the process ends (or `wandb.teardown()` returns)."""
    import wandb

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    columns, rows = trials_table(with_objectives(trials, objectives) if objectives else trials)
    states = Counter(str(trial.get("state")) for trial in trials)
    run = wandb.init(
        project=project or os.environ.get("WANDB_PROJECT") or "lit_gen", entity=entity, group=study_name,
        job_type=JOB_TYPE, name=f"{study_name}-summary", id=summary_run_id(study_name), resume="allow",
        dir=str(out_dir), mode=resolve_mode("auto"), config={"study_name": study_name}, reinit="finish_previous",
    )
    try:
        run.log({TABLE_KEY: wandb.Table(columns=columns, data=rows, allow_mixed_types=True)})
        run.summary.update({"n_trials": len(trials), "states": dict(states)})
        if front is not None:  # a sweep of several objectives: its front, each trial's objectives and values
            run.summary.update({"objectives": objectives, "pareto_front": front})
        folder = Path(run.settings.sync_dir)
    finally:
        run.finish()
    return folder


def _cell(value: Any) -> Any:
    """A table cell: numbers, strings, booleans and None as they are; anything else as JSON text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "total_seconds"):  # a timedelta (Optuna's trial.duration)
        return value.total_seconds()
    return json.dumps(value, sort_keys=True, default=str)
