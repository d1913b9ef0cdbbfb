"""One compared model's numbers on the evaluated split, each computed here alike for every model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from lit_gen.checkpoints import resolve_checkpoint
from lit_gen.compare.entries import Entry
from lit_gen.compare.likelihood import likelihood_entries
from lit_gen.evaluation.divergences import evaluate_divergences, has_exact_density
from lit_gen.evaluation.mode_coverage import PROTOCOL_SAMPLES, evaluate_mode_coverage, mixture_of
from lit_gen.loading import load
from lit_gen.models.vae import VAE
from lit_gen.run.record import read_metrics

#: samples of the VEEGAN / PacGAN mode-coverage protocol
MODE_SAMPLES = PROTOCOL_SAMPLES


@torch.no_grad()
def evaluate(entry: Entry, datamodule, args: argparse.Namespace) -> dict[str, Any]:
    """One row: the model's numbers on `args.split`, each an Estimate, a float or a string."""
    model = load(entry.run_dir)
    entry.extra["checkpoint"] = str(resolve_checkpoint(entry.run_dir))
    entry.extra["class"] = type(model).__name__
    saved = _saved_metrics(entry.run_dir)
    row: dict[str, Any] = {}
    split = args.split
    if has_exact_density(datamodule):
        result = evaluate_divergences(model, datamodule, split, args.num_data, args.num_model_samples,
                                      args.kde_samples, args.kde_cv_samples, args.iw_samples, seed=args.seed)
        row.update(result.estimates)
        entry.extra["model_density"] = result.provenance.get("model_density")
        row["density"] = _short_density(result.provenance.get("model_density"))
        # `jsd_lower_bound` (a GAN's) is among the estimates: D at the JSD's own data points and model-side samples
        samples = result.model_samples
        mixture = mixture_of(datamodule)
        if mixture is not None:
            stats = evaluate_mode_coverage(model, datamodule, MODE_SAMPLES, seed=args.seed)
            if stats is not None:
                row.update(modes_covered=stats.modes_covered, high_quality=stats.high_quality,
                           num_modes=mixture.num_modes)
        entry.extra["samples"] = samples if samples is not None else model.sample(MODE_SAMPLES).cpu()
        entry.extra["data"] = result.data
    else:
        # a likelihood goes into a column only beside others of the same data (see compare/likelihood.py)
        likelihood = model.likelihood if isinstance(model, VAE) else None
        row.update(likelihood_entries(likelihood, saved.get(f"{split}/nll_iw")))
        for key in ("fid", "kid", "is"):
            if f"{split}/{key}" in saved:
                row[key] = saved[f"{split}/{key}"]
        torch.manual_seed(args.seed)
        entry.extra["samples"] = model.sample(64).cpu()
    return row


def _saved_metrics(run_dir: Path) -> dict[str, Any]:
    try:
        return read_metrics(run_dir)["metrics"]
    except (OSError, ValueError, KeyError):
        return {}


def _short_density(density: dict | None) -> str:
    if not density:
        return "—"
    if "bandwidth" in density:
        return f"KDE h={density['bandwidth']:.2g}"
    return f"IWAE k={density.get('importance_samples')}"

