"""`lit-gen sweep best --export`: the best trial's config, as the trial ran (default) or for full training (`--full`).
(A sweep of several objectives: one config per Pareto trial, or the trial `--pick` names; objectives.py.)

A trial trains under the sweep's `limits` (`trainer.max_epochs`, and `trainer.max_time` from `limits.wall_time`):
short on purpose, to compare many values. The default export keeps them: it re-runs the trial as it ran and
reproduces its numbers (what a front of several objectives is checked by). `--full` is what usually comes next: the
trial's resolved config with those two keys set back to what the experiment itself says (its config files, then the
sweep's fixed `overrides`). Either way the pruning hook is not in the file (a trial gets it from its environment,
never from its config), and the run starts afresh in `runs/<study>-best[-replay]/` instead of the trial's directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lit_gen.errors import LitGenError
from lit_gen.sweep.objectives import pareto_trials, values_text
from lit_gen.sweep.results import best_run_dir
from lit_gen.sweep.slots import trial_label
from lit_gen.sweep.spec import SweepSpec

#: the trainer keys a sweep's `limits` set for every trial (fit_run.fit_arguments)
LIMIT_KEYS = ("max_epochs", "max_time")


@dataclass(frozen=True)
class Exported:
    path: Path
    full: bool
    trial_limits: dict[str, Any]  # what the trial ran with
    written_limits: dict[str, Any]  # what the exported config says
    trial: str = "the best trial"  # which trial it is: the best, a Pareto trial, the picked one

    def summary(self) -> str:
        """One line: which variant was written, and how to run it."""
        values = "the best values" if self.trial == "the best trial" else f"the values of {self.trial}"
        if self.full:
            what = (f"full training with {values}: {_limits(self.written_limits)}, as the experiment says "
                    f"(the trial: {_limits(self.trial_limits)})")
        else:
            what = (f"a replay of {self.trial} with the sweep's limits: {_limits(self.written_limits)} (--full: the "
                    "experiment's own)")
        return f"wrote {self.path}, {what}; train it with: lit-gen fit --config {self.path}"


def export_best(study, spec: SweepSpec, out: Path, full: bool = False) -> Exported:
    """Write the best trial's resolved config so that `lit-gen fit --config OUT` trains it: in full (`full`), or
    again as the trial ran (see the module docstring)."""
    from optuna.trial import TrialState

    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        raise LitGenError(f"sweep {spec.name} has no COMPLETE trial yet: nothing to export")
    return export_trial(spec, study.best_trial, out, full, "the best trial", f"{spec.name}-best")


def export_front(study, spec: SweepSpec, out_dir: Path, full: bool = False) -> list[Exported]:
    """A sweep of several objectives: one config per trial of the Pareto front, `OUT_DIR/trial-<n>.yaml`."""
    front = pareto_trials(study)
    if not front:
        raise LitGenError(f"sweep {spec.name} has no COMPLETE trial yet: nothing to export")
    if out_dir.suffix in (".yaml", ".yml"):
        raise LitGenError(f"--export {out_dir}: a sweep of several metrics writes one config per Pareto trial; give "
                          "a folder (e.g. --export front/), or --pick 'METRIC<=BOUND' for one file")
    return [export_trial(spec, trial, out_dir / f"trial-{trial.number}.yaml", full, f"Pareto {trial_label(trial)}",
                         f"{spec.name}-trial-{trial.number}") for trial in front]


def export_trial(spec: SweepSpec, trial, out: Path, full: bool, what: str, run_name: str) -> Exported:
    """Write `trial`'s resolved config (`what` it is, for the header) to run afresh as `run_name`."""
    run_dir = best_run_dir(trial)
    if run_dir is None or not (Path(run_dir) / "config.yaml").is_file():
        raise LitGenError(f"the config.yaml of {trial_label(trial)} is missing (looked in {run_dir}); is the sweep "
                          "directory on this machine?")
    config = yaml.safe_load((Path(run_dir) / "config.yaml").read_text())
    config.pop("run_dir", None)  # write a fresh run directory, not into the trial's
    config.pop("ckpt_path", None)  # a retried trial resumed from its slot's checkpoint; this run starts afresh
    trainer = config.setdefault("trainer", {})
    trainer.pop("default_root_dir", None)
    trial_limits = {key: trainer.get(key) for key in LIMIT_KEYS}
    if full:
        trainer.update(experiment_limits(spec))
    run_name += "" if full else "-replay"
    loggers = trainer.get("logger")
    for logger in loggers if isinstance(loggers, list) else [loggers]:
        if isinstance(logger, dict) and isinstance(logger.get("init_args"), dict):
            args = logger["init_args"]
            if "save_dir" in args:
                args["save_dir"] = "runs"
            if args.get("name") == "":
                args["name"] = run_name
            if args.get("version") == "":
                args["version"] = None
    exported = Exported(out, full, trial_limits, {key: trainer.get(key) for key in LIMIT_KEYS}, what)
    se = trial.user_attrs.get("value_se")
    spread = f" ± {se:.2g} over seeds {spec.seeds}" if se is not None else ""
    scores = values_text(spec, trial.values) if spec.multi_objective else f"{spec.metric} = {trial.value:.6g}{spread}"
    header = [f"# {'Full training with the values' if full else 'A replay'} of {what} of sweep {spec.name} "
              f"({spec.path}): {trial_label(trial)}",
              f"# {scores} in the sweep",
              *[f"#   {k} = {v}" for k, v in trial.params.items()],
              f"# trainer: {_limits(exported.written_limits)}"
              + (" (the experiment's own, not the sweep's limits)" if full else " (the sweep's limits)"),
              "# Run: lit-gen fit --config " + str(out)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(header) + "\n" + yaml.safe_dump(config, sort_keys=False))
    return exported


def experiment_limits(spec: SweepSpec) -> dict[str, Any]:
    """`trainer.max_epochs` and `trainer.max_time` as the experiment sets them without the sweep's `limits`: its
    config files, then the sweep's fixed overrides, resolved by the parser the trials use (nested files, the last
    one winning). None is Lightning's default (1000 epochs when max_steps is not set either; no time limit)."""
    from lit_gen.lightning_cli import check_fit_config  # here: `sweep best` without --full imports no Lightning

    args = [arg for config in spec.configs for arg in ("--config", str(config))] + list(spec.overrides)
    trainer = check_fit_config(args).get("trainer") or {}
    return {key: trainer.get(key) for key in LIMIT_KEYS}


def _limits(limits: dict[str, Any]) -> str:
    """`max_epochs 100, no max_time`: None is Lightning's default (1000 epochs without max_steps; no time limit)."""
    return ", ".join(f"{key} {value}" if value is not None else f"no {key}" for key, value in limits.items())
