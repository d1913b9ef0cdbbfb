"""Mode coverage on 2D mixtures for every model that can be drawn from (a GAN, a VAE): `modes_covered`,
`high_quality`, `reverse_kl` (VEEGAN / PacGAN protocol, `lit_gen.evaluation.mode_coverage`) at validation (every
`every_n_epochs` epochs while fitting; always in validate runs) and at test. Does nothing on other data."""

from __future__ import annotations

from lightning.pytorch import LightningModule, Trainer

from lit_gen.callbacks.evaluation_record import EvaluationCallback, computed_on_rank_zero
from lit_gen.evaluation.mode_coverage import PROTOCOL_SAMPLES, evaluate_mode_coverage, mixture_of
from lit_gen.models.capabilities import Samples


class ModeCoverage(EvaluationCallback):
    """
    Args:
        every_n_epochs: evaluate every n validation epochs while fitting (0: only in validate and test runs).
        num_samples: model draws per evaluation (2,500 in the protocol).
        seed: seed of the evaluation's own RNG.
    """

    name = "mode_coverage"

    def __init__(self, every_n_epochs: int = 1, num_samples: int = PROTOCOL_SAMPLES, seed: int = 0) -> None:
        super().__init__(every_n_epochs)
        if num_samples < 1:
            raise ValueError(f"mode coverage num_samples={num_samples} must be at least 1")
        self.num_samples, self.seed = num_samples, seed

    def _evaluate(self, trainer: Trainer, pl_module: LightningModule, split: str) -> None:
        mixture = mixture_of(trainer.datamodule)
        if mixture is None or not isinstance(pl_module, Samples):
            return
        stats = computed_on_rank_zero(
            trainer, lambda: evaluate_mode_coverage(pl_module, trainer.datamodule, self.num_samples, self.seed))
        if stats is None:  # a model whose density cannot be drawn (see lit_gen.evaluation.divergences.model_draws)
            return
        pl_module.log_dict(stats.as_dict(f"{split}/"), sync_dist=True)
        self.pending[split] = {"num_samples": self.num_samples, "num_modes": mixture.num_modes, "seed": self.seed,
                               "protocol": "VEEGAN / PacGAN: high quality within 3 std of the nearest mode",
                               "global_step": trainer.global_step}
