"""What pruning saves on the σ sweep: epochs trained until the sweep found its best value, with and without
the pruner, over several sampler seeds.

Each seed runs `sweeps/vae_sigma_digits.yaml` twice with the same sampler seed and budget — once with the
pruner (default: the one the file configures), once with no pruner — through the real `lit-gen sweep run`. Trials
count in the order they finished, a pruned trial with the epochs it ran, a failed attempt (a sweep interrupted and
run again) with the epochs it ran before its retry resumed from its checkpoint. For each sweep:

* epochs to best: the epochs trained up to and including the trial that holds the sweep's own final best value;
* epochs to the common value: the epochs trained until the sweep's best so far first reached the worse of the
  two sweeps' final best values for that seed (a value both reached). Unlike "epochs to best", this does not
  charge a sweep for going on to find a better value later;
* total epochs: the epochs trained by all trials;
* best value: the sweep's best `val/nll_iw`.

The claim checked (issue 5): over the seeds, the pruned sweeps need at least 2× fewer epochs to reach the best
value, and their mean best value is no worse than the unpruned sweeps' mean by more than one standard error (a
pruned sweep that ends better passes; whether the two lie within one standard error either way is printed too).
Both readings of "epochs to reach the best value" are printed; the exit status follows the common value.
The claim is judged in `pruning_claim.py`, which also says how often its quality half misses by chance alone.

The two sweeps of a seed soon sample different values, so a run measures the pruner together with where each
sweep's sampler happened to go; `pruning_replay.py` measures the pruner alone on the unpruned sweeps a run recorded.

    python benchmarks/pruning_savings.py                    # 3 seeds, the sweep file's budget, 2 workers
    python benchmarks/pruning_savings.py --smoke            # 1 seed, 3 trials of 6 epochs, no claim
    python benchmarks/pruning_savings.py --summarise DIR    # the figures of an earlier run's folder, no training
    python benchmarks/pruning_savings.py --summarise DIR DIR …  # several runs of one setup: each, then pooled
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pruning_claim
import yaml

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "sweeps" / "vae_sigma_digits.yaml"


def run_sweep(seed: int, pruned: bool, args, folder: Path) -> dict:
    spec = yaml.safe_load(SPEC.read_text())
    spec["config"] = str((SPEC.parent / spec["config"]).resolve())
    spec["name"] = sweep_name(seed, pruned)
    spec["directory"] = str(folder / spec["name"])
    spec["seed"] = seed
    spec["n_trials"] = args.n_trials
    spec["limits"] = {**spec["limits"], "max_epochs": args.max_epochs}  # the file's wall time stays
    spec["sampler"] = sampler_spec(spec["sampler"], args)
    spec["pruner"] = pruner_spec(spec["pruner"], args) if pruned else None
    spec["overrides"] = [*spec.get("overrides", []), "--image_quality.backbone=none",
                         "--trainer.enable_model_summary=false"]
    path = folder / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "lit_gen.cli", "sweep", "run", str(path), "--workers",
                             str(args.workers)], cwd=folder, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{spec['name']} failed:\n{result.stderr[-3000:]}")
    return {**summarise(path), "wall": time.perf_counter() - started}


def sweep_name(seed: int, pruned: bool) -> str:
    return f"sigma_seed{seed}_{'pruned' if pruned else 'full'}"


def recorded_seeds(folder: Path) -> list[int]:
    """The seeds of an earlier run, from the sweep files it wrote (`sigma_seed<N>_pruned.yaml`)."""
    seeds = sorted(int(path.name.removeprefix("sigma_seed").removesuffix("_pruned.yaml"))
                   for path in folder.glob(sweep_name("*", True) + ".yaml"))
    if not seeds:
        sys.exit(f"{folder} holds no sweep files of this benchmark ({sweep_name('N', True)}.yaml); "
                 "give the folder an earlier run printed")
    return seeds


def summarise(path: Path) -> dict:
    """The figures of one finished sweep, read from its study."""
    from lit_gen.sweep.driver import open_study
    from lit_gen.sweep.spec import load_spec

    study, _ = open_study(load_spec(path), create=False)
    # a failed attempt's epochs were trained too (its retry resumes from its checkpoint and reports only the rest)
    trials = sorted((t for t in study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED", "FAIL")),
                    key=lambda t: t.datetime_complete)
    best = study.best_trial
    epochs = [len(t.intermediate_values) for t in trials]
    until_best = sum(epochs[: [t.number for t in trials].index(best.number) + 1])
    trajectory, trained, best_so_far = [], 0, math.inf  # (epochs trained, best value so far) after each trial
    for trial, ran in zip(trials, epochs, strict=True):
        trained += ran
        if trial.state.name == "COMPLETE":  # a pruned trial's value is not a result
            best_so_far = min(best_so_far, trial.value)
        trajectory.append((trained, best_so_far))
    return {"best": best.value, "epochs_to_best": until_best, "total_epochs": sum(epochs),
            "pruned_trials": sum(t.state.name == "PRUNED" for t in trials), "trajectory": trajectory}


def sampler_spec(shipped: dict, args) -> dict:
    """The sampler both sweeps use: the sweep file's (`shipped`), or --sampler with the same arguments, with
    --startup_trials if given."""
    spec = shipped if args.sampler is None else {**shipped, "name": args.sampler}
    if args.startup_trials is None:
        return spec
    return {**spec, "n_startup_trials": args.startup_trials}


def _described(spec: dict) -> str:
    return f"{spec['name']}({', '.join(f'{k}={v}' for k, v in spec.items() if k != 'name')})"


def add_pruner_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose the pruned sweep's pruner (read by `pruner_spec`); `pruning_replay.py` takes them
    too."""
    parser.add_argument("--pruner", default=None,
                        help="a class of optuna.pruners or lit_gen.sweep.pruners (default: the shipped sweep's "
                        "pruner, as configured there); MedianPruner and PercentilePruner get --pruner_startup_trials "
                        "and --warmup_epochs, the others only --pruner_args")
    parser.add_argument("--pruner_args", default="{}",
                        help='more pruner arguments as JSON, e.g. \'{"percentile": 25}\'')
    parser.add_argument("--pruner_startup_trials", type=int, default=5)
    parser.add_argument("--warmup_epochs", type=int, default=5)


