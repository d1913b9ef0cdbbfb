"""Mode coverage of lit_gen's GAN on the 2D grid of 25 and ring of 8 Gaussians, by the VEEGAN / PacGAN protocol.

The promise measured: `lit-gen fit --config configs/experiments/gan_<experiment>.yaml --seed_everything S`,
on a 2-core CPU, in at most 5 minutes of wall time for the whole command (training, validation, the final
validate and test), gives on seeds 1-5

* grid of 25: mean modes covered ≥ 24.8, mean high-quality fraction ≥ 0.95, mean reverse KL ≤ 0.04;
* ring of 8: all 8 modes on every seed, mean high-quality fraction ≥ 0.97.

Each run is the real CLI in a subprocess (`python -m lit_gen.cli fit ...`, what the `lit-gen` script runs), its
output in `<out_dir>/<experiment>/seed_<S>/` (run directory, log). The numbers are the `test/` keys of the run's
`metrics.json`: 2,500 samples of the EMA generator; a sample is high quality within 3 std of its nearest mode, a
mode is covered when it is the nearest mode of a high-quality sample, and the reverse KL is KL(q ‖ uniform) of
the high-quality samples' histogram over modes. `seconds` is the wall time of the whole subprocess, `cpu s`
its CPU time (user + system): on a shared machine the wall time is inflated by other work, the CPU time much
less, and the load average is printed with each run.

Published rows (for comparison; different networks and budgets): grid — GAN, PacGAN4 (Lin et al., PacGAN,
2018, table 3) and VEEGAN (Srivastava et al., 2017, table 1; no reverse KL reported); ring — the same papers'
2D-ring columns.

    python benchmarks/gan_mode_coverage.py                          # seeds 1-5, grid25 and ring8
    python benchmarks/gan_mode_coverage.py --experiments ring8 --seeds 1 2
    python benchmarks/gan_mode_coverage.py --smoke                  # one seed, a few batches, no targets

Exit status: 0 all targets met (or --smoke finished), 1 a run failed, 3 a target was missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = {
    "grid25": REPO / "configs" / "experiments" / "gan_grid25.yaml",
    "ring8": REPO / "configs" / "experiments" / "gan_ring8.yaml",
}
TIME_LIMIT = 300.0  # seconds of wall time per run, the whole `lit-gen fit`
SMOKE_ARGS = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=20", "--trainer.max_steps=-1",
              "--trainer.check_val_every_n_epoch=1"]

#: (name, modes, high quality, reverse KL or None) as published
PUBLISHED = {
    "grid25": [("GAN (PacGAN paper)", 17.3, 0.948, 0.70), ("PacGAN4", 24.8, 0.936, 0.04),
               ("VEEGAN", 24.6, 0.40, None)],
    "ring8": [("GAN (PacGAN paper)", 6.3, 0.982, 0.45), ("PacGAN2", 7.9, 0.956, 0.07),
              ("VEEGAN", 8.0, 0.529, None)],
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5], help="run seeds (default: 1-5)")
    parser.add_argument("--experiments", nargs="+", choices=sorted(EXPERIMENTS), default=["grid25", "ring8"],
                        help="which mixtures (default: grid25 ring8)")
    parser.add_argument("--out_dir", type=Path, default=None,
                        help="where the runs go (default: a new temporary directory; never the repository)")
    parser.add_argument("--smoke", action="store_true",
                        help="a quick check that everything runs: first seed only, 1 epoch of 20 batches, "
                             "targets not checked")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds = args.seeds[:1]
    return args


def run_one(experiment: str, seed: int, out_dir: Path, smoke: bool) -> dict:
    run_root = out_dir / experiment / f"seed_{seed}"
    run_root.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "lit_gen.cli", "fit", "--config", str(EXPERIMENTS[experiment]),
        f"--seed_everything={seed}",
        f"--trainer.logger.init_args.save_dir={run_root}",
        "--trainer.logger.init_args.name=run",
        "--trainer.logger.init_args.version=0",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        *(SMOKE_ARGS if smoke else []),
    ]
    log_path = run_root / "fit.log"
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log_path.open("w") as log:
        done = subprocess.run(command, cwd=run_root, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        print(f"lit-gen fit failed (exit {done.returncode}); the end of {log_path}:", file=sys.stderr)
        print("\n".join(log_path.read_text().splitlines()[-30:]), file=sys.stderr)
        raise SystemExit(1)
    metrics = json.loads((run_root / "run" / "version_0" / "metrics.json").read_text())["metrics"]
    return {"seed": seed, "modes": metrics["test/modes_covered"], "high_quality": metrics["test/high_quality"],
            "reverse_kl": metrics["test/reverse_kl"], "seconds": seconds, "cpu": cpu,
            "load_before": load, "load_after": os.getloadavg()[0]}


def targets(experiment: str, rows: list[dict]) -> list[tuple[str, bool]]:
    """(description, met) for each promise of the experiment."""
    modes = [r["modes"] for r in rows]
    quality = statistics.mean(r["high_quality"] for r in rows)
    slowest = max(r["seconds"] for r in rows)
    checks = [(f"every run ≤ {TIME_LIMIT:.0f} s (slowest {slowest:.0f} s)", slowest <= TIME_LIMIT)]
    if experiment == "grid25":
        kl = statistics.mean(r["reverse_kl"] for r in rows)
        checks += [(f"mean modes ≥ 24.8 ({statistics.mean(modes):.1f})", statistics.mean(modes) >= 24.8),
                   (f"mean high quality ≥ 95% ({quality:.1%})", quality >= 0.95),
                   (f"mean reverse KL ≤ 0.04 ({kl:.3f})", kl <= 0.04)]
    else:
        checks += [(f"8 modes on every seed (min {min(modes):.0f})", min(modes) == 8),
                   (f"mean high quality ≥ 97% ({quality:.1%})", quality >= 0.97)]
    return checks


def table(experiment: str, rows: list[dict], smoke: bool) -> tuple[str, bool]:
    header = f"{'':<20} {'modes':>6} {'high quality':>13} {'reverse KL':>11} {'seconds':>8} {'cpu s':>7} {'load':>10}"
    lines = [f"{experiment}: lit-gen fit --config {EXPERIMENTS[experiment].relative_to(REPO)}"
             + (" (smoke budget)" if smoke else ""), header, "-" * len(header)]
    for r in rows:
        lines.append(f"{'seed ' + str(r['seed']):<20} {r['modes']:>6.0f} {r['high_quality']:>13.1%} "
                     f"{r['reverse_kl']:>11.4f} {r['seconds']:>8.1f} {r['cpu']:>7.1f} "
                     f"{r['load_before']:>4.1f}→{r['load_after']:<4.1f}")
    mean = lambda key: statistics.mean(r[key] for r in rows)  # noqa: E731
    lines.append(f"{'lit_gen mean':<20} {mean('modes'):>6.1f} {mean('high_quality'):>13.1%} "
                 f"{mean('reverse_kl'):>11.4f} {mean('seconds'):>8.1f} {mean('cpu'):>7.1f}")
    for name, modes, quality, kl in PUBLISHED[experiment]:
        kl_text = "—" if kl is None else f"{kl:.2f}"
        lines.append(f"{name:<20} {modes:>6.1f} {quality:>13.1%} {kl_text:>11}")
    if smoke:
        return "\n".join(lines + ["targets not checked (--smoke)"]), True
    checks = targets(experiment, rows)
    lines += [f"  {'PASS' if met else 'FAIL'}  {text}" for text, met in checks]
    passed = all(met for _, met in checks)
    lines.append(f"{experiment}: {'PASS' if passed else 'FAIL'}")
    return "\n".join(lines), passed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="gan_mode_coverage_"))
    out_dir = out_dir.resolve()
    if out_dir == REPO or REPO in out_dir.parents:
        raise SystemExit(f"--out_dir {out_dir} is inside the repository; give a directory outside it")
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"runs in {out_dir}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}", flush=True)
    total_start = time.perf_counter()
    reports, all_passed = [], True
    for experiment in args.experiments:
        rows = []
        for seed in args.seeds:
            row = run_one(experiment, seed, out_dir, args.smoke)
            print(f"  {experiment} seed {seed}: {row['modes']:.0f} modes, {row['high_quality']:.1%} high quality, "
                  f"reverse KL {row['reverse_kl']:.4f}, {row['seconds']:.1f} s (cpu {row['cpu']:.1f} s)", flush=True)
            rows.append(row)
        text, passed = table(experiment, rows, args.smoke)
        reports.append(text)
        all_passed &= passed
    print()
    print("\n\n".join(reports))
    print(f"\ntotal {time.perf_counter() - total_start:.0f} s; runs in {out_dir}")
    return 0 if all_passed else 3


if __name__ == "__main__":
    sys.exit(main())
