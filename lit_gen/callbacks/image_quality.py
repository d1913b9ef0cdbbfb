"""FID, KID and IS of generated images against held-out real ones, with the provenance of every number.

At validation (every `every_n_epochs` epochs while fitting; always in a validate run, such as the one `lit-gen fit`
ends with) and at test, N = min(`num_samples`, size of the split) generated images are compared with the first N
images of the evaluated split (val or test). Logged, through `pl_module.log` (so metrics.csv and metrics.json get
them): `<split>/fid`, `<split>/kid`, `<split>/is` of `model.sample(n)` — for a VAE that is the prior N(0, I) —
and for a VAE `<split>/fid_gmm`, `<split>/kid_gmm`, `<split>/is_gmm` of the aggregate-posterior mixture
(`lit_gen.samplers`). The backbone, the counts and the reference split go to metrics.json's
`meta.image_quality.<split>`, to the experiment logger's hyperparameters, and to the console.

The backbone and the metrics live here, never in the LightningModule, so no backbone weight enters a model
checkpoint. Evaluation draws from its own seeded RNG (restored afterwards): numbers are reproducible, and
training follows the same random path whether or not they are computed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_warn
from torch import Tensor

from lit_gen.callbacks.metrics_json import MetricsJson, record_meta
from lit_gen.callbacks.schedule import validation_due
from lit_gen.features.auto import find_or_train
from lit_gen.features.store import check_matches_data, load_classifier
from lit_gen.metrics.backbones import Backbone, DomainBackbone, InceptionBackbone, real_intensities
from lit_gen.metrics.fid import inception_score, kid_subset_size, scores, single_threaded
from lit_gen.samplers import AggregatePosteriorSampler, PriorSampler

#: how real images reach every backbone (see metrics/backbones.py)
INPUT_CONVENTION = "intensities in [0, 1], clipped; real level k -> k / (levels - 1)"


class ImageQuality(Callback):
    """
    Args:
        backbone: `domain` (a classifier trained on the data set's labels: works offline, fits 8×8 digits),
            `inception` (torch-fidelity's InceptionV3, the published convention) or `none` (off).
        domain_classifier: `auto` (lit_gen's classifier for exactly this training split: shipped, cached, or
            trained now, a few seconds for digits) or the file `lit-gen features train` wrote.
        inception_weights: torch-fidelity's weights file (or its folder); default
            `$TORCH_HOME/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth`.
        allow_download: let torch-fidelity download missing Inception weights (never done otherwise).
        every_n_epochs: also evaluate every n epochs while fitting (0: only in validate and test runs).
        num_samples: N, generated and real images per evaluation (capped by the split's size).
        kid_subset_size, kid_subsets: KID's subsets (the size is clamped to N).
        is_splits: IS splits (the published protocol: 10 splits of 5,000).
        gmm_components, gmm_fit_examples: the VAE's aggregate-posterior mixture.
        batch_size: images generated and featurised at once.
        seed: seed of the evaluation's own RNG (samples, KID subsets), offset by the DDP rank.
    """

    def __init__(
        self,
        backbone: Literal["domain", "inception", "none"] = "domain",
        domain_classifier: str = "auto",
        inception_weights: str | None = None,
        allow_download: bool = False,
        every_n_epochs: int = 0,
        num_samples: int = 1000,
        kid_subset_size: int = 1000,
        kid_subsets: int = 100,
        is_splits: int = 1,
        gmm_components: int = 10,
        gmm_fit_examples: int = 10_000,
        batch_size: int = 500,
        seed: int = 0,
    ) -> None:
        super().__init__()
        for name, value in [("num_samples", num_samples), ("kid_subset_size", kid_subset_size)]:
            if value < 2:
                raise ValueError(f"image_quality.{name}={value} must be at least 2")
        for name, value in [("kid_subsets", kid_subsets), ("is_splits", is_splits), ("batch_size", batch_size),
                            ("gmm_components", gmm_components), ("gmm_fit_examples", gmm_fit_examples)]:
            if value < 1:
                raise ValueError(f"image_quality.{name}={value} must be at least 1")
        self.backbone, self.domain_classifier = backbone, domain_classifier
        self.inception_weights, self.allow_download = inception_weights, allow_download
        self.every_n_epochs, self.num_samples = every_n_epochs, num_samples
        self.batch_size, self.seed = batch_size, seed
        self.kid_subset_size, self.kid_subsets, self.is_splits = kid_subset_size, kid_subsets, is_splits
        self.gmm_components, self.gmm_fit_examples = gmm_components, gmm_fit_examples
        self._backbone: Backbone | None = None
        self._real: dict[tuple, tuple[Tensor, Tensor]] = {}  # real features: fixed backbone, fixed images
        self._provenance: dict[str, dict[str, Any]] = {}

    # --- setup: find the backbone before any training, so a missing file stops the run at once ------------

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        datamodule = trainer.datamodule
        if self.backbone == "none" or self._backbone is not None or not _holds_images(datamodule):
            return
        self._backbone = self._build(trainer, datamodule)
        summary = {"backbone": self._backbone.provenance(), "num_samples": self.num_samples,
                   "every_n_epochs": self.every_n_epochs, "input": INPUT_CONVENTION}
        backbone = summary["backbone"]  # on screen one line; the whole provenance goes to metrics.json
        rank_zero_info(f"image quality: FID, KID, IS every {self.every_n_epochs} epochs, {backbone['name']} backbone"
                       + (f" of {backbone['trained_on']}" if backbone.get("trained_on") else ""))
        for logger in trainer.loggers:
            logger.log_hyperparams({"image_quality": summary})

    def _build(self, trainer: Trainer, datamodule) -> Backbone:
        # rank 0 goes first: it may train and cache a classifier (or download Inception) that the others then read
        first = trainer.is_global_zero
        if not first:
            trainer.strategy.barrier("image_quality_backbone")
        try:
            with torch.random.fork_rng(devices=[]):  # building a network draws weights: leave training's RNG alone
                return self._load_backbone(datamodule, first)
        finally:
            if first:
                trainer.strategy.barrier("image_quality_backbone")

    def _load_backbone(self, datamodule, first: bool) -> Backbone:
        if self.backbone == "inception":
            return InceptionBackbone(self.inception_weights, self.allow_download and first)
        path = self.domain_classifier
        if path == "auto":
            path = find_or_train(datamodule, may_train=first, log=rank_zero_info)
        stored = load_classifier(Path(path))
        for warning in check_matches_data(stored, type(datamodule).__name__, tuple(datamodule.data_shape),
                                          datamodule.levels):
            rank_zero_warn(warning)
        accuracy = stored.info["accuracy"]["test"]
        if not accuracy >= 0.9:
            rank_zero_warn(f"domain classifier {stored.path} has a test accuracy of {accuracy:.3f}: features that "
                           "separate the classes this poorly make FID, KID and IS say little")
        return DomainBackbone(stored)

    # --- when ----------------------------------------------------------------------------------------------

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._backbone is not None and validation_due(trainer, self.every_n_epochs):
            self._evaluate(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._backbone is not None:
            self._evaluate(trainer, pl_module, "test")

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.state.fn == TrainerFn.VALIDATING and not trainer.sanity_checking:
            self._write_provenance(trainer, "val")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._write_provenance(trainer, "test")

    def _write_provenance(self, trainer: Trainer, split: str) -> None:
        provenance = self._provenance.pop(split, None)
        if any(isinstance(callback, MetricsJson) for callback in trainer.callbacks):  # where metrics.json is kept
            # None removes an older evaluation's provenance when this one computed nothing
            record_meta(trainer, {"image_quality": {split: provenance}})

    # --- what ----------------------------------------------------------------------------------------------

    @torch.no_grad()
    def _evaluate(self, trainer: Trainer, pl_module: LightningModule, split: str) -> None:
        datamodule = trainer.datamodule
        raw = datamodule.raw_split(split)
        n = min(self.num_samples, len(raw))
        if n < max(2, trainer.world_size):
            rank_zero_warn(f"image quality: the {split} split holds {len(raw)} images; FID/KID/IS need at least 2 "
                           "(and one per process)")
            return
        device = pl_module.device
        self._backbone.to(device)
        rank, world = trainer.global_rank, trainer.world_size
        mine = range(rank, n, world)  # this rank's shard; torchmetrics reduces the shards in compute()
        real, real_logits = self._real_features(raw, datamodule.levels, split, mine, device)
        subset_size = kid_subset_size(self.kid_subset_size, n)
        metrics: dict[str, float] = {}
        kid_std: dict[str, float] = {}
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            samplers = {"": (pl_module.sample, {"sampler": f"{type(pl_module).__name__}.sample"})}
            if _is_vae(pl_module):
                prior = PriorSampler(pl_module)  # what a VAE's own sample() does, named as such
                samplers[""] = (prior.sample, prior.describe())
                torch.manual_seed(self.seed)  # the same mixture on every rank (prepare() may draw dequantisation noise)
                gmm = AggregatePosteriorSampler.fit(pl_module, datamodule.raw_split("train"), self.gmm_components,
                                                    self.gmm_fit_examples, self.batch_size, self.seed)
                samplers["_gmm"] = (gmm.sample, gmm.describe())
            torch.manual_seed(self.seed * 100_003 + rank)  # each rank draws its own share of the samples
            for suffix, (sample, _) in samplers.items():
                fake, fake_logits = self._generated_features(sample, len(mine))
                with single_threaded(device):
                    values = scores(real, fake, fake_logits, subset_size, self.kid_subsets, self.is_splits)
                metrics.update({f"{split}/{name}{suffix}": float(values[name]) for name in ("fid", "kid", "is")})
                kid_std[f"kid{suffix}"] = float(values["kid_std"])
            with single_threaded(device):
                reference_is = float(inception_score(real_logits, self.is_splits))
        pl_module.log_dict(metrics, sync_dist=True)  # ranks agree already (torchmetrics reduced); this keeps it so
        self._provenance[split] = {
            "backbone": self._backbone.provenance(),
            "reference": {"split": split, "num_images": n, "split_size": len(raw), "is": reference_is},
            "num_generated": n,
            "samplers": {f"fid{s}, kid{s}, is{s}": describe for s, (_, describe) in samplers.items()},
            "kid": {"subset_size": subset_size, "subsets": self.kid_subsets, "std": kid_std},
            "is_splits": self.is_splits,
            "input": INPUT_CONVENTION,
            "global_step": trainer.global_step,
        }
        figures = ", ".join(f"{key.split('/')[1]} {value:.4g}" for key, value in metrics.items())
        fitting = trainer.state.fn == TrainerFn.FITTING
        when = f"epoch {trainer.current_epoch}" if fitting else f"step {trainer.global_step}"
        rank_zero_info(f"image quality ({split}, {when}): {figures} — "
                       f"{self._backbone.provenance()['name']} backbone, {n} generated vs {n} real ({split} split)")

    def _real_features(self, raw: Tensor, levels: int, split: str, mine: range, device) -> tuple[Tensor, Tensor]:
        key = (split, raw.data_ptr(), len(raw), mine.start, mine.stop, mine.step, str(device))
        if key not in self._real:
            images = real_intensities(raw[list(mine)], levels)
            self._real[key] = self._features(images[i : i + k].to(device) for i, k in self._chunks(len(images)))
        return self._real[key]

    def _generated_features(self, sample, count: int) -> tuple[Tensor, Tensor]:
        return self._features(sample(k) for _, k in self._chunks(count))

    def _chunks(self, count: int):
        return ((start, min(self.batch_size, count - start)) for start in range(0, count, self.batch_size))

    def _features(self, batches) -> tuple[Tensor, Tensor]:
        """Features and logits of every image of an iterable of image batches."""
        pairs = [self._backbone(images) for images in batches]
        return torch.cat([f for f, _ in pairs]), torch.cat([logit for _, logit in pairs])


def _holds_images(datamodule) -> bool:
    if datamodule is None:
        return False
    shape = getattr(datamodule, "data_shape", ())
    return getattr(datamodule, "levels", None) is not None and len(shape) == 3 and hasattr(datamodule, "raw_split")


def _is_vae(pl_module: LightningModule) -> bool:
    return all(hasattr(pl_module, name) for name in ("encode", "decode", "prepare", "latent_dim"))
