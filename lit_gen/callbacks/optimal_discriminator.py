"""A GAN's discriminator D against the optimal one D* for the generator D is trained against (the raw generator,
not the EMA one): `d_star_error` at validation (every `every_n_epochs` epochs while fitting; always in validate
runs) and at test, on data with an exact density and for a D that is a probability of one sample
(`lit_gen.evaluation.optimal_discriminator`). The latest comparison (`latest`: both maps and both log-densities on a
grid over the data and the samples) is what `SampleImages` draws as D(x) beside D*(x), grey where neither density
has mass."""

from __future__ import annotations

from lightning.pytorch import LightningModule, Trainer

from lit_gen.callbacks.evaluation_record import EvaluationCallback, computed_on_rank_zero
from lit_gen.evaluation.optimal_discriminator import can_compare_with_optimal, compare_with_optimal_discriminator


class DiscriminatorVsOptimal(EvaluationCallback):
    """
    Args:
        every_n_epochs: evaluate every n validation epochs while fitting (0: only in validate and test runs).
        num_samples: data points and raw-generator samples (the KDE of p_g is fitted to the samples).
        resolution: grid points per axis of the figure's maps.
        seed: seed of the evaluation's own RNG.
    """

    name = "optimal_discriminator"

    def __init__(self, every_n_epochs: int = 1, num_samples: int = 2500, resolution: int = 120, seed: int = 0) -> None:
        super().__init__(every_n_epochs)
        if num_samples < 10 or resolution < 2:
            raise ValueError("optimal discriminator: num_samples must be at least 10 and resolution at least 2")
        self.num_samples = num_samples
        self.resolution, self.seed = resolution, seed
        self.latest: dict | None = None  # on rank 0: the latest comparison, for the figure

    def _evaluate(self, trainer: Trainer, pl_module: LightningModule, split: str) -> None:
        datamodule = trainer.datamodule
        if not can_compare_with_optimal(pl_module, datamodule) or len(datamodule.raw_split(split)) < 2:
            return

        def compute() -> float:
            self.latest = compare_with_optimal_discriminator(pl_module, datamodule, split, self.num_samples,
                                                             self.resolution, self.seed)
            return self.latest["error"]

        error = computed_on_rank_zero(trainer, compute)
        pl_module.log(f"{split}/d_star_error", error, sync_dist=True)
        self.pending[split] = {"generator": "raw (the one D is trained against), not the EMA",
                               "num_samples": self.num_samples, "seed": self.seed,
                               "p_g": "Gaussian KDE of the samples, bandwidth by cross-validated likelihood",
                               "bandwidth": None if self.latest is None else self.latest["bandwidth"],
                               "global_step": trainer.global_step}
