"""Where a training step's time goes: lit_gen's step and the plain loop's, part by part, side by side.

The same two trainings as `vae_throughput.py` (same model, data, optimizer, environment), with a clock around each
part of a step. Times are exclusive (a part's time does not include the parts it calls) and per step, averaged
over the steady state (from step 5); the epoch-boundary rows are per-epoch costs spread over the epoch's steps.
What is not in a named part is the loop itself: the plain loop's own Python, or Lightning's hooks, closures and
bookkeeping. The clocks cost a little themselves (about 1 µs per timed call), a few dozen µs a step, on both sides.

    python benchmarks/step_breakdown.py [--epochs 30] [--repeats 3] [--threads 1] [--model mlp|conv]
"""
# ruff: noqa: E402  (vae_throughput reads the environment before anything imports lightning)

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vae_throughput as bench  # noqa: I001 — first, see above

import argparse
import functools
import os
import statistics
import tempfile
import time
from collections import defaultdict

import torch
import torch.optim.adam as adam_module  # torch.optim hides the module behind its Adam class
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.core.module import LightningModule
from lightning.pytorch.loops.fetchers import _PrefetchDataFetcher
from lightning.pytorch.loops.fit_loop import _FitLoop
from lightning.pytorch.loops.training_epoch_loop import _TrainingEpochLoop
from lightning.pytorch.strategies import Strategy
from lightning.pytorch.trainer.connectors.logger_connector.logger_connector import _LoggerConnector

from lit_gen.callbacks import default_callbacks
from lit_gen.null_profiler import NullProfiler
from lit_gen.metrics.likelihood import kl_to_standard_normal
from lit_gen.metrics.running import EpochMeans
from lit_gen.models import VAE

DATA = "data: next batch"
FORWARD = "forward: dequantise, networks, loss"
SUMS = "lit_gen: epoch sums of recon and kl"
BACKWARD = "backward"
ADAM = "Adam update"
ZERO = "zero_grad"
CUDA_CHECK = "CUDA availability check in optimizer.step"
TRANSFER = "Lightning: batch transfer hooks"
LOGGING = "epoch boundary: logging the train metrics"
BOUNDARY = "epoch boundary: other (hooks, bar, next epoch)"
LIGHTNING = "Lightning: loop, hooks, closure (the rest)"
PLAIN = "plain loop: its own Python"


