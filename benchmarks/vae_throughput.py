"""Training throughput of lit_gen's VAE against a plain PyTorch loop, side by side in one process.

Both train the same network (lit_gen's own `nets`, same init seed) with the same likelihood, dequantisation, loss,
batch size 128, Adam(lr=1e-3) and number of epochs, from the same tensors in memory. lit_gen runs with its default
settings: the train metrics logged as epoch means (CSV), Lightning's progress bar and profiler, and the callbacks
of `default_callbacks()` (metrics.json). Validation is off for both (the plain loop has none), so the figure is
training steps per second; so is checkpointing, whose files the plain loop would not write either (`lit-gen fit`
also adds checkpoint, image and image-quality callbacks, which do their work at validation). Each configuration is
timed `--repeats` times as pairs (plain, lit_gen), alternating which of a pair runs first.

The verdict (decided before it was measured): each pair gives a ratio lit_gen/plain, so a slow spell of the machine
that hits both sides of a pair cancels; the figure is the median ratio over 11 pairs, printed with a distribution-free
interval for that median (the 3rd and 9th of the 11 sorted ratios, ≈ 93% coverage). The target is the conv 28×28
VAE's: median ratio ≥ 0.97. The digits MLP's figure is printed
without a target: its 2 ms step mostly measures Lightning's fixed cost per step, which no real model feels.

The plain loop runs as it would in a program that never imported Lightning: `import lightning` sets
PYTORCH_NVML_BASED_CUDA_CHECK=1 for the whole process, which on a machine with a CUDA build of torch but no NVIDIA
driver makes every `optimizer.step()` try (and fail) to load libnvidia-ml, about 0.1-0.2 ms. A lit_gen user pays it;
a plain PyTorch user does not, so neither does the plain loop here.

    python benchmarks/vae_throughput.py [--epochs 20] [--conv_epochs 3] [--repeats 11] [--threads 2] [--models mlp]
"""
# ruff: noqa: E402  (the environment is read before the imports, which import lightning)

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from contextlib import contextmanager

NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"
NVML_CHECK_WITHOUT_LIGHTNING = os.environ.get(NVML_CHECK)  # read before anything imports lightning

import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from lit_gen.callbacks import default_callbacks
from lit_gen.data import DigitsDataModule, InMemoryDataModule
from lit_gen.metrics.likelihood import kl_to_standard_normal
from lit_gen.models import VAE, GaussianLikelihood


class Synthetic28(InMemoryDataModule):
    """4,096 28×28 grey images: digits enlarged to 28 pixels, with 256 levels (made here, nothing downloaded)."""

    data_shape = (1, 28, 28)
    levels = 256

    def load(self):
        digits = DigitsDataModule().load()[0] / 16.0
        images = F.interpolate(digits, size=(28, 28), mode="bilinear", align_corners=False)
        images = images.repeat(3, 1, 1, 1)[:4096]
        images = images + 0.05 * torch.randn(images.shape, generator=torch.Generator().manual_seed(0))
        return (images.clamp(0, 1) * 255).round().to(torch.uint8), None


WARMUP_STEPS = 5  # both sides are timed from the start of step 5 to the end of the last step


class StepTimer(Callback):
    """Wall time of the steady-state training loop: every hook between batches counts, start-up does not."""

    def __init__(self) -> None:
        self.batches = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.batches == WARMUP_STEPS:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.batches += 1
        self.end = time.perf_counter()

    @property
    def steps_per_second(self) -> float:
        return (self.batches - WARMUP_STEPS) / (self.end - self.start)


CONV_TARGET = 0.97  # lit_gen's steps/s over the plain loop's, conv 28×28 VAE


def build_model(network: str, data: InMemoryDataModule) -> VAE:
    torch.manual_seed(0)
    return VAE(
        data_shape=data.data_shape, levels=data.levels, latent_dim=8 if network == "mlp" else 16, network=network,
        hidden_dims=[512], base_channels=32, likelihood=GaussianLikelihood(sigma=0.1),
    )


def run_lit_gen(network: str, data: InMemoryDataModule, epochs: int) -> float:
    """Steps/s of lit_gen's VAE with its defaults."""
    model = build_model(network, data)
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as root:
        # checkpointing is off on both sides (the plain loop saves nothing): lit_gen's last.ckpt callback goes too
        callbacks = [c for c in default_callbacks() if not isinstance(c, ModelCheckpoint)]
        trainer = Trainer(
            max_epochs=epochs, default_root_dir=root, callbacks=[timer, *callbacks], limit_val_batches=0,
            enable_checkpointing=False, num_sanity_val_steps=0, enable_model_summary=False,
            logger=True,  # lightning's default logger (CSV here) — logging on, as lit_gen runs by default
        )
        trainer.fit(model, datamodule=data)
    return timer.steps_per_second


