"""Saves pictures at validation: a sample grid (a 2D scatter over the data density for 2D data) and, for models
with an encoder, reconstructions (each row of originals labelled, above its reconstructions) and a latent
interpolation.

Asks little of the model: `sample(n)`; `reconstruct(x)`, `encode(x)`, `decode(z)` and `prepare(raw)` where
it has them (`Encodes`); beside a `DiscriminatorVsOptimal` callback, its latest D(x) is drawn beside D*(x).
Files go to `<run dir>/images/epoch_XXXX_<kind>.png`, and to the run's W&B logger as `images/<kind>` when
it has one (`lit_gen.loggers.log_images`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn

from lit_gen.callbacks.optimal_discriminator import DiscriminatorVsOptimal
from lit_gen.loggers import log_images
from lit_gen.metrics.backbones import real_intensities
from lit_gen.models.capabilities import Encodes
from lit_gen.plotting import save_discriminator_figure, save_image_grid, save_reconstruction_grid, save_samples
from lit_gen.run.record import run_dir


class SampleImages(Callback):
    def __init__(self, every_n_epochs: int = 5, num_samples: int = 64, num_2d_samples: int = 2500) -> None:
        super().__init__()
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.num_2d_samples = num_2d_samples

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # after every callback's epoch-end hook, so what they computed there (e.g. D*) can be drawn
        folder = run_dir(trainer) / "images"  # on every rank: under DDP the log dir is broadcast from rank 0
        if trainer.state.fn != TrainerFn.FITTING or trainer.sanity_checking or not trainer.is_global_zero:
            return
        if self.every_n_epochs < 1:
            return
        epoch = trainer.current_epoch
        last_epoch = trainer.max_epochs is not None and epoch + 1 >= trainer.max_epochs
        if (epoch + 1) % self.every_n_epochs and not last_epoch:
            return
        files = self.save(trainer, pl_module, folder, f"epoch_{epoch:04d}")
        log_images(trainer, {f"images/{kind}": path for kind, path in files.items()})

    @torch.no_grad()
    def save(self, trainer: Trainer, pl_module: LightningModule, folder, stem: str) -> dict[str, Path]:
        """Draws the figures; returns their files by kind (`samples`, `reconstructions`, ...)."""
        datamodule = trainer.datamodule
        two_d = tuple(pl_module.data_shape) == (2,)
        files = {"samples": folder / f"{stem}_samples.png"}
        samples = pl_module.sample(self.num_2d_samples if two_d else self.num_samples)
        log_density = getattr(datamodule, "log_density", None)
        save_samples(samples, files["samples"], log_density)
        view = next((c.latest for c in trainer.callbacks if isinstance(c, DiscriminatorVsOptimal)), None)
        if view is not None:
            files["discriminator"] = folder / f"{stem}_discriminator.png"
            save_discriminator_figure(view["grid"], view["d"], view["d_star"], files["discriminator"],
                                      view["data"], view["generated"], view["error"],
                                      log_p_data=view.get("log_p_data"), log_p_g=view.get("log_p_g"))
        if two_d or not isinstance(pl_module, Encodes) or datamodule is None:
            return files
        raw = datamodule.raw_split("val")[: self.num_samples // 2].to(pl_module.device)
        x = pl_module.prepare(raw)
        # originals as real images are scored, k / (levels − 1): the scale `reconstruct` returns
        original = x if datamodule.levels is None else real_intensities(raw, datamodule.levels)
        files["reconstructions"] = folder / f"{stem}_reconstructions.png"
        save_reconstruction_grid(original, pl_module.reconstruct(x), files["reconstructions"])
        files["interpolation"] = folder / f"{stem}_interpolation.png"
        save_image_grid(self._interpolation(pl_module, x), files["interpolation"], nrow=10)
        return files

    @staticmethod
    def _interpolation(pl_module: LightningModule, x: torch.Tensor, rows: int = 4, steps: int = 10) -> torch.Tensor:
        """Decoded points on the straight line between the posterior means of pairs of examples."""
        mu = pl_module.encode(x[: 2 * rows]).mean
        start, end = mu[0::2], mu[1::2]
        weights = torch.linspace(0, 1, steps, device=mu.device).view(1, steps, 1)
        path = start.unsqueeze(1) * (1 - weights) + end.unsqueeze(1) * weights
        return pl_module.decode(path.flatten(0, 1))
