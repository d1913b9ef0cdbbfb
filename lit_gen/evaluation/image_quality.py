"""FID, KID and IS of a model's samples against real images: plain functions of a backbone, a model and its data.

N = min(`num_samples`, size of the split) generated images are compared with the first N images of the evaluated
split. Scored: `fid`, `kid`, `is` of the model's samples — for a model that can encode (a VAE) those of its prior
N(0, I) — and, for a model that can encode, `fid_gmm`, `kid_gmm`, `is_gmm` of codes drawn from a Gaussian mixture
fitted to its aggregate posterior (`lit_gen.samplers`). Both sides reach the backbone on one scale: real level k as
k / (levels − 1), samples as the model's `sample`/`decode` give them (a dequantised Gaussian VAE maps its means
there, `Likelihood.to_intensities`).

Evaluation draws from its own seeded RNG and restores the caller's afterwards: numbers are reproducible, and
training follows the same random path whether or not they are computed. Under DDP each rank passes its share of
the images (`rank`, `world_size`) and torchmetrics reduces the shares.

The ImageQuality callback (`lit_gen/callbacks/image_quality.py`) calls these at validation and test.
`evaluate_real_split` scores one real split against another the same way: the floor a model's FID is read against.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from lit_gen.errors import LitGenError
from lit_gen.features.auto import find_or_train
from lit_gen.features.store import check_matches_data, load_classifier
from lit_gen.metrics.backbones import Backbone, DomainBackbone, InceptionBackbone, real_intensities
from lit_gen.metrics.fid import inception_score, kid_spread, kid_subset_size, scores, single_threaded
from lit_gen.models.capabilities import Encodes, Samples
from lit_gen.samplers import AggregatePosteriorSampler, PriorSampler

#: how real images reach every backbone (see metrics/backbones.py)
INPUT_CONVENTION = "intensities in [0, 1], clipped; real level k -> k / (levels - 1)"


# --- what a data set offers (what a model offers: lit_gen.models.capabilities) ---------------------------

@runtime_checkable
class SplitData(Protocol):
    """A DataModule whose raw splits can be read whole."""

    data_shape: tuple[int, ...]
    levels: int | None

    def raw_split(self, split: str) -> Tensor: ...


def holds_images(datamodule: object) -> bool:
    return isinstance(datamodule, SplitData) and datamodule.levels is not None and len(datamodule.data_shape) == 3


# --- settings and the backbone ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """num_samples: N; kid_subset_size, kid_subsets: KID's subsets (the size is capped at N/2, see
    `metrics.fid.kid_subset_size`); is_splits: IS splits; gmm_components, gmm_fit_examples: the aggregate-posterior
    mixture; batch_size: images generated and featurised at once; seed: the evaluation's RNG (offset by the rank)."""

    num_samples: int = 1000
    kid_subset_size: int = 1000
    kid_subsets: int = 100
    is_splits: int = 1
    gmm_components: int = 10
    gmm_fit_examples: int = 10_000
    batch_size: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("num_samples", "kid_subset_size"):
            if getattr(self, name) < 2:
                raise ValueError(f"image_quality.{name}={getattr(self, name)} must be at least 2")
        for name in ("kid_subsets", "is_splits", "batch_size", "gmm_components", "gmm_fit_examples"):
            if getattr(self, name) < 1:
                raise ValueError(f"image_quality.{name}={getattr(self, name)} must be at least 1")


def load_backbone(kind: str, datamodule, domain_classifier: str = "auto", inception_weights: str | None = None,
                  allow_download: bool = False, may_train: bool = True,
                  log: Callable[[str], Any] = print, warn: Callable[[str], Any] = warnings.warn) -> Backbone:
    """`inception` (torch-fidelity's InceptionV3) or `domain` (the classifier `domain_classifier` names; `auto`:
    the one for exactly this training split, shipped, cached, or trained now if `may_train`)."""
    if kind == "inception":
        return InceptionBackbone(inception_weights, allow_download)
    path = domain_classifier
    if path == "auto":
        path = find_or_train(datamodule, may_train=may_train, log=log)
    stored = load_classifier(Path(path))
    for warning in check_matches_data(stored, type(datamodule).__name__, tuple(datamodule.data_shape),
                                      datamodule.levels):
        warn(warning)
    accuracy = stored.info["accuracy"]["test"]
    if not accuracy >= 0.9:
        warn(f"domain classifier {stored.path} has a test accuracy of {accuracy:.3f}: features that separate the "
             "classes this poorly make FID, KID and IS say little")
    return DomainBackbone(stored)


# --- the evaluation --------------------------------------------------------------------------------------

@dataclass
class ImageQualityResult:
    metrics: dict[str, float]  # `fid`, `kid`, `is` and, for a model that can encode, `fid_gmm`, `kid_gmm`, `is_gmm`
    provenance: dict[str, Any]  # backbone, reference, samplers, KID's subsets and spreads: what makes them comparable


def num_evaluated(split_size: int, settings: Settings) -> int:
    return min(settings.num_samples, split_size)


def _samplers(model, datamodule, settings: Settings) -> dict[str, tuple[Callable[[int], Tensor], dict[str, Any]]]:
    """The samplers scored, by metric-name suffix: `""` the model's own samples, `"_gmm"` the mixture's."""
    if isinstance(model, Encodes):
        prior = PriorSampler(model)  # what a VAE's own sample() does, named as such
        torch.manual_seed(settings.seed)  # the same mixture on every rank (prepare() may draw dequantisation noise)
        gmm = AggregatePosteriorSampler.fit(model, datamodule.raw_split("train"), settings.gmm_components,
                                            settings.gmm_fit_examples, settings.batch_size, settings.seed)
        return {"": (prior.sample, prior.describe()), "_gmm": (gmm.sample, gmm.describe())}
    if isinstance(model, Samples):
        return {"": (model.sample, {"sampler": f"{type(model).__name__}.sample"})}
    raise LitGenError(f"{type(model).__name__} has no sample(num): FID, KID and IS need a model that samples")


