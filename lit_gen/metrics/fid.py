"""FID, KID and IS through torchmetrics, on features a backbone computed once (see `metrics/backbones.py`).

torchmetrics' metrics run their feature network on every `update`. Here its slot holds `Precomputed`, the
identity: a backbone turns each image into features once and the same features feed FID, KID and IS (and the
real images' features serve every sampler and, being fixed, every evaluation). So the metrics keep no network
weights at all, and nothing of a backbone can reach a model checkpoint through them.

Under DDP, torchmetrics reduces the states across ranks in `compute()`: each rank passes its shard.
"""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from lit_gen.errors import LitGenError


@contextmanager
def single_threaded(device: torch.device):
    """One CPU thread for the metric arithmetic: KID and IS are hundreds of small float64 ops, where a second
    thread mostly waits, badly so on a shared machine (KID of 297 × 64 features, 2-core machine with one other busy
    process: 0.25 s on one thread, 2.1 s on two). Nothing changes on a GPU."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Precomputed(nn.Module):
    """The feature extractor of a torchmetrics image metric, for inputs that already are features."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


def frechet_distance(real: Tensor, fake: Tensor) -> Tensor:
    """FID = ‖μ_r − μ_f‖² + tr(Σ_r + Σ_f − 2 (Σ_r Σ_f)^½) between the features' Gaussians, in float64."""
    metric = FrechetInceptionDistance(feature=Precomputed(real.shape[1])).to(real.device)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return metric.compute()


def kid_subset_size(requested: int, num_samples: int) -> int:
    """KID's subset size: the requested one, but at most half the samples (and at least 2).

    KID is an unbiased MMD², so its mean over subsets is unbiased at any subset size: a smaller subset costs no
    bias, only per-subset variance that the mean over subsets largely takes back. The spread over subsets is what
    the size decides. With every subset the whole set (size N), each subset is a permutation of the same images
    and the spread is 0, which says nothing. With size N/2 the spread is the delete-half jackknife's standard error
    of KID on N images (the delete-d jackknife's factor (N − d)/d is 1 at d = N/2; Shao & Wu 1989): an
    uncertainty of the number reported. Below N/2 (large N) it is the spread of KID on `requested` images."""
    if num_samples < 2:
        raise LitGenError(f"KID needs at least 2 samples per set, got {num_samples}: raise `image_quality.num_samples`")
    return max(2, min(requested, num_samples // 2))


def kid_spread(std: float, subset_size: int, num_samples: int, subsets: int) -> float | None:
    """KID's spread over subsets, or None where it estimates nothing: one subset, or every subset all N samples."""
    if subsets < 2 or subset_size >= num_samples or not math.isfinite(std):
        return None
    return std


def kernel_distance(real: Tensor, fake: Tensor, subset_size: int, subsets: int = 100) -> tuple[Tensor, Tensor]:
    """KID: the unbiased MMD² with the kernel (x·y / d + 1)³, mean and std over `subsets` random subsets."""
    with warnings.catch_warnings():  # "will save all extracted features in buffer": features are what it is for
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(feature=Precomputed(real.shape[1]), subsets=subsets,
                                         subset_size=subset_size).to(real.device)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return metric.compute()


def inception_score(logits: Tensor, splits: int = 1) -> Tensor:
    """IS = exp E_x KL(p(y|x) ‖ p(y)) from class logits, averaged over `splits` (1 ≤ IS ≤ number of classes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        metric = InceptionScore(feature=Precomputed(logits.shape[1]), splits=splits).to(logits.device)
        metric.update(logits.double())
        mean, _ = metric.compute()  # (its std over one split is NaN, with a warning: not used)
    return mean


def scores(real: Tensor, fake: Tensor, fake_logits: Tensor, subset_size: int, subsets: int = 100,
           is_splits: int = 1) -> dict[str, Tensor]:
    """`fid`, `kid` (the mean over subsets), `kid_std` (their spread; `kid_spread` says when it means something)
    and `is` of generated features against real ones."""
    kid, kid_std = kernel_distance(real, fake, subset_size, subsets)
    return {"fid": frechet_distance(real, fake), "kid": kid, "kid_std": kid_std,
            "is": inception_score(fake_logits, is_splits)}


__all__ = ["Precomputed", "frechet_distance", "inception_score", "kernel_distance", "kid_spread", "kid_subset_size",
           "scores", "single_threaded"]
