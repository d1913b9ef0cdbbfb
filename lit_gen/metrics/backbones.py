"""Feature backbones for FID, KID and IS, and the one input convention they share.

Input convention: float images (N, C, H, W) with intensities in [0, 1], black 0 and white 1 — what every
lit_gen model's `sample()` returns for images. Real data enters through `real_intensities`: level k of `levels`
becomes k / (levels − 1). Values outside [0, 1] (a Gaussian decoder's mean is unbounded) are clipped, as
writing the image to a PNG would.

A backbone maps such images to `(features, logits)`: features for FID and KID, class logits for IS.
- `DomainBackbone`: lit_gen's `DomainClassifier`, trained on the data set's labels (`lit-gen features train`).
- `InceptionBackbone`: torch-fidelity's InceptionV3 (the published FID/KID/IS convention), built the way
  torchmetrics' `FrechetInceptionDistance(feature=2048, normalize=True, antialias=False,
  feature_extractor_weights_path=...)` builds it: grey images repeat to 3 channels, intensities become 8-bit
  values (rounded, as a saved PNG holds them), and the TensorFlow-compatible resize to 299×299 (no antialias)
  is applied; features are the 2,048 pool features, logits the 1,008 `logits_unbiased`. It never downloads
  unless asked to: missing weights are a `LitGenError` naming the file and the folder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lit_gen.errors import LitGenError

#: torch-fidelity's InceptionV3 weights (converted from TensorFlow's 2015-12-05 release), as torch.hub names them
INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_WEIGHTS_FILE}"


def real_intensities(raw: Tensor, levels: int) -> Tensor:
    """Raw grey levels 0 … levels − 1 → intensities in [0, 1], the backbones' input convention."""
    return raw.float() / (levels - 1)


class Backbone(nn.Module):
    """Images in the input convention → (features (N, num_features), logits (N, classes)), both float64."""

    num_features: int

    def provenance(self) -> dict[str, Any]:
        raise NotImplementedError


class DomainBackbone(Backbone):
    def __init__(self, stored) -> None:  # a features.store.StoredClassifier
        super().__init__()
        self.network = stored.network
        self.num_features = stored.network.num_features
        self.scale = stored.info["feature_scale"]  # features of RMS 1 on the training images, like Inception's
        self._provenance = stored.provenance()

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        features = self.network.features(images.float().clamp(0, 1))
        return features.double() / self.scale, self.network.head(features).double()

    def provenance(self) -> dict[str, Any]:
        return dict(self._provenance)


def inception_weights(configured: str | os.PathLike | None, allow_download: bool = False) -> Path | None:
    """The weights file to load: the configured one, else torch.hub's cached copy. Checked before anything could
    download; `None` only when `allow_download` lets torch-fidelity fetch it into the torch.hub cache."""
    if configured:
        path = Path(configured).expanduser()
        if path.is_dir():
            path = path / INCEPTION_WEIGHTS_FILE
        if not path.is_file():
            raise LitGenError(
                f"the Inception weights file {path} does not exist: place torch-fidelity's {INCEPTION_WEIGHTS_FILE} "
                f"there (from {INCEPTION_WEIGHTS_URL}, on a machine with internet), or fix "
                "`image_quality.inception_weights`"
            )
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE
    if cached.is_file():
        return cached
    if allow_download:
        return None
    raise LitGenError(
        f"the Inception weights are not on this machine: place torch-fidelity's {INCEPTION_WEIGHTS_FILE} in "
        f"{cached.parent} (that is $TORCH_HOME/hub/checkpoints; download it from {INCEPTION_WEIGHTS_URL} on a machine "
        "with internet), or set `image_quality.inception_weights` to where the file is, or set "
        "`image_quality.allow_download: true` on a machine with internet; "
        "`image_quality.backbone: domain` needs no download"
    )


class InceptionBackbone(Backbone):
    num_features = 2048

    def __init__(self, weights: str | os.PathLike | None = None, allow_download: bool = False) -> None:
        super().__init__()
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
            from torchmetrics.image.fid import NoTrainInceptionV3
        except ImportError as error:
            raise LitGenError(
                "the Inception backbone needs torch-fidelity: `pip install 'lit_gen[inception]'` (or "
                "`pip install torch-fidelity`), or use `image_quality.backbone: domain`"
            ) from error
        path = inception_weights(weights, allow_download)
        self.network = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048", "logits_unbiased"],
                                          feature_extractor_weights_path=str(path) if path else None, antialias=False)
        # torch-fidelity's own forward: every requested feature from one pass, resized like TensorFlow 1.x
        # (torchmetrics' antialias=False path is a copy of it)
        self._forward = FeatureExtractorInceptionV3.forward
        path = path or Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE  # where it downloaded
        self._provenance = {"name": "inception_v3", "implementation": "torch-fidelity via torchmetrics",
                            "weights": str(path), "sha256": _sha256(path)[:16], "features": "pool3 (2048)",
                            "logits": "logits_unbiased (1008)", "resize": "bilinear like TensorFlow 1.x, no antialias",
                            "num_features": 2048}

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        x = images.float().clamp(0, 1)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)  # grey → RGB, as torchvision's Grayscale(3) would
        x = (x * 255).round().to(torch.uint8)
        features, logits = self._forward(self.network, x)
        return features.double(), logits.double()

    def provenance(self) -> dict[str, Any]:
        return dict(self._provenance)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
