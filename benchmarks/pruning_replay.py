"""What the pruner alone saves on the σ sweep: recorded unpruned sweeps replayed under it, without training.

`pruning_savings.py` runs each seed's σ sweep twice, with and without the pruner. Once the pruner stops a trial
that would have ranked among the best, the two samplers see different results and sample different values from
then on, and when each sweep happens to find its best value is partly luck. So a 3-seed run measures the pruner
and that luck together. This script measures the pruner alone, on the trials an unpruned sweep sampled.

It reads the unpruned sweeps of earlier `pruning_savings.py` runs (`sigma_seed<N>_full` in each folder) and asks
the pruner — the real class, built as the sweep file configures it — about each trial after each epoch, in the
order the trials started. A trial sees the trials that had finished when it started, those the pruner stopped with
the epochs they had run, as in the live sweep. A stopped trial costs the epochs it ran and yields no value. The
figures are those of `pruning_savings.py`: epochs until the sweep's best so far reached the common value (the worse
of the two final bests), all epochs, and the best value lost. For a sweep run on one worker the replay is what the
pruned sweep does up to the first change in what its sampler sees (checked on seed 0: 747 epochs to its best,
replayed and live). On two workers it is an estimate: a trial sees what had finished when it started in the
recording, and a stopped trial finishes early in proportion to the epochs it ran.

    python benchmarks/pruning_replay.py /tmp/pruning_savings_* [--pruner NAME] [--pruner_args '{...}']
    python benchmarks/pruning_replay.py DIR --smoke     # DIR: the folder `pruning_savings.py --smoke` printed
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import statistics
import sys
from pathlib import Path

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState, create_trial
from pruning_claim import epochs_to_reach
from pruning_savings import (
    SMOKE_BUDGET,
    SPEC,
    add_pruner_arguments,
    pruner_spec,
    recorded_seeds,
    sweep_name,
)

KEEPS_STATE_IN_STUDY = (optuna.pruners.SuccessiveHalvingPruner, optuna.pruners.HyperbandPruner)


def recorded_sweeps(folders: list[Path], budget: tuple[int, int]) -> list[tuple[str, optuna.Study]]:
    """The finished unpruned sweeps in the folders with this budget (trials, maximum epochs), each once. An
    unfinished one (of an interrupted run) is left out."""
    from lit_gen.errors import LitGenError
    from lit_gen.sweep.driver import open_study
    from lit_gen.sweep.spec import load_spec

    sweeps, seen = [], set()
    for folder in folders:
        for seed in recorded_seeds(folder):
            path = folder / f"{sweep_name(seed, False)}.yaml"
            if not path.exists():
                continue
            try:
                spec = load_spec(path)
                study, _ = open_study(spec, create=False)
            except LitGenError as error:  # e.g. a run made from a clone since removed: its base config is gone
                print(f"left out: {error}", file=sys.stderr)
                continue
            complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if (spec.n_trials, spec.limits.max_epochs) != budget or len(complete) < spec.n_trials:
                continue
            values = tuple(t.value for t in sorted(complete, key=lambda t: t.number))
            if values not in seen:  # a sweep run again alike counts once
                seen.add(values)
                sweeps.append((f"{folder.name}/seed {seed}", study))
    return sweeps


def replay(study: optuna.Study, pruner: optuna.pruners.BasePruner) -> list[tuple[float, int, float]]:
    """(estimated finishing time, epochs run, value or NaN if stopped) of each trial of an unpruned study, replayed
    under `pruner`. A trial sees the replayed trials that had finished, in the recording, when it started."""
    trials = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)),
                    key=lambda t: t.datetime_start)
    replayed: list[tuple[FrozenTrial, FrozenTrial, float]] = []  # (as recorded, as replayed, finishing time)
    for trial in trials:
        started = trial.datetime_start.timestamp()
        seen = optuna.create_study(direction=study.direction)
        seen.add_trials([again for recorded, again, _ in replayed
                         if recorded.datetime_complete.timestamp() <= started])
        stopped = first_stop(pruner, seen, trial)
        again = trial if stopped is None else create_trial(state=TrialState.PRUNED, intermediate_values=stopped)
        share = len(again.intermediate_values) / len(trial.intermediate_values)  # a stopped trial ends early
        replayed.append((trial, again, started + share * (trial.datetime_complete.timestamp() - started)))
    return [(finish, len(again.intermediate_values), again.value if again.state == TrialState.COMPLETE else math.nan)
            for _, again, finish in replayed]


def first_stop(pruner: optuna.pruners.BasePruner, study: optuna.Study, trial: FrozenTrial) -> dict[int, float] | None:
    """The values the trial had reported when the pruner, asked after each one as the live sweep asks it, first
    stopped it; None if it never did."""
    reported: dict[int, float] = {}
    for step in sorted(trial.intermediate_values):
        reported[step] = trial.intermediate_values[step]
        if pruner.prune(study, create_trial(state=TrialState.RUNNING, intermediate_values=dict(reported))):
            return reported
    return None


def figures(runs: list[tuple[float, int, float]], sign: float) -> tuple[float, list[tuple[int, float]], int]:
    """Best value, trajectory (epochs trained, best value so far, both after each trial in finishing order) and all
    epochs. Values are signed so that lower is better."""
    trajectory, trained, best = [], 0, math.inf
    for _, epochs, value in sorted(runs):
        trained += epochs
        if not math.isnan(value):
            best = min(best, sign * value)
        trajectory.append((trained, best))
    return best, trajectory, trained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders of earlier pruning_savings.py runs")
    add_pruner_arguments(parser)
    parser.add_argument("--n_trials", type=int, default=None, help="the sweeps' budget (default: the sweep file's)")
    parser.add_argument("--max_epochs", type=int, default=None, help="the sweeps' budget (default: the sweep file's)")
    parser.add_argument("--smoke", action="store_true", help="replay the unpruned sweep of `pruning_savings.py "
                        "--smoke` (its budget, its pruner judging at once)")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    shipped = yaml.safe_load(SPEC.read_text())
    configured = pruner_spec(shipped["pruner"], args)  # as pruning_savings.py configures the pruned sweep's
    budget = (args.n_trials or shipped["n_trials"], args.max_epochs or shipped["limits"]["max_epochs"])
    if args.smoke:
        budget = SMOKE_BUDGET
    sweeps = recorded_sweeps(args.folders, budget)
    if not sweeps:
        print(f"no finished unpruned sweeps (sigma_seed<N>_full) of {budget[0]} trials × {budget[1]} epochs in "
              f"{', '.join(map(str, args.folders))}; run benchmarks/pruning_savings.py first", file=sys.stderr)
        return 2

    from lit_gen.sweep.spec import load_spec

    pruner = dataclasses.replace(load_spec(SPEC), pruner=configured).build_pruner()
    if isinstance(pruner, KEEPS_STATE_IN_STUDY):
        print(f"{type(pruner).__name__} keeps its rungs in the study's storage, which a replay does not have; "
              "measure it live with benchmarks/pruning_savings.py --pruner", file=sys.stderr)
        return 2
    sweeps_named = f"{len(sweeps)} recorded unpruned σ sweep{'s' * (len(sweeps) != 1)}"
    print(f"{sweeps_named} of {budget[0]} trials × {budget[1]} epochs replayed under {configured}")
    print(f"{'sweep':>40} {'best, none':>11} {'lost':>6} {'to common value':>16} {'×':>6} {'all epochs':>12}")
    to_common: list[tuple[int, int]] = []
    lost = []
    for label, study in sweeps:
        sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
        full = [(t.datetime_complete.timestamp(), len(t.intermediate_values), t.value)
                for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
        best_n, trajectory_n, all_n = figures(full, sign)
        best_p, trajectory_p, all_p = figures(replay(study, pruner), sign)
        common = max(best_n, best_p)
        pair = (epochs_to_reach(trajectory_p, common), epochs_to_reach(trajectory_n, common))
        to_common.append(pair)
        lost.append(best_p - best_n)
        print(f"{label:>40} {sign * best_n:>11.3f} {best_p - best_n:>6.2f} {pair[0]:>7} vs {pair[1]:>5} "
              f"{pair[1] / pair[0]:>6.2f} {all_p:>5} vs {all_n:>4}")
    pruned, unpruned = sum(p for p, _ in to_common), sum(n for _, n in to_common)
    ratios = [n / p for p, n in to_common]
    print(f"epochs to the common value: {pruned} vs {unpruned} ({unpruned / pruned:.2f}× fewer; per sweep median "
          f"{statistics.median(ratios):.2f}×, lowest {min(ratios):.2f}×); best value lost in {sum(x > 0 for x in lost)}"
          f" of {len(lost)} sweeps (by {max(lost):.2f} at most)")
    if len(to_common) >= 3:  # how often 3 of these sweeps, as a 3-seed run would, fall short of 2× by the pruner alone
        groups = list(itertools.combinations(to_common, 3))
        short = sum(sum(n for _, n in g) < 2.0 * sum(p for p, _ in g) for g in groups)
        print(f"groups of 3 sweeps below 2×: {short} of {len(groups)} ({short / len(groups):.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
