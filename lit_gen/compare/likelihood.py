"""Which models' likelihoods `lit-gen compare` may put side by side, on image data.

A run's `nll_iw` means different things by decoder: a dequantised Gaussian's is a density on [0, 1]^D, a
grey-target Bernoulli's a cross-entropy against grey values (no density of any data), a binarised Bernoulli's a
code length of binary images drawn from the data (other data). Their numbers in nats cannot share a column.
What can: bits per dimension of the same discrete images, which a dequantised likelihood bounds (its `nll_iw`
plus the offset D·log(levels), over D·log 2). Every other `nll_iw` is kept in compare.json and shown in a note
under the table that says why it is not in the column.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from lit_gen.metrics.likelihood import bits_per_dim
from lit_gen.models.likelihoods import BernoulliLikelihood, Likelihood


def likelihood_entries(likelihood: Likelihood | None, nll_iw: float | None) -> dict[str, Any]:
    """The row entries for one model's saved `nll_iw` (nats per example):

    - `nll_iw`: the number as the run logged it (for compare.json);
    - `bpd`: bits per dimension of the data set's discrete images, only where the likelihood bounds them;
    - `nll_iw_continuous`: on continuous data, where every Gaussian `nll_iw` is a density on ℝ^D;
    - `likelihood_note`: why an `nll_iw` is in neither column.
    """
    if likelihood is None or nll_iw is None:
        return {}
    entries: dict[str, Any] = {"nll_iw": nll_iw}
    if likelihood.levels is None:
        entries["nll_iw_continuous"] = nll_iw
        return entries
    name = type(likelihood).__name__
    offset = likelihood.discrete_nats_offset()
    if isinstance(likelihood, BernoulliLikelihood):
        if likelihood.binarize:
            bpd = nll_iw / (likelihood.num_dims * math.log(2))
            entries["likelihood_note"] = (
                f"{name}(binarize=true): {bpd:.4g} bits per dimension of binarised images (each pixel drawn "
                f"0 or 1 with its intensity), other data than the {likelihood.levels}-level images: not comparable"
            )
        else:
            entries["likelihood_note"] = (
                f"{name} on grey targets: nll_iw = {nll_iw:.4g} nats is a cross-entropy against grey values, "
                "not a probability of any data, so it has no bits per dimension"
            )
    elif offset is None:
        entries["likelihood_note"] = (
            f"{name} without dequantisation: nll_iw = {nll_iw:.4g} nats is a density at the points k/(levels − 1), "
            f"not a bound on the probability of the {likelihood.levels}-level images, so it has no bits per dimension"
        )
    else:
        entries["bpd"] = float(bits_per_dim(torch.tensor(nll_iw, dtype=torch.float64), likelihood.num_dims, offset))
    return entries


def bpd_explanation(levels: int, split: str) -> str:
    """The sentence under a table with a `bpd` column: what the number is, and what it is not."""
    return (f"bpd: bits per dimension of the {levels}-level {split} images from each run's metrics.json, "
            f"(nll_iw + D·log {levels}) / (D·log 2) for a density on dequantised pixels, nll_iw / (D·log 2) for a "
            "mass function over the levels (discretized logistic, binarised Bernoulli): an upper bound in expectation "
            "on the model's code length for them (the IWAE gap, plus the dequantisation gap for a density), not the "
            "code length itself")
