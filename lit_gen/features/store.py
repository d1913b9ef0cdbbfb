"""A domain classifier's file: its weights and what it was trained on, read back with a check against the run's data.

The file is a plain dict (tensors, numbers, strings), so it loads with `torch.load(weights_only=True)`:

    format        FORMAT
    state_dict    the `DomainClassifier` weights
    architecture  data_shape, num_classes, base_channels, feature_dim
    trained_on    data (class name), settings (split seed, sizes...), data_shape, levels, split_sizes,
                  train_fingerprint (sha256 of the training split and its labels)
    accuracy      on the val and test splits
    feature_scale RMS of the features on the training images (the backbone divides by it)
    training      epochs, batch_size, lr, seed
    versions      lit_gen, torch, lightning, python
    created       UTC time
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lit_gen.errors import LitGenError
from lit_gen.nets.classifier import DomainClassifier

FORMAT = "lit_gen-domain-classifier/1"


@dataclass
class StoredClassifier:
    network: DomainClassifier
    info: dict[str, Any]  # everything in the file except the weights
    path: Path
    sha256: str

    def provenance(self) -> dict[str, Any]:
        trained_on = self.info["trained_on"]
        return {
            "name": "domain_classifier",
            "file": str(self.path),
            "sha256": self.sha256[:16],
            "trained_on": trained_on["data"],
            "train_fingerprint": trained_on["train_fingerprint"][:16],
            "data_shape": list(trained_on["data_shape"]),
            "levels": trained_on["levels"],
            "test_accuracy": self.info["accuracy"]["test"],
            "num_features": self.network.num_features,
            "feature_scale": self.info["feature_scale"],
            "lit_gen_version": self.info["versions"]["lit_gen"],
        }


def make_command(data_name: str, out: str | os.PathLike = "features/<name>.pt") -> str:
    return f"lit-gen features train --data {data_name} --out {out}"


def save_classifier(path: str | os.PathLike, network: DomainClassifier, info: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = json.loads(json.dumps(info))  # plain data (e.g. torch's version string is a str subclass): weights_only
    content = {"format": FORMAT, **info, "state_dict": {k: v.detach().cpu() for k, v in network.state_dict().items()}}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(content, tmp)
    tmp.replace(path)  # atomic: parallel runs that train the same classifier never see half a file
    return path


def load_classifier(path: str | os.PathLike) -> StoredClassifier:
    path = Path(path)
    if not path.is_file():
        raise LitGenError(
            f"domain classifier {path} does not exist: make it with `{make_command('<data>', path)}` "
            "(`--data` takes digits, mnist, fashion_mnist, cifar10 or a data config such as configs/data/mnist.yaml)"
        )
    raw = path.read_bytes()
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged or foreign file
        raise LitGenError(f"domain classifier {path} cannot be read ({type(error).__name__}): make it again with "
                          f"`{make_command('<data>', path)}`") from error
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise LitGenError(f"{path} is not a lit_gen domain classifier (written by `lit-gen features train`)")
    info = {k: v for k, v in content.items() if k != "state_dict"}
    arch = info["architecture"]
    network = DomainClassifier(arch["data_shape"], arch["num_classes"], arch["base_channels"], arch["feature_dim"])
    network.load_state_dict(content["state_dict"])
    network.eval().requires_grad_(False)
    return StoredClassifier(network, info, path, hashlib.sha256(raw).hexdigest())


def check_matches_data(stored: StoredClassifier, data_name: str, data_shape: tuple[int, ...],
                       levels: int | None) -> list[str]:
    """Refuse a classifier made for another image shape; return warnings for softer mismatches."""
    trained_on = stored.info["trained_on"]
    if tuple(trained_on["data_shape"]) != tuple(data_shape):
        raise LitGenError(
            f"domain classifier {stored.path} was trained on {trained_on['data']} images of shape "
            f"{tuple(trained_on['data_shape'])}, but this run's data ({data_name}) has shape {tuple(data_shape)}: "
            f"make one for this data with `{make_command('<this data set or its config>')}` and set "
            "`image_quality.domain_classifier` to it (or leave it at `auto`)"
        )
    warnings = []
    if trained_on["data"] != data_name or trained_on["levels"] != levels:
        warnings.append(
            f"domain classifier {stored.path} was trained on {trained_on['data']} ({trained_on['levels']} levels), "
            f"this run's data is {data_name} ({levels} levels): its FID/KID/IS are not comparable with numbers "
            f"computed with a classifier trained on {data_name}"
        )
    return warnings


def data_fingerprint(train: torch.Tensor, labels: torch.Tensor) -> str:
    """sha256 of a training split and its labels: which exact examples a classifier was trained on."""
    digest = hashlib.sha256()
    for tensor in (train, labels):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()
