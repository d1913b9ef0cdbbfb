"""FID, KID and IS of generated images against held-out real ones, with the provenance of every number: the
Lightning hooks around `lit_gen.evaluation.image_quality`, which computes them.

At validation (every `every_n_epochs` epochs while fitting; always in a validate run, such as the one `lit-gen fit`
ends with) and at test. Logged, through `pl_module.log` (so metrics.csv and metrics.json get them): `<split>/fid`,
`<split>/kid`, `<split>/is` and, for a VAE, `<split>/fid_gmm`, `<split>/kid_gmm`, `<split>/is_gmm`. The backbone,
the counts, the reference split and KID's subsets and spreads go to metrics.json's `meta.image_quality.<split>`; the
settings to the experiment logger's hyperparameters and to the console.

The backbone lives here, never in the LightningModule, so no backbone weight enters a model checkpoint.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_warn

from lit_gen.callbacks.evaluation_record import write_evaluation_provenance
from lit_gen.callbacks.schedule import validation_due
from lit_gen.evaluation.image_quality import (
    INPUT_CONVENTION,
    Settings,
    evaluate_image_quality,
    holds_images,
    load_backbone,
    num_evaluated,
)
from lit_gen.metrics.backbones import Backbone


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
        kid_subset_size, kid_subsets: KID's subsets (the size is at most N/2, so their spread means
            something: `lit_gen.metrics.fid.kid_subset_size`).
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
        self.settings = Settings(num_samples, kid_subset_size, kid_subsets, is_splits, gmm_components,
                                 gmm_fit_examples, batch_size, seed)  # checks the values
        self.backbone, self.domain_classifier = backbone, domain_classifier
        self.inception_weights, self.allow_download = inception_weights, allow_download
        self.every_n_epochs = every_n_epochs
        self._backbone: Backbone | None = None
        self._real: dict = {}  # the real images' features: fixed backbone, fixed images
        self._provenance: dict[str, dict[str, Any]] = {}

    # --- setup: find the backbone before any training, so a missing file stops the run at once ------------

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        datamodule = trainer.datamodule
        if self.backbone == "none" or self._backbone is not None or not holds_images(datamodule):
            return
        self._backbone = self._build(trainer, datamodule)
        summary = {"backbone": self._backbone.provenance(), "num_samples": self.settings.num_samples,
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
                return load_backbone(self.backbone, datamodule, self.domain_classifier, self.inception_weights,
                                     self.allow_download and first, may_train=first, log=rank_zero_info,
                                     warn=rank_zero_warn)
        finally:
            if first:
                trainer.strategy.barrier("image_quality_backbone")

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
        write_evaluation_provenance(trainer, split, {"image_quality": self._provenance.pop(split, None)})

    # --- what ----------------------------------------------------------------------------------------------

    def _evaluate(self, trainer: Trainer, pl_module: LightningModule, split: str) -> None:
        size = len(trainer.datamodule.raw_split(split))
        n = num_evaluated(size, self.settings)
        if n < max(2, trainer.world_size):
            rank_zero_warn(f"image quality: the {split} split holds {size} images; FID/KID/IS need at least 2 "
                           "(and one per process)")
            return
        result = evaluate_image_quality(self._backbone, pl_module, trainer.datamodule, split, self.settings,
                                        trainer.global_rank, trainer.world_size, self._real)
        metrics = {f"{split}/{name}": value for name, value in result.metrics.items()}
        pl_module.log_dict(metrics, sync_dist=True)  # ranks agree already (torchmetrics reduced); this keeps it so
        self._provenance[split] = {**result.provenance, "global_step": trainer.global_step}
        figures = ", ".join(f"{name} {value:.4g}" for name, value in result.metrics.items())
        fitting = trainer.state.fn == TrainerFn.FITTING
        when = f"epoch {trainer.current_epoch}" if fitting else f"step {trainer.global_step}"
        rank_zero_info(f"image quality ({split}, {when}): {figures} — "
                       f"{self._backbone.provenance()['name']} backbone, {n} generated vs {n} real ({split} split)")
