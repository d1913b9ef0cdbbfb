"""Which decoder likelihood should the image VAEs ship with? The candidates side by side on the Fashion-MNIST
development set, each trained by `lit-gen fit` on the shipped experiment with only the likelihood changed.

The protocol, fixed before the first measurement (issue 22, item 2):

- Data and model: `configs/experiments/vae_fashion_mnist.yaml` (conv VAE, latent 16, Adam 1e-3, batch 128, the
  prior N(0, I) it had then; the shipped prior is now a mixture, `vae_prior_fashion.py`) on
  `/work/shared/data/fashion_mnist_4443` (train 3,099 / val 344 / test 1,000), `--epochs` 30, one seed per run.
- Candidates: the fixed σ = 0.1 of the shipped configs until now; a learned σ, shared or one per pixel (floor
  1e-3); a Gaussian whose σ the decoder predicts per pixel (floor 1e-3); a discretized logistic with a per-pixel
  scale (floor 1e-3). The Gaussians are densities on dequantised data (their bits/dim bound the discrete
  image's); the discretized logistic is a mass function over the 256 levels (its bits/dim are exact code lengths).
- Selection, on seed 0 and the validation split only (k = 10, FID of 344 samples): the lowest val bits/dim among
  the candidates whose prior-sample FID is at most the fixed σ's.
- Report, on seed 1 (not used to choose) and the test split: test bits/dim (k = 100), FID of prior samples and of
  latent-GMM samples against the 1,000 test images (domain classifier, N = 1,000), and each run's sample grids.

    python benchmarks/vae_likelihoods_fashion.py --seed 0 --split val     # the selection
    python benchmarks/vae_likelihoods_fashion.py --seed 1 --split test    # the report
    python benchmarks/vae_likelihoods_fashion.py --smoke                  # seconds: 1 epoch, two candidates

Wall times are printed for information only (the runs share the machine; `--jobs 2` runs two at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "configs" / "experiments" / "vae_fashion_mnist.yaml"
DATA_DIR = Path("/work/shared/data/fashion_mnist_4443")

CANDIDATES = {
    "fixed σ 0.1": {"class_path": "lit_gen.models.GaussianLikelihood", "init_args": {"sigma": 0.1}},
    "learned σ, shared": {"class_path": "lit_gen.models.LearnedGaussianLikelihood",
                          "init_args": {"init_sigma": 0.1, "per_dimension": False, "min_sigma": 0.001}},
    "learned σ per pixel": {"class_path": "lit_gen.models.LearnedGaussianLikelihood",
                            "init_args": {"init_sigma": 0.1, "per_dimension": True, "min_sigma": 0.001}},
    "decoder σ per pixel": {"class_path": "lit_gen.models.PredictedGaussianLikelihood",
                            "init_args": {"min_sigma": 0.001}},
    "discretized logistic": {"class_path": "lit_gen.models.DiscretizedLogisticLikelihood",
                             "init_args": {"min_scale": 0.001}},
}


def parse_args(argv: list[str] | None = None, default_out_dir: Path = Path("runs/likelihoods")) -> argparse.Namespace:
    """The options this script and `vae_prior_fashion.py` share (its description is the running script's)."""
    script = Path(sys.argv[0]).stem
    parser = argparse.ArgumentParser(description=(sys.modules["__main__"].__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data_dir", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--split", choices=["val", "test"], default="test", help="the split the table reports")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (each gets 2 // jobs torch threads)")
    parser.add_argument("--only", nargs="*", default=None, help="candidate names (default: all)")
    parser.add_argument("--out_dir", type=Path, default=default_out_dir)
    parser.add_argument("--smoke", action="store_true", help="1 epoch, the first 2 batches (likelihoods: two "
                        "candidates unless --only)")
    args = parser.parse_args(argv)
    if not (args.data_dir / "FashionMNIST" / "raw").is_dir():
        parser.exit(2, f"{script}: error: no FashionMNIST/raw under {args.data_dir}; "
                       "pass --data_dir with the development set (../shared/data/fashion_mnist_4443)\n")
    return args


def fit(name: str, overrides: list[str], args: argparse.Namespace, threads: int) -> dict:
    """One `lit-gen fit` of the shipped experiment with `overrides` (command-line options) added; its metrics."""
    run_name = re.sub(r"[^A-Za-z0-9.]+", "_", name.replace("σ", "sigma")).strip("_")
    run_dir = args.out_dir / args.started / f"{run_name}_seed{args.seed}"  # a new folder each invocation
    command = [
        sys.executable, "-m", "lit_gen.cli", "fit", "--config", str(EXPERIMENT),
        "--data.init_args.data_dir", str(args.data_dir), "--seed_everything", str(args.seed),
        *overrides, "--trainer.max_epochs", str(args.epochs),
        f"--run_dir={run_dir}",
    ]
    if args.smoke:
        command += ["--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
                    "--trainer.limit_test_batches", "1", "--model.init_args.iw_samples", "10",
                    "--image_quality.num_samples", "100"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise SystemExit(f"{Path(sys.argv[0]).stem}: error: {name} failed (exit {done.returncode}):\n{tail}")
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    grids = sorted((run_dir / "images").glob("*_samples.png"))
    return {"name": name, "metrics": metrics, "seconds": seconds, "run_dir": run_dir,
            "grid": grids[-1] if grids else None}


def likelihood_override(spec: dict) -> list[str]:
    # the prior these candidates were measured with (the image VAEs now ship a mixture: vae_prior_fashion.py)
    return ["--model.init_args.likelihood", json.dumps(spec), "--model.init_args.prior", "standard_normal"]


def run_candidates(args: argparse.Namespace, candidates: dict[str, list[str]], names: list[str]) -> list[dict]:
    """Fit the named candidates (each the shipped experiment plus its command-line overrides), `args.jobs` at a
    time; their results in the order of `names`. Shared with `vae_prior_fashion.py`."""
    unknown = [n for n in names if n not in candidates]
    if unknown:
        raise SystemExit(f"{Path(sys.argv[0]).stem}: error: unknown candidates {unknown}; known: {list(candidates)}")
    args.started = time.strftime("%Y%m%d-%H%M%S")
    if args.smoke:
        args.epochs = 1
    print(f"seed {args.seed}, {args.epochs} epochs, split {args.split}; load average at start "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    threads = max(1, 2 // args.jobs)
    with ThreadPoolExecutor(args.jobs) as pool:
        return list(pool.map(lambda n: fit(n, candidates[n], args, threads), names))


def print_table(results: list[dict], split: str, label: str) -> None:
    """One row per candidate: the split's bits/dim, prior and GMM FID, KL, wall time and last sample grid."""
    s = split
    print(f"\n{label:<22} {s + ' bpd':>9} {'prior FID':>10} {'GMM FID':>9} {'KL nats':>8} "
          f"{'fit s':>6}  sample grid (last epoch)")
    for r in results:
        m = r["metrics"]
        print(f"{r['name']:<22} {m[f'{s}/bpd']:>9.3f} {m[f'{s}/fid']:>10.2f} {m[f'{s}/fid_gmm']:>9.2f} "
              f"{m[f'{s}/kl']:>8.1f} {r['seconds']:>6.0f}  {r['grid']}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    names = args.only or (["fixed σ 0.1", "discretized logistic"] if args.smoke else list(CANDIDATES))
    candidates = {name: likelihood_override(spec) for name, spec in CANDIDATES.items()}
    results = run_candidates(args, candidates, names)
    s = args.split
    print_table(results, s, "likelihood")
    print(f"\nbpd: bits per dimension of the 8-bit {s} images (k = {100 if s == 'test' else 10}; Gaussians: the "
          "dequantisation bound). FID: domain classifier, samples vs the split's real images "
          f"({'1,000' if s == 'test' else '344'} each). Load average at end {os.getloadavg()[0]:.2f}.")


if __name__ == "__main__":
    main()