@torch.no_grad()
def evaluate_image_quality(backbone: Backbone, model, datamodule, split: str, settings: Settings = Settings(),
                           rank: int = 0, world_size: int = 1, real_cache: dict | None = None) -> ImageQualityResult:
    """FID, KID and IS of `model`'s samples against the first N images of `split` (this rank's share of them).
    `real_cache`, a dict kept by the caller, holds the real images' features between calls (they never change)."""
    raw = datamodule.raw_split(split)
    n = num_evaluated(len(raw), settings)
    if n < max(2, world_size):
        raise LitGenError(f"image quality: the {split} split holds {len(raw)} images; FID/KID/IS need at least 2 "
                          "(and one per process): use a larger split")
    device = model.device
    backbone.to(device)
    mine = range(rank, n, world_size)  # this rank's shard; torchmetrics reduces the shards in compute()
    real, real_logits = _real_features(backbone, raw, datamodule.levels, split, mine, device, settings.batch_size,
                                       real_cache if real_cache is not None else {})
    subset_size = kid_subset_size(settings.kid_subset_size, n)
    metrics: dict[str, float] = {}
    kid_std: dict[str, float | None] = {}
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        scored = _samplers(model, datamodule, settings)
        torch.manual_seed(settings.seed * 100_003 + rank)  # each rank draws its own share of the samples
        for suffix, (sample, _) in scored.items():
            fake, fake_logits = _features(backbone, (sample(k) for k in _chunks(len(mine), settings.batch_size)))
            with single_threaded(device):
                values = scores(real, fake, fake_logits, subset_size, settings.kid_subsets, settings.is_splits)
            metrics.update({f"{name}{suffix}": float(values[name]) for name in ("fid", "kid", "is")})
            kid_std[f"kid{suffix}"] = kid_spread(float(values["kid_std"]), subset_size, n, settings.kid_subsets)
        with single_threaded(device):
            reference_is = float(inception_score(real_logits, settings.is_splits))
    provenance = {
        "backbone": backbone.provenance(),
        "reference": {"split": split, "num_images": n, "split_size": len(raw), "is": reference_is},
        "num_generated": n,
        "samplers": {f"fid{s}, kid{s}, is{s}": describe for s, (_, describe) in scored.items()},
        "kid": {"subset_size": subset_size, "subsets": settings.kid_subsets, "std": kid_std,
                "std_is": "the spread of KID over the subsets (at subset_size N/2 the delete-half jackknife's "
                          "standard error of KID on N images); null where no spread can be estimated"},
        "is_splits": settings.is_splits,
        "input": INPUT_CONVENTION,
    }
    return ImageQualityResult(metrics, provenance)


class FirstImagesOf:
    """A stand-in model whose samples are the images of a real split, in order: scored by `evaluate_image_quality`,
    they get exactly the backbone, N, scale and KID subsets a model's samples get."""

    def __init__(self, raw: Tensor, levels: int, device: str | torch.device = "cpu") -> None:
        self.images, self.device, self._drawn = real_intensities(raw, levels), torch.device(device), 0

    def sample(self, num: int) -> Tensor:
        batch = self.images[self._drawn : self._drawn + num]
        self._drawn += num
        return batch.to(self.device)


def evaluate_real_split(backbone: Backbone, datamodule, split: str = "test", reference: str = "train",
                        settings: Settings = Settings(), device: str | torch.device = "cpu") -> ImageQualityResult:
    """FID, KID and IS of the first N images of `reference` against the first N of `split`, N as for a model's
    (min(`num_samples`, size of `split`)): the floor, what a model drawing fresh images of the data set would score
    on `split`, within the noise of N images. One process (no DDP sharding)."""
    raw, n = datamodule.raw_split(reference), num_evaluated(len(datamodule.raw_split(split)), settings)
    if len(raw) < n:
        raise LitGenError(f"image quality floor: the {reference} split holds {len(raw)} images, fewer than the {n} of "
                          f"the {split} split it is compared with: lower `num_samples` to {len(raw)}")
    result = evaluate_image_quality(backbone, FirstImagesOf(raw, datamodule.levels, device), datamodule, split,
                                    settings)
    result.provenance["samplers"] = {"fid, kid, is": {"sampler": f"the first {n} images of the {reference} split"}}
    return result


def _real_features(backbone: Backbone, raw: Tensor, levels: int, split: str, mine: range, device, batch_size: int,
                   cache: dict) -> tuple[Tensor, Tensor]:
    key = (id(backbone), split, raw.data_ptr(), len(raw), mine.start, mine.stop, mine.step, str(device))
    if key not in cache:
        images = real_intensities(raw[list(mine)], levels)
        starts = range(0, len(images), batch_size)
        cache[key] = _features(backbone, (images[i : i + batch_size].to(device) for i in starts))
    return cache[key]


def _chunks(count: int, batch_size: int) -> Iterable[int]:
    return (min(batch_size, count - start) for start in range(0, count, batch_size))


def _features(backbone: Backbone, batches: Iterable[Tensor]) -> tuple[Tensor, Tensor]:
    """Features and logits of every image of an iterable of image batches."""
    pairs = [backbone(images) for images in batches]
    return torch.cat([f for f, _ in pairs]), torch.cat([logit for _, logit in pairs])
