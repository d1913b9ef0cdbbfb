"""Entropy of the data, KL both ways, JSD and a GAN's discriminator bound on it, on data with an exact density.

At validation (every `every_n_epochs` epochs while fitting; always in a validate run, such as the one `lit-gen fit`
ends with) and at test, when the DataModule has an exact `log_density` (the 2D mixtures), logs for the evaluated
split the estimates of `lit_gen.evaluation.divergences` (`entropy_data`, `kl_data_model`, `kl_model_data`, `jsd`,
and for a GAN `jsd_lower_bound` on the JSD's own points and samples), per example in nats, each with its standard
error `<key>_se`. How p̂_θ was obtained, the sample counts and the time taken go to metrics.json's
`meta.divergences.<split>`. Rank 0 computes, the others receive its numbers, so DDP ranks log the same values.
"""

from __future__ import annotations

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_warn

from lit_gen.callbacks.evaluation_record import EvaluationCallback, computed_on_rank_zero
from lit_gen.evaluation.divergences import (  # noqa: F401 — the names this module offered before lit_gen.evaluation
    LOGGED,
    DivergenceResult,
    evaluate_divergences,
    has_exact_density,
    model_draws,
)


class Divergences(EvaluationCallback):
    """
    Args:
        every_n_epochs: evaluate every n validation epochs while fitting (0: only in validate and test runs).
        num_data: data points of the split (its first ones) for the data-side expectations.
        num_model_samples: model samples for the model-side expectations (`kl_model_data`, `jsd`).
        kde_samples: model samples a KDE is fitted to (models without a density).
        kde_cv_samples: of those, how many choose the bandwidth by cross-validation (its cost grows with n²).
        iw_samples: importance samples for models with a density (default: the model's own `iw_samples`).
        batch_size: points evaluated or drawn at once.
        seed: seed of the evaluation's own RNG.
    """

    name = "divergences"

    def __init__(
        self,
        every_n_epochs: int = 1,
        num_data: int = 2500,
        num_model_samples: int = 2500,
        kde_samples: int = 5000,
        kde_cv_samples: int = 1000,
        iw_samples: int | None = None,
        batch_size: int = 500,
        seed: int = 0,
    ) -> None:
        super().__init__(every_n_epochs)
        for name, value in [("num_data", num_data), ("num_model_samples", num_model_samples),
                            ("kde_samples", kde_samples), ("kde_cv_samples", kde_cv_samples)]:
            if value < 10:
                raise ValueError(f"divergences {name}={value} must be at least 10")
        if batch_size < 1 or (iw_samples is not None and iw_samples < 1):
            raise ValueError("divergences batch_size and iw_samples must be at least 1")
        self.settings = {"num_data": num_data, "num_model_samples": num_model_samples, "kde_samples": kde_samples,
                         "kde_cv_samples": kde_cv_samples, "iw_samples": iw_samples, "batch_size": batch_size,
                         "seed": seed}

    def _evaluate(self, trainer: Trainer, pl_module: LightningModule, split: str) -> None:
        datamodule = trainer.datamodule
        if datamodule is None or not has_exact_density(datamodule):
            return
        if len(datamodule.raw_split(split)) < 2:  # the same answer on every rank: none waits for a broadcast
            rank_zero_warn(f"divergences: the {split} split holds fewer than 2 points; nothing estimated")
            return

        def compute():
            result = evaluate_divergences(pl_module, datamodule, split, **self.settings)
            return result.metrics(split), result.provenance

        metrics, provenance = computed_on_rank_zero(trainer, compute)
        pl_module.log_dict(metrics, sync_dist=True)  # the ranks agree already; this keeps Lightning content
        self.pending[split] = {**provenance, "global_step": trainer.global_step}
        if trainer.state.fn != TrainerFn.FITTING and metrics:
            shown = ", ".join(f"{key.split('/')[1]} {value:.4g} ± {metrics[key + '_se']:.2g}"
                              for key, value in metrics.items() if not key.endswith("_se"))
            rank_zero_info(f"divergences ({split}, nats): {shown} — model density: "
                           f"{provenance['model_density']['density']}")