def pruner_spec(shipped: dict, args) -> dict:
    """The pruned sweep's pruner: --pruner, or the sweep file's (`shipped`), with --pruner_args."""
    name = args.pruner or shipped["name"]
    if args.smoke:
        judging = smoke_judging(name)
    else:
        judging = _warmup(args) if args.pruner in WARMUP_PRUNERS else {}  # the shipped pruner: as configured
    return {**(shipped if args.pruner is None else {"name": name}), **judging, **json.loads(args.pruner_args)}


WARMUP_PRUNERS = ("MedianPruner", "PercentilePruner")  # the pruners that judge against a warm-up
SMOKE_BUDGET = (3, 6)  # trials, epochs of a smoke run: a forecast judges from the 4th epoch, before the last


def _warmup(args) -> dict:
    return {"n_startup_trials": args.pruner_startup_trials, "n_warmup_steps": args.warmup_epochs}


def smoke_judging(name: str) -> dict:
    """What lets a pruner judge within a smoke run's few epochs, so that the smoke can prune: after the first
    finished trial, from the first epoch."""
    at_once = {"n_startup_trials": 1, "n_warmup_steps": 0}
    if name in WARMUP_PRUNERS:
        return at_once
    if name == "ForecastPruner":
        return {**at_once, "min_points": 4}  # the fewest its power law allows: it judges from the 4th epoch
    return {}


def _seconds(wall: float) -> str:
    return "" if math.isnan(wall) else f"{wall:.0f}s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n_trials", type=int, default=None, help="default: the sweep file's")
    parser.add_argument("--max_epochs", type=int, default=None, help="default: the sweep file's")
    parser.add_argument("--sampler", default=None, help="a TPE-like class of optuna.samplers or "
                        "lit_gen.sweep.samplers for both sweeps, with the sweep file's sampler arguments")
    parser.add_argument("--startup_trials", type=int, default=None,
                        help="the sampler's random startup trials in both sweeps (default: the sweep file's)")
    parser.add_argument("--workers", type=int, default=2)
    add_pruner_arguments(parser)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--summarise", metavar="DIR", nargs="+", type=Path,
                        help="print the figures of earlier runs' folders, no training; several runs of one setup: "
                        "each run's, then all of them pooled")
    args = parser.parse_args(argv)
    if args.summarise:
        return summarise_runs(args.summarise)
    shipped = yaml.safe_load(SPEC.read_text())
    if args.n_trials is None:
        args.n_trials = shipped["n_trials"]
    if args.max_epochs is None:
        args.max_epochs = shipped["limits"]["max_epochs"]
    if args.smoke:
        args.seeds, args.startup_trials = [0], 1
        args.n_trials, args.max_epochs = SMOKE_BUDGET
    folder = Path(tempfile.mkdtemp(prefix="pruning_savings_"))
    pruner, sampler = pruner_spec(shipped["pruner"], args), sampler_spec(shipped["sampler"], args)
    print(f"σ sweep, seeds {args.seeds}, {args.n_trials} trials of ≤ {args.max_epochs} epochs, {args.workers} "
          f"workers, sampler {_described(sampler)}, pruner {_described(pruner)}, load average "
          f"{os.getloadavg()[0]:.2f}; runs in {folder}")
    results = _run_all(args, folder)
    if args.smoke or len(args.seeds) < 2:  # no claim: one seed has no standard error
        return 0
    return 0 if pruning_claim.report(*results) else 3