class Clock:
    """Exclusive time per part: entering a part pauses the part it was called from."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.part: str | None = None  # None: not measuring
        self.since = 0.0

    def start(self, part: str) -> None:
        self.totals.clear()
        self.part, self.since = part, time.perf_counter()

    def stop(self) -> dict[str, float]:
        self._switch(None)
        return dict(self.totals)

    def _switch(self, part: str | None) -> str | None:
        now = time.perf_counter()
        previous = self.part
        if previous is not None:
            self.totals[previous] += now - self.since
        self.part, self.since = part, now
        return previous

    def timed(self, part: str, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if self.part is None:
                return fn(*args, **kwargs)
            previous = self._switch(part)
            try:
                return fn(*args, **kwargs)
            finally:
                self._switch(previous)
        return wrapper


CLOCK = Clock()


def instrument() -> None:
    """Wraps the parts, on both sides where they are shared (torch's backward, Adam, zero_grad, the check)."""
    for owner, name, part in [
        (torch.autograd, "backward", BACKWARD), (adam_module, "adam", ADAM),
        (torch.optim.Optimizer, "zero_grad", ZERO),
        (torch.optim.Optimizer, "_accelerator_graph_capture_health_check", CUDA_CHECK),
        (_PrefetchDataFetcher, "__next__", DATA),
        (LightningModule, "_on_before_batch_transfer", TRANSFER), (Strategy, "batch_to_device", TRANSFER),
        (VAE, "prepare", FORWARD), (VAE, "forward", FORWARD), (EpochMeans, "update", SUMS),
        (VAE, "on_train_epoch_end", LOGGING), (_LoggerConnector, "update_train_epoch_metrics", LOGGING),
        (_FitLoop, "on_advance_start", BOUNDARY), (_FitLoop, "on_advance_end", BOUNDARY),
        (_TrainingEpochLoop, "reset", BOUNDARY), (_TrainingEpochLoop, "on_run_start", BOUNDARY),
    ]:
        setattr(owner, name, CLOCK.timed(part, getattr(owner, name)))


class Window(Callback):
    def __init__(self) -> None:
        self.steps = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.steps == bench.WARMUP_STEPS:
            CLOCK.start(LIGHTNING)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps += 1
        if self.steps == trainer.num_training_batches * trainer.max_epochs:
            self.totals = CLOCK.stop()  # the last step: leave the end of training out, as vae_throughput does


def lit_gen_step(network: str, data, epochs: int) -> dict[str, float]:
    window = Window()
    with tempfile.TemporaryDirectory() as root:
        Trainer(max_epochs=epochs, default_root_dir=root, callbacks=[window, *default_callbacks()], limit_val_batches=0,
                enable_checkpointing=False, num_sanity_val_steps=0, enable_model_summary=False, profiler=NullProfiler(),
                logger=True).fit(bench.build_model(network, data), datamodule=data)
    return {part: t / (window.steps - bench.WARMUP_STEPS) for part, t in window.totals.items()}


def plain_step(network: str, data, epochs: int) -> dict[str, float]:
    """vae_throughput's plain loop, with the data and forward parts marked."""
    with bench.environment_without_lightning():
        model = bench.build_model(network, data)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        data.setup()
        train = data.raw_split("train")
        generator = torch.Generator().manual_seed(0)
        steps = 0
        for _ in range(epochs):
            order = torch.randperm(len(train), generator=generator)
            for begin in range(0, len(train), 128):
                if steps == bench.WARMUP_STEPS:
                    CLOCK.start(PLAIN)
                raw = CLOCK.timed(DATA, train.index_select)(0, order[begin : begin + 128])
                loss = CLOCK.timed(FORWARD, _plain_forward)(model, raw)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                steps += 1
        totals = CLOCK.stop()
    return {part: t / (steps - bench.WARMUP_STEPS) for part, t in totals.items()}


def _plain_forward(model, raw):
    x = model.likelihood.prepare(raw)
    mu, log_var = model.encoder(x).chunk(2, dim=-1)
    z = mu + (0.5 * log_var).exp() * torch.randn_like(mu)
    recon = -model.likelihood.log_prob(model.decoder(z), x)
    return (recon + kl_to_standard_normal(mu, log_var)).mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--model", choices=["mlp", "conv"], default="mlp")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    instrument()
    data = bench.DigitsDataModule(batch_size=128) if args.model == "mlp" else bench.Synthetic28(batch_size=128)
    runs: dict[str, list[dict[str, float]]] = {"plain": [], "lit_gen": []}
    stdout = sys.stdout
    for repeat in range(args.repeats):
        sys.stdout = open(os.devnull, "w")  # the progress bar
        try:
            order = ["plain", "lit_gen"] if repeat % 2 == 0 else ["lit_gen", "plain"]
            for side in order:
                step = plain_step if side == "plain" else lit_gen_step
                runs[side].append(step(args.model, data, args.epochs))
        finally:
            sys.stdout.close()
            sys.stdout = stdout

    def median(side: str, part: str) -> float:
        return statistics.median(run.get(part, 0.0) for run in runs[side]) * 1e6

    parts = sorted({p for side in runs.values() for run in side for p in run}, key=lambda p: -median("lit_gen", p))
    print(f"{args.model}, {args.threads} threads, median of {args.repeats} runs, load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()) + "\n")
    print(f"{'µs per step':<50} {'plain':>8} {'lit_gen':>8} {'extra':>8}")
    for part in parts:
        p, q = median("plain", part), median("lit_gen", part)
        print(f"{part:<50} {p:>8.0f} {q:>8.0f} {q - p:>+8.0f}")
    p, q = sum(median("plain", part) for part in parts), sum(median("lit_gen", part) for part in parts)
    print(f"{'total':<50} {p:>8.0f} {q:>8.0f} {q - p:>+8.0f}   ratio {p / q:.2f}×")


if __name__ == "__main__":
    main()
