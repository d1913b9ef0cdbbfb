"""What every lit_gen model shares: the data it was built for, and a way back from a checkpoint."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lit_gen.errors import TrainingDiverged
from lit_gen.metrics.running import EpochMeans
from lit_gen.models.lean_hooks import LeanHooks


class GenerativeModel(LeanHooks):
    """Base of the VAE and the GAN. Callbacks and commands rely only on this interface:
    `latent_dim`, `sample(n)`, `decode(z)`, and `data_shape` / `levels` of the data it models."""

    latent_dim: int
    data_shape: tuple[int, ...]
    levels: int | None

    def check_training_is_finite(self, means: EpochMeans) -> None:
        """Stop with a clear message when a training loss went NaN or infinite this epoch.

        Checked once per epoch (before validation, which would otherwise fail on NaN weights with an obscure
        error), so the hot path pays no host sync. Checkpoints saved so far stay on disk."""
        bad = means.non_finite()
        if bad:
            what = ", ".join(f"train/{name} = {value}" for name, value in bad.items())
            raise TrainingDiverged(
                f"training diverged in epoch {self.current_epoch} ({what}): lower the learning rate "
                "(e.g. model.init_args.optimizer.init_args.lr) or the model's scale; checkpoints of earlier epochs "
                "are kept in the run directory"
            )

    def sample(self, num: int) -> Tensor:
        """`num` samples in data space (pixel intensities in [0, 1] for images)."""
        return self.decode(torch.randn(num, self.latent_dim, device=self.device))

    def decode(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # `lit_gen.load` reads this to find the class without being told
        checkpoint["lit_gen_class"] = f"{type(self).__module__}.{type(self).__qualname__}"
