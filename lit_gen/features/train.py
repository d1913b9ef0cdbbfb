"""Training a `DomainClassifier` on a labelled lit_gen DataModule (a plain loop: a few epochs of a small net).

The classifier sees what every image-quality backbone sees (see `metrics/backbones.py`): intensities in [0, 1],
level k at k / (levels − 1). During training each pixel also moves by up to half a level at random, so that
generated images, whose values are continuous (and a Gaussian VAE's mean sits near (k + ½) / levels), land
where the classifier has seen data.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from typing import Any

import torch
from torch import Tensor, nn

from lit_gen.data.base import InMemoryDataModule
from lit_gen.errors import LitGenError
from lit_gen.features.store import data_fingerprint
from lit_gen.metrics.backbones import real_intensities
from lit_gen.nets.classifier import DomainClassifier
from lit_gen.provenance import versions

#: optimizer steps to aim for when `epochs` is not given (capped at 30 epochs: ~98% test accuracy on digits)
DEFAULT_STEPS = 2000


def labelled_splits(datamodule: InMemoryDataModule) -> dict[str, tuple[Tensor, Tensor]]:
    """(examples, labels) of train / val / test, or a LitGenError for a set without labels."""
    datamodule.setup()
    splits = datamodule.splits
    name = type(datamodule).__name__
    if splits.train_labels is None:
        raise LitGenError(
            f"{name} has no labels, so lit_gen cannot train a domain classifier for it: only the Inception backbone "
            "applies (set `image_quality.backbone: inception`, with torch-fidelity's weights file; see the README "
            "section 'Image quality: FID, KID, IS'), or `image_quality.backbone: none`"
        )
    if datamodule.levels is None or len(datamodule.data_shape) != 3:
        raise LitGenError(f"{name} does not hold images (shape {datamodule.data_shape}): FID, KID and IS need images")
    return {split: (getattr(splits, split), getattr(splits, f"{split}_labels")) for split in ("train", "val", "test")}


@torch.no_grad()
def accuracy(network: nn.Module, images: Tensor, labels: Tensor, levels: int, batch_size: int = 1000) -> float:
    if len(images) == 0:
        return float("nan")
    network.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        x = real_intensities(images[start : start + batch_size], levels)
        correct += int((network(x).argmax(1) == labels[start : start + batch_size]).sum())
    return correct / len(images)


@torch.no_grad()
def feature_scale(network: DomainClassifier, images: Tensor, levels: int, batch_size: int = 1000) -> float:
    """RMS of the feature values on the training images. Features are divided by it, so that they have the
    magnitude of Inception's pool features (≈ 1) whatever the classifier: KID's kernel (x·y/d + 1)³ then weighs
    them as it weighs Inception's, and FIDs of classifiers trained with other seeds are of the same size."""
    squares = sum(float(network.features(real_intensities(images[i : i + batch_size], levels)).square().sum())
                  for i in range(0, len(images), batch_size))
    return (squares / (len(images) * network.num_features)) ** 0.5


def train_classifier(
    datamodule: InMemoryDataModule,
    epochs: int | None = None,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    base_channels: int = 32,
    feature_dim: int = 64,
    log=print,
) -> tuple[DomainClassifier, dict[str, Any]]:
    """A classifier of the set's labels and the `info` its file stores (see `features/store.py`)."""
    splits = labelled_splits(datamodule)
    images, labels = splits["train"]
    levels, shape = datamodule.levels, tuple(datamodule.data_shape)
    num_classes = int(max(int(splits[s][1].max()) for s in splits if len(splits[s][1])) + 1)
    steps_per_epoch = math.ceil(len(images) / batch_size)
    epochs = epochs or min(30, max(2, math.ceil(DEFAULT_STEPS / steps_per_epoch)))
    torch.manual_seed(seed)
    network = DomainClassifier(shape, num_classes, base_channels, feature_dim)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    noise = torch.Generator().manual_seed(seed)
    start = time.monotonic()
    for epoch in range(epochs):
        network.train()
        order = torch.randperm(len(images), generator=noise)
        for first in range(0, len(images), batch_size):
            batch = order[first : first + batch_size]
            jitter = (torch.rand((len(batch), *shape), generator=noise) - 0.5) / (levels - 1)
            x = (real_intensities(images[batch], levels) + jitter).clamp(0, 1)
            loss = nn.functional.cross_entropy(network(x), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        val_images, val_labels = splits["val"]
        log(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}, "
            f"val accuracy {accuracy(network, val_images, val_labels, levels):.4f}")
    network.eval().requires_grad_(False)
    info = {
        "feature_scale": feature_scale(network, images, levels),
        "architecture": {"data_shape": list(shape), "num_classes": num_classes, "base_channels": base_channels,
                         "feature_dim": feature_dim},
        "trained_on": {
            "data": type(datamodule).__name__,
            "settings": {k: getattr(datamodule, k) for k in ("split_seed", "val_size", "test_size")
                         if hasattr(datamodule, k)},
            "data_shape": list(shape),
            "levels": levels,
            "split_sizes": {split: len(splits[split][0]) for split in splits},
            "train_fingerprint": data_fingerprint(images, labels),
        },
        "accuracy": {split: accuracy(network, *splits[split], levels) for split in ("val", "test")},
        "training": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
                     "seconds": round(time.monotonic() - start, 1)},
        "versions": versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return network, info