def _run_all(args, folder: Path) -> tuple[list[dict], list[dict]]:
    """Each seed's pruned and unpruned sweep, run and printed a row each as it ends."""
    _print_header()
    results: dict[bool, list[dict]] = {True: [], False: []}
    for seed in args.seeds:
        for pruned in (True, False):
            results[pruned].append(_print_row(seed, pruned, run_sweep(seed, pruned, args, folder)))
    return results[True], results[False]


def summarise_runs(folders: list[Path]) -> int:
    """The figures of earlier runs, read from their folders: each run's, and with several runs all of them pooled,
    with how often the quality half misses between groups of their unpruned sweeps alone (`chance_misses`). The exit
    status follows the pooled claim (with one folder, that run's)."""
    seeds_of = {folder: recorded_seeds(folder) for folder in folders}
    setups = {folder: _recorded_setup(folder, seeds_of[folder][0]) for folder in folders}
    first = folders[0]
    for folder, setup in setups.items():
        if setup != setups[first]:
            sys.exit(f"{folder} ran another setup than {first} ({setup} against {setups[first]}); "
                     "pool only runs of one pruner, sampler and budget")
    pruner, sampler, n_trials, max_epochs = setups[first]
    pooled: tuple[list[dict], list[dict]] = ([], [])
    met = []
    for folder, seeds in seeds_of.items():
        print(f"σ sweep, seeds {seeds}, {n_trials} trials of ≤ {max_epochs} epochs, sampler {_described(sampler)}, "
              f"pruner {_described(pruner)}, runs read from {folder}")
        _print_header()
        with_p, without = [], []
        for seed in seeds:
            for pruned, side in ((True, with_p), (False, without)):
                side.append(_print_row(seed, pruned, {**summarise(folder / f"{sweep_name(seed, pruned)}.yaml"),
                                                      "wall": math.nan}))
        if len(seeds) > 1:
            met.append(pruning_claim.report(with_p, without))
        pooled[0].extend(with_p)
        pooled[1].extend(without)
    if len(folders) > 1:
        per_run = len(seeds_of[first])
        print(f"\nall {len(folders)} runs pooled ({len(pooled[0])} seeds); the claim met in {sum(met)} of "
              f"{len(met)} runs")
        met = [pruning_claim.report(*pooled)]
        share, groups = pruning_claim.share_met(*pooled, per_run)
        print(f"one run of {per_run} seeds: of the {groups} groups of {per_run} of these seeds, {share:.0%} meet the "
              "claim")
        chance = pruning_claim.chance_misses([r["best"] for r in pooled[1]], per_run)
        print(f"by chance: between two groups of {per_run} of these unpruned sweeps, which differ only in their seeds, "
              f"the quality half misses in {chance:.0%} of random splits: how often one run of {per_run} seeds "
              "misses it with a pruner whose sweeps end exactly as well as unpruned ones")
    return 0 if all(met) else 3


def _recorded_setup(folder: Path, seed: int) -> tuple:
    """The pruner, sampler and budget an earlier run used, as its pruned sweep file of `seed` recorded them."""
    recorded = yaml.safe_load((folder / f"{sweep_name(seed, True)}.yaml").read_text())
    return recorded["pruner"], recorded["sampler"], recorded["n_trials"], recorded["limits"]["max_epochs"]


def _print_header() -> None:
    print(f"{'seed':>4} {'pruner':>7} {'best val/nll_iw':>16} {'epochs to best':>15} {'total epochs':>13} "
          f"{'pruned':>7} {'wall':>7}")


def _print_row(seed: int, pruned: bool, r: dict) -> dict:
    print(f"{seed:>4} {'yes' if pruned else 'none':>7} {r['best']:>16.3f} {r['epochs_to_best']:>15} "
          f"{r['total_epochs']:>13} {r['pruned_trials']:>7} {_seconds(r['wall']):>7}", flush=True)
    return r


if __name__ == "__main__":
    raise SystemExit(main())
