"""The shipped DCGAN on the Fashion-MNIST development set: its samples' domain FID/KID against the test split,
beside the floor (the test split against the training split, same backbone, same N), and the fit's wall time.

The claim checked (issue 22, item 4): `configs/experiments/dcgan_fashion_mnist.yaml`, run as a user runs it

    lit-gen fit --config configs/experiments/dcgan_fashion_mnist.yaml --data.init_args.data_dir DIR

finishes, evaluation included, within 10 minutes wall on the 2-core CPU, and its samples are recognisable garments.
The fit runs in a child process exactly so (its console output goes to `fit.log` in the output folder); its wall
time is that process's, imports included. Scored (by the run itself, `test/fid`, `test/kid`): N samples of the EMA
generator against the first N test images, N = min(image_quality.num_samples, 1,000), with the domain classifier of
the run's training split. The floor: the first N training images in the generator's place
(`lit_gen.evaluation.image_quality.evaluate_real_split`), same classifier, same N, same KID subsets, read from the
run's own config.yaml. A model drawing fresh Fashion-MNIST images would score about the floor. Last, 64 samples of
the final EMA generator go to `samples_final.png` (`lit-gen sample`), to be looked at.

    python benchmarks/dcgan_fashion.py --data_dir /work/shared/data/fashion_mnist_4443 --threads 1  # ≤ 10 minutes
    python benchmarks/dcgan_fashion.py --data_dir /work/shared/data/fashion_mnist_4443 --smoke  # seconds

`--threads 1` runs the fit with OMP_NUM_THREADS=1: on the shared 2-core machine two torch threads per process
oversubscribe the cores (measured: ~50 s an epoch with 2 threads vs ~4–8 s with 1, load average 4).
`--smoke`: 2 training batches, 1 epoch, N = 100 (the domain classifier must be cached already, or it is trained
once, as in any first run). The machine is shared: the load average is printed at the start and the end.
Exit 0 done, 1 the fit failed, 2 no data set at --data_dir.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "configs" / "experiments" / "dcgan_fashion_mnist.yaml"
BUDGET_SECONDS = 600
SMOKE = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
         "--image_quality.num_samples=100", "--image_quality.kid_subsets=10", "--images.every_n_epochs=1"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, default=None,
                        help="the folder holding FashionMNIST/raw (the development set: "
                             "/work/shared/data/fashion_mnist_4443)")
    parser.add_argument("--smoke", action="store_true", help="seconds: 2 training batches, N = 100")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads of the fit (OMP_NUM_THREADS in its environment; default: torch's own). "
                             "On a shared 2-core machine 1 is several times faster than 2")
    parser.add_argument("--out_dir", type=Path, default=None, help="the run folder (default: a new temporary one)")
    return parser.parse_args(argv)


def data_set_missing(data_dir: Path | None) -> str | None:
    if data_dir is None:
        return "no data set: pass --data_dir, the folder holding FashionMNIST/raw (../shared/data/fashion_mnist_4443)"
    raw = data_dir / "FashionMNIST" / "raw"
    if not raw.is_dir() or not any(raw.glob("t10k-images-idx3-ubyte*")):
        return f"no Fashion-MNIST files in {raw}: pass --data_dir, the folder holding FashionMNIST/raw"
    return None


def load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def fit(data_dir: Path, run: Path, smoke: bool, threads: int | None) -> float:
    """`lit-gen fit` in a child process, as a user runs it; returns its wall time."""
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    command = [sys.executable, "-c", "from lit_gen.cli import main; main()", "fit", "--config", str(EXPERIMENT),
               f"--data.init_args.data_dir={data_dir}", f"--run_dir={run}", *(SMOKE if smoke else [])]
    print(f"$ {f'OMP_NUM_THREADS={threads} ' if threads else ''}lit-gen " + " ".join(command[3:]), flush=True)
    start = time.perf_counter()
    with open(run.parent / "fit.log", "w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = (run.parent / "fit.log").read_text().strip().splitlines()[-1:]
        raise SystemExit(f"error: the fit failed ({tail[0] if tail else 'no output'}); see {run.parent / 'fit.log'}")
    return seconds


def floor(run: Path) -> tuple[dict, dict]:
    """FID/KID of the first N training images against the first N test images, with the run's own data split,
    domain classifier and image_quality settings."""
    import yaml

    from lit_gen.callbacks.image_quality import ImageQuality
    from lit_gen.evaluation.image_quality import evaluate_real_split, load_backbone

    config = yaml.safe_load((run / "config.yaml").read_text())
    module, name = config["data"]["class_path"].rsplit(".", 1)
    datamodule = getattr(importlib.import_module(module), name)(**config["data"]["init_args"])
    datamodule.prepare_data()
    quality = config["image_quality"]
    settings = ImageQuality(**quality).settings  # built by the callback the run used, from the same config
    backbone = load_backbone(quality["backbone"], datamodule, quality["domain_classifier"], may_train=False)
    result = evaluate_real_split(backbone, datamodule, "test", "train", settings)
    return result.metrics, result.provenance


def final_grid(run: Path, out: Path) -> Path:
    """64 samples of the model the run ended with, as `lit-gen sample` draws them (the run's own grids are written
    every few epochs, and the max_time guard may stop training between two of them)."""
    from lit_gen.sample_command import main as sample

    sample(["--ckpt_path", str(run), "--num", "64", "--out", str(out)])
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = data_set_missing(args.data_dir)
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="dcgan_fashion_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    run = out_dir / "run"
    print(f"load average at start: {load()} | {'smoke' if args.smoke else 'full'} run | {out_dir}", flush=True)
    seconds = fit(args.data_dir.resolve(), run, args.smoke, args.threads)
    content = json.loads((run / "metrics.json").read_text())
    metrics, meta = content["metrics"], content["meta"]
    model_side = meta["image_quality"]["test"]
    floor_metrics, floor_side = floor(run)
    # the two sides must be comparable: same classifier file, same N, same KID subsets
    assert floor_side["backbone"] == model_side["backbone"], (floor_side["backbone"], model_side["backbone"])
    assert floor_side["reference"]["num_images"] == model_side["reference"]["num_images"], (floor_side, model_side)
    assert floor_side["kid"]["subset_size"] == model_side["kid"]["subset_size"]
    n = model_side["reference"]["num_images"]
    grid = final_grid(run, out_dir / "samples_final.png")
    rows = [("FID (domain)", metrics["test/fid"], floor_metrics["fid"]),
            ("KID (domain)", metrics["test/kid"], floor_metrics["kid"]),
            ("IS (domain)", metrics["test/is"], floor_metrics["is"])]
    print(f"\nvs the first {n} test images, {model_side['backbone']['name']} backbone "
          f"({model_side['backbone'].get('file', '?')}), KID subsets of {model_side['kid']['subset_size']}")
    print(f"{'':<14}  {'EMA generator':>13}  {'floor: train':>12}")
    for name, model_value, floor_value in rows:
        print(f"{name:<14}  {model_value:>13.3f}  {floor_value:>12.3f}")
    fit_seconds = meta.get("timing", {}).get("fit_seconds", float("nan"))
    evaluation = meta.get("timing", {}).get("evaluation_seconds", float("nan"))
    print(f"\nwall time of `lit-gen fit`: {seconds:.0f} s (budget {BUDGET_SECONDS} s: "
          f"{'met' if seconds <= BUDGET_SECONDS else 'missed'}{', smoke run' if args.smoke else ''}); "
          f"fit {fit_seconds:.0f} s of it, evaluation {evaluation:.0f} s")
    print(f"sample grid of the final EMA generator (64 samples, seed 0): {grid}; the run's own: {run / 'images'}")
    print(f"load average at end: {load()} (1, 5, 15 min; the machine is shared, timings are noisy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
