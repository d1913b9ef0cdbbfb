"""What the σ sweep's pruner saves: epochs trained until the sweep found its best value, with and without the
pruner, over several sampler seeds.

Each seed runs `sweeps/vae_sigma_digits.yaml` twice with the same sampler seed and budget — once with the pruner
the file configures, once with none — through the real `lit-gen sweep run`. Trials count in the order they
finished, a pruned trial with the epochs it ran (a failed attempt too: its retry resumes from its checkpoint). For
each sweep it prints the epochs trained up to and including the trial that holds the sweep's best value, the
epochs trained by all trials, and the best `val/nll_iw`; then the means side by side and the ratio of the epochs.

The two sweeps of a seed soon sample different values, so a run measures the pruner together with where each
sweep's sampler happened to go: read the figures over the seeds, not one seed's.

    python benchmarks/pruning_savings.py                  # seeds 0 1 2, the sweep file's budget, 2 workers
    python benchmarks/pruning_savings.py --smoke          # 1 seed, 3 trials of 6 epochs, the pruner judging at once
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "sweeps" / "vae_sigma_digits.yaml"
SMOKE_BUDGET = (3, 6)  # trials, epochs
#: in a smoke run the pruner judges from the first epoch after the first finished trial, so that it can prune
SMOKE_JUDGING = {"n_startup_trials": 1, "n_warmup_steps": 0}


def sweep_file(seed: int, pruned: bool, args, folder: Path) -> Path:
    """The shipped sweep file with this seed, budget and folder; without its pruner for the baseline."""
    spec = yaml.safe_load(SPEC.read_text())
    spec["config"] = str((SPEC.parent / spec["config"]).resolve())
    spec["name"] = f"sigma_seed{seed}_{'pruned' if pruned else 'full'}"
    spec["directory"] = str(folder / spec["name"])
    spec["seed"] = seed
    if args.smoke:
        spec["n_trials"], spec["limits"]["max_epochs"] = SMOKE_BUDGET
        spec["sampler"]["init_args"]["n_startup_trials"] = 1
        spec["pruner"]["init_args"].update(SMOKE_JUDGING)
    if not pruned:
        spec["pruner"] = None
    spec["overrides"] = [*spec.get("overrides", []), "--image_quality.backbone=none",
                         "--trainer.enable_model_summary=false"]
    path = folder / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def run_sweep(path: Path, workers: int) -> dict:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "lit_gen.cli", "sweep", "run", str(path), "--workers",
                             str(workers)], cwd=path.parent, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{path.stem} failed:\n{result.stderr[-3000:]}")
    return {**summarise(path), "wall": time.perf_counter() - started}


def summarise(path: Path) -> dict:
    """The figures of one finished sweep, read from its study."""
    from lit_gen.sweep.driver import open_study
    from lit_gen.sweep.spec import load_spec

    study, _ = open_study(load_spec(path), create=False)
    trials = sorted((t for t in study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED", "FAIL")),
                    key=lambda t: t.datetime_complete)
    epochs = [len(t.intermediate_values) for t in trials]
    best = study.best_trial
    until_best = sum(epochs[: [t.number for t in trials].index(best.number) + 1])
    return {"best": best.value, "epochs_to_best": until_best, "total_epochs": sum(epochs),
            "pruned_trials": sum(t.state.name == "PRUNED" for t in trials)}


def mean_se(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values) / math.sqrt(len(values)):.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds = [0]
    folder = Path(tempfile.mkdtemp(prefix="pruning_savings_"))
    shipped = yaml.safe_load(SPEC.read_text())
    print(f"σ sweep, seeds {args.seeds}, {args.workers} workers, sampler {shipped['sampler']}, pruner "
          f"{shipped['pruner']}, load average {os.getloadavg()[0]:.2f}; runs in {folder}")
    print(f"{'seed':>4} {'pruner':>7} {'best val/nll_iw':>16} {'epochs to best':>15} {'total epochs':>13} "
          f"{'pruned':>7} {'wall':>7}")
    results: dict[bool, list[dict]] = {True: [], False: []}
    for seed in args.seeds:
        for pruned in (True, False):
            r = run_sweep(sweep_file(seed, pruned, args, folder), args.workers)
            results[pruned].append(r)
            print(f"{seed:>4} {'yes' if pruned else 'none':>7} {r['best']:>16.3f} {r['epochs_to_best']:>15} "
                  f"{r['total_epochs']:>13} {r['pruned_trials']:>7} {r['wall']:>6.0f}s", flush=True)
    print(f"\n{'':>12} {'with pruner':>18} {'without':>18} {'ratio':>7}")
    for key, label in (("epochs_to_best", "epochs to best"), ("total_epochs", "total epochs")):
        with_p, without = ([r[key] for r in results[p]] for p in (True, False))
        ratio = statistics.mean(without) / max(statistics.mean(with_p), 1e-9)
        print(f"{label:>14} {mean_se(with_p):>18} {mean_se(without):>18} {ratio:>6.2f}×")
    print(f"{'best value':>14} {mean_se([r['best'] for r in results[True]]):>18} "
          f"{mean_se([r['best'] for r in results[False]]):>18}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
