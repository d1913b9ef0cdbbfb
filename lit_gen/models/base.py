"""What every lit_gen model shares: the data it was built for, and a way back from a checkpoint."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import LightningModule
from torch import Tensor, nn
from torchmetrics import MeanMetric

from lit_gen.errors import TrainingDiverged


class GenerativeModel(LightningModule):
    """Base of the VAE and the GAN. Callbacks and commands rely only on this interface: `latent_dim`, `latent(n)`,
    `sample(n)`, `decode(z)`, and `data_shape` / `levels` of the data it models; what a model can do beyond it
    (encode, bound its density, discriminate) they ask through `lit_gen.models.capabilities`.

    Training metrics (`train/<name>`, epoch means) go through `log_train_means`; a subclass names them once with
    `track_train_means` in its constructor."""

    latent_dim: int
    data_shape: tuple[int, ...]
    levels: int | None

    def track_train_means(self, *names: str) -> None:
        # torchmetrics means rather than self.log'd tensors: the divergence check below reads the running epoch
        # mean before validation, which Lightning's logged values do not expose until the epoch ends. NaN is kept
        # ("disable"): a diverged epoch must show as NaN, not be dropped or raise mid-step. The metric states are
        # not persistent, so checkpoints do not change.
        self.train_means = nn.ModuleDict({name: MeanMetric(nan_strategy="disable") for name in names})

    def log_train_means(self, **values: Tensor) -> None:
        """Add this step's values to the epoch means, logged as `train/<name>` at the epoch's end. A tensor of
        per-example values weighs each example equally (a batch's mean, broadcast to its batch size, does too)."""
        for name, value in values.items():
            self.train_means[name].update(value.detach())

    def on_validation_epoch_start(self) -> None:
        if not self.trainer.sanity_checking:
            self.check_training_is_finite()

    def on_train_epoch_end(self) -> None:
        self.check_training_is_finite()
        # logged once, here: Lightning computes the metric objects and resets them as the epoch ends. A self.log
        # per step costs ~0.4 ms a call on a CPU, more than the means' updates (benchmarks/README.md)
        for name, metric in self.train_means.items():
            self.log(f"train/{name}", metric, prog_bar=True)

    def check_training_is_finite(self) -> None:
        """Stop with a clear message when a training loss went NaN or infinite this epoch.

        Checked once per epoch, before validation (which would otherwise fail on NaN weights with an obscure error)
        and at the epoch's end, so the hot path pays no host sync. Under DDP every rank takes part (the means are
        synchronised), so all stop together. Checkpoints saved so far stay on disk."""
        means = {name: metric.compute() for name, metric in self.train_means.items() if metric.update_count}
        bad = {name: float(value) for name, value in means.items() if not torch.isfinite(value)}
        if bad:
            what = ", ".join(f"train/{name} = {value}" for name, value in bad.items())
            raise TrainingDiverged(
                f"training diverged in epoch {self.current_epoch} ({what}): lower the learning rate "
                "(e.g. model.init_args.optimizer.init_args.lr) or the model's scale; checkpoints of earlier epochs "
                "are kept in the run directory"
            )

    def latent(self, num: int) -> Tensor:
        """`num` codes z ~ p(z), the model's prior (here N(0, I)), on the model's device."""
        return torch.randn(num, self.latent_dim, device=self.device)

    def sample(self, num: int) -> Tensor:
        """`num` samples in data space (pixel intensities in [0, 1] for images): `decode(latent(num))`."""
        return self.decode(self.latent(num))

    def decode(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # `lit_gen.load` reads this to find the class without being told
        checkpoint["lit_gen_class"] = f"{type(self).__module__}.{type(self).__qualname__}"
