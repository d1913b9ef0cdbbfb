"""Orchestration overhead of a sweep: the time per trial spent outside training.

A trial's overhead is its duration in the study (from `ask` to `tell`) minus the work of its fit (the trainer's
start to the end of the final evaluation, recorded in the trial's metrics.json): process start, imports, config
parsing, building data and model, storage writes, tear-down. The one-time start of the sweep (opening the
storage, the fork server's imports, the config check) is in the sweep's wall time only.

Both launchers run the same sweep in this one run, one after the other: the fork server (lit_gen's default: a
process forked from a server that imported torch and Lightning once) and a plain `python -m lit_gen.cli fit`
subprocess per trial (the baseline: what a sweep costs without the fork server).

    python benchmarks/sweep_overhead.py                  # sweeps/quickstart.yaml, 2 workers, both launchers
    python benchmarks/sweep_overhead.py --smoke          # 2 short trials per launcher

Target (issue 5): ≤ 3 s per trial with the default launcher.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TARGET = 3.0


def run(spec_path: Path, launcher: str, workers: int, folder: Path, smoke: bool) -> dict:
    spec = yaml.safe_load(spec_path.read_text())
    spec["config"] = str((spec_path.parent / spec["config"]).resolve())
    spec["name"] = f"overhead_{launcher}"
    spec["directory"] = str(folder / launcher)
    if smoke:
        spec["n_trials"] = 2
        spec["limits"] = {"max_epochs": 2}
        spec["pruner"] = None
    path = folder / f"{launcher}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "lit_gen.cli", "sweep", "run", str(path), "--workers", str(workers),
                             "--launcher", launcher], cwd=folder, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"sweep with the {launcher} launcher failed:\n{result.stderr[-3000:]}")

    from lit_gen.sweep.driver import open_study
    from lit_gen.sweep.spec import load_spec

    study, _ = open_study(load_spec(path), create=False)
    trials = [t for t in study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED")]
    # the study's own view of a trial, from ask to tell, minus the work of its fit
    overheads = [(t.datetime_complete - t.datetime_start).total_seconds() - t.user_attrs["fit_seconds"]
                 for t in trials]
    fits = [t.user_attrs["fit_seconds"] for t in trials]
    return {"launcher": launcher, "trials": len(trials), "wall": wall, "overheads": overheads, "fits": fits}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=REPO / "sweeps" / "quickstart.yaml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--launchers", nargs="+", default=["forkserver", "subprocess"],
                        choices=["forkserver", "subprocess"])
    parser.add_argument("--smoke", action="store_true", help="two short trials per launcher, no target")
    args = parser.parse_args(argv)

    import os

    load = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="sweep_overhead_"))
    print(f"{args.spec.name}, {args.workers} workers, load average {load:.2f}; runs in {folder}")
    rows = [run(args.spec, launcher, args.workers, folder, args.smoke) for launcher in args.launchers]
    print(f"{'launcher':<11} {'trials':>6} {'overhead/trial: median':>23} {'mean':>7} {'max':>7} "
          f"{'fit/trial':>10} {'sweep wall':>11}")
    for row in rows:
        o = row["overheads"]
        print(f"{row['launcher']:<11} {row['trials']:>6} {statistics.median(o):>21.2f} s {statistics.mean(o):>5.2f} s "
              f"{max(o):>5.2f} s {statistics.mean(row['fits']):>8.2f} s {row['wall']:>9.1f} s")
    default = rows[0]
    if args.smoke or default["launcher"] != "forkserver":
        return 0
    ok = statistics.median(default["overheads"]) <= TARGET
    print(f"target: median overhead ≤ {TARGET} s per trial with the fork server: {'met' if ok else 'MISSED'}")
    return 0 if ok else 3


if __name__ == "__main__":
    raise SystemExit(main())
