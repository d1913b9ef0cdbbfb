"""How fast the digits MLP VAE can train under Lightning 2.x: lit_gen's VAE as shipped beside variants that leave
out what costs most, each against the plain PyTorch loop of `vae_throughput.py`, in one process.

The variants are not shipped; they show where the floor is:
- "no epoch logging": the train metrics are summed as usual but not passed to `self.log` at the epoch's end. Each
  `self.log` call costs about 0.4 ms, three quarters of it in Lightning's `_ResultMetric.to`, which walks the logged
  metric's whole state on every call; the MLP's 11-step epochs spread three calls over 11 steps.
- "manual optimization": `automatic_optimization = False`, the step does `zero_grad`, `manual_backward`, `step`
  itself, skipping Lightning's closure. lit_gen's VAE does not ship this: `Trainer(gradient_clip_val=…)` and
  `accumulate_grad_batches` refuse manual optimization, and LR schedulers would have to be stepped by hand.

    python benchmarks/lightning_floor.py [--epochs 30] [--repeats 5] [--threads 1]
"""
# ruff: noqa: E402  (vae_throughput reads the environment before anything imports lightning)

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vae_throughput as bench  # noqa: I001 — first, see above

import argparse
import statistics

import torch

from lit_gen.data import DigitsDataModule
from lit_gen.models import VAE


class WithoutEpochLogging(VAE):
    def on_train_epoch_end(self) -> None:  # as VAE's, without the self.log_dict call
        self.check_training_is_finite(self._train_means)
        self._train_means.compute_and_reset()


class ManualOptimization(VAE):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        optimizer = self.optimizers()
        out = self(self.prepare(batch))
        self._train_means.update(out.recon, out.kl)
        optimizer.zero_grad()
        self.manual_backward(out.loss)
        optimizer.step()


class ManualWithoutEpochLogging(ManualOptimization, WithoutEpochLogging):
    pass


VARIANTS = {
    "lit_gen as shipped": VAE,
    "no epoch logging": WithoutEpochLogging,
    "manual optimization": ManualOptimization,
    "manual optimization, no epoch logging": ManualWithoutEpochLogging,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = DigitsDataModule(batch_size=128)
    plain, steps = [], {name: [] for name in VARIANTS}
    for _ in range(args.repeats):  # round-robin, so a change in the machine's load touches every variant alike
        plain.append(bench.run_plain("mlp", data, args.epochs))
        for name, model_class in VARIANTS.items():
            steps[name].append(bench.run_lit_gen("mlp", data, args.epochs, model_class))

    baseline = statistics.median(plain)
    print(f"\ndigits MLP VAE, torch {torch.__version__}, {args.threads} threads, median of {args.repeats} runs, "
          f"load average {bench._load()}")
    print(f"{'':<40} {'steps/s':>8} {'ratio':>7}")
    print(f"{'plain PyTorch loop':<40} {baseline:>8.1f} {1:>6.3f}×")
    for name, values in steps.items():
        print(f"{name:<40} {statistics.median(values):>8.1f} {statistics.median(values) / baseline:>6.3f}×")


if __name__ == "__main__":
    main()