@contextmanager
def environment_without_lightning():
    """The environment variable `import lightning` changed, as it was before (see the module docstring)."""
    with_lightning = os.environ.get(NVML_CHECK)
    _set_env(NVML_CHECK, NVML_CHECK_WITHOUT_LIGHTNING)
    try:
        yield
    finally:
        _set_env(NVML_CHECK, with_lightning)


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def run_plain(network: str, data: InMemoryDataModule, epochs: int) -> float:
    with environment_without_lightning():
        return _plain_loop(network, data, epochs)


def _plain_loop(network: str, data: InMemoryDataModule, epochs: int) -> float:
    """The loop a careful PyTorch user writes by hand: same tensors, same math, nothing else."""
    model = build_model(network, data)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data.setup()
    train = data.raw_split("train")
    generator = torch.Generator().manual_seed(0)
    steps = 0
    for _ in range(epochs):
        order = torch.randperm(len(train), generator=generator)
        for begin in range(0, len(train), 128):
            if steps == WARMUP_STEPS:
                start = time.perf_counter()
            raw = train.index_select(0, order[begin : begin + 128])
            x = model.likelihood.prepare(raw)  # the same dequantisation (k + u) / levels, kept inside k's bin
            mu, log_var = model.encoder(x).chunk(2, dim=-1)
            z = mu + (0.5 * log_var).exp() * torch.randn_like(mu)
            recon = -model.likelihood.log_prob(model.decoder(z), x)
            loss = (recon + kl_to_standard_normal(mu, log_var)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
    return (steps - WARMUP_STEPS) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--conv_epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--models", nargs="+", choices=["mlp", "conv"], default=["mlp", "conv"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    cases = [("mlp", "digits 8×8, MLP 512, latent 8", DigitsDataModule(batch_size=128), args.epochs),
             ("conv", "synthetic 28×28, conv VAE, latent 16", Synthetic28(batch_size=128), args.conv_epochs)]
    cases = [case for case in cases if case[0] in args.models]
    print(f"torch {torch.__version__}, {args.threads} threads, batch 128, {args.repeats} interleaved pairs, "
          f"load average {_load()} (the machine's other work slows both sides)\n")
    print(f"{'model':<40} {'plain steps/s':>14} {'lit_gen steps/s':>16} {'ratio':>7} {'interval':>13}  target")
    for network, label, data, epochs in cases:
        plain, lit = [], []
        for repeat in range(args.repeats):
            if repeat % 2:  # alternate the order so neither side always runs on a warmer machine
                lit.append(run_lit_gen(network, data, epochs))
                plain.append(run_plain(network, data, epochs))
            else:
                plain.append(run_plain(network, data, epochs))
                lit.append(run_lit_gen(network, data, epochs))
        ratios = sorted(q / p for p, q in zip(plain, lit, strict=True))
        ratio, (low, high) = statistics.median(ratios), median_interval(ratios)
        p, q = statistics.median(plain), statistics.median(lit)
        print(f"{label:<40} {p:>14.1f} {q:>16.1f} {ratio:>6.2f}× {f'{low:.2f}–{high:.2f}':>13}  "
              f"{_verdict(network, ratio)}", flush=True)
        print(f"{'':<40} runs: plain {_runs(plain)}, lit_gen {_runs(lit)}", flush=True)
    print(f"\nload average at the end: {_load()}")


def median_interval(ordered: list[float]) -> tuple[float, float]:
    """A distribution-free interval for the median: the order statistics k and n+1-k, with k the largest whose
    coverage 1 − 2·P(Binomial(n, ½) < k) stays ≥ 90% (n = 11: the 3rd and 9th values, 93.5%)."""
    n = len(ordered)
    below = lambda k: sum(math.comb(n, i) for i in range(k)) / 2**n  # noqa: E731  P(Binomial(n, ½) < k)
    k = max((k for k in range(1, n // 2 + 1) if 1 - 2 * below(k) >= 0.90), default=None)
    if k is None:  # too few pairs for a 90% interval: the range
        return ordered[0], ordered[-1]
    return ordered[k - 1], ordered[n - k]


def _verdict(network: str, ratio: float) -> str:
    if network != "conv":
        return "none (Lightning's fixed cost per step on a 2 ms step)"
    return f"median ≥ {CONV_TARGET:.2f}×: {'met' if ratio >= CONV_TARGET else 'NOT met'}"


def _runs(values: list[float]) -> str:
    return " ".join(f"{v:.1f}" for v in values)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
