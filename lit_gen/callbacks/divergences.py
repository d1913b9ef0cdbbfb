"""Entropy of the data, KL both ways and JSD between the data and the model, on data with an exact density.

At validation (every `every_n_epochs` epochs while fitting; always in a validate run, such as the one `lit-gen fit`
ends with) and at test, when the DataModule has an exact `log_density` (the 2D mixtures), logs for the evaluated
split, per example in nats, each with its standard error `<key>_se`:

- `entropy_data`: H(p_data), Monte Carlo on the exact density at the split's first `num_data` points;
- `kl_data_model`: −H(p_data) − E_data[log p̂_θ(x)] on the same points;
- `kl_model_data`, `jsd`: at `num_model_samples` fresh samples of the model (of its KDE, for a KDE).

p̂_θ is the model's own density estimate where it has one (`log_marginal_likelihood`: a VAE's IWAE estimate,
biased low, which biases `kl_data_model` up) and otherwise a kernel density estimate of `kde_samples` model
samples, bandwidth cross-validated (`lit_gen.metrics.divergences` states every bias). How p̂_θ was obtained, the
sample counts and the time taken go to metrics.json's `meta.divergences.<split>`.

Asks little of the model: `sample(n)`, and `log_marginal_likelihood(x, num_samples)` with `prepare(raw)` for
models that have a density. Rank 0 computes, the others receive its numbers, so DDP ranks log the same values.
The evaluation draws from its own seeded RNG and restores the global one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_warn
from torch import Tensor

from lit_gen.callbacks.metrics_json import MetricsJson, record_meta
from lit_gen.callbacks.schedule import validation_due
from lit_gen.metrics.divergences import Estimate, data_model_divergences, fit_kde

#: the estimates logged (`nll` is left to the models' own `nll_iw`; compare shows it)
LOGGED = ("entropy_data", "kl_data_model", "kl_model_data", "jsd")


def has_exact_density(datamodule) -> bool:
    return callable(getattr(datamodule, "log_density", None))


def has_density(model) -> bool:
    return callable(getattr(model, "log_marginal_likelihood", None))


@torch.no_grad()
def model_draws(model, num: int) -> Tensor | None:
    """Samples of the distribution p̂_θ describes, or None when this function cannot draw them.

    A GAN's `sample` is that distribution. A VAE's `sample` shows E[x|z], the decoder's mean, but its density
    p(x) = ∫ p(x|z) p(z) dz is that of f(z) + σε with the decoder's σ: KL and JSD need those draws, so the
    decoder noise is added here (Gaussian likelihoods; other likelihoods give None)."""
    if not has_density(model):
        return model.sample(num)
    sigma = getattr(getattr(model, "likelihood", None), "sigma", None)
    if not callable(sigma):
        return None
    mean = model.decode(torch.randn(num, model.latent_dim, device=model.device))
    return mean + sigma() * torch.randn_like(mean)


@dataclass
class DivergenceResult:
    estimates: dict[str, Estimate]
    data: Tensor  # the data points x ~ p_data the estimates used
    model_samples: Tensor | None  # draws of the model (y ~ p_θ; for a KDE, the samples it was fitted to)
    provenance: dict[str, Any] = field(default_factory=dict)

    def metrics(self, split: str, keys: tuple[str, ...] = LOGGED) -> dict[str, float]:
        out: dict[str, float] = {}
        for key in keys:
            if key in self.estimates:
                out.update(self.estimates[key].as_dict(f"{split}/{key}"))
        return out


def evaluate_divergences(
    model,
    datamodule,
    split: str,
    num_data: int = 2500,
    num_model_samples: int = 2500,
    kde_samples: int = 5000,
    kde_cv_samples: int = 1000,
    iw_samples: int | None = None,
    batch_size: int = 500,
    seed: int = 0,
) -> DivergenceResult:
    """The estimates of `lit_gen.metrics.divergences` for `model` against the exact density of `datamodule`,
    on the first `num_data` points of `split`, reproducibly (own RNG seeded by `seed`, the global one restored)."""
    start = time.perf_counter()
    device = model.device
    devices = [device.index or 0] if device.type == "cuda" else []
    data = datamodule.raw_split(split)[:num_data].double()
    log_data_at_data = datamodule.log_density(data).double()
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        if has_density(model):
            k = iw_samples or getattr(model, "iw_samples", 100)

            def log_model(x: Tensor) -> Tensor:
                parts = [model.log_marginal_likelihood(model.prepare(chunk.float().to(device)), num_samples=k)
                         for chunk in x.split(batch_size)]
                return torch.cat(parts).double().cpu()

            drawn = held_out = _draw(model, num_model_samples, batch_size)  # None: no draws of p_θ (see model_draws)
            density = {"density": "importance_weighted (IWAE)", "importance_samples": k}
        else:
            drawn = _draw(model, kde_samples, batch_size)
            if not torch.isfinite(drawn).all():
                rank_zero_warn("divergences: the model produced non-finite samples, no density can be fitted to "
                               "them: nothing computed")
                return DivergenceResult({}, data.float(), None, {"split": split, "skipped": "non-finite samples"})
            kde = fit_kde(drawn, kde_cv_samples, seed)
            # model-side points from the KDE itself: every estimate is then a divergence between p_data and p̂_g
            log_model, held_out = kde.log_prob, kde.sample(num_model_samples)
            density = {**kde.describe(), "model_side_samples": "drawn from the KDE"}
        log_model_at_data = log_model(data)
        if held_out is not None and not torch.isfinite(held_out).all():
            rank_zero_warn("divergences: the model produced non-finite samples; KL(model ‖ data) and JSD skipped")
            held_out = drawn = None
        if held_out is None:
            estimates = data_model_divergences(log_data_at_data, log_model_at_data)
        else:
            estimates = data_model_divergences(log_data_at_data, log_model_at_data,
                                               datamodule.log_density(held_out).double(), log_model(held_out))
    provenance = {
        "split": split, "data_points": len(data), "model_samples": 0 if held_out is None else len(held_out),
        "model_density": density, "seed": seed, "seconds": round(time.perf_counter() - start, 3),
    }
    return DivergenceResult(estimates, data.float(), None if drawn is None else drawn.float(), provenance)


def _draw(model, num: int, batch_size: int) -> Tensor | None:
    parts = []
    for start in range(0, num, batch_size):
        part = model_draws(model, min(batch_size, num - start))
        if part is None:
            return None
        parts.append(part.double().cpu())
    return torch.cat(parts)


class Divergences(Callback):
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
        super().__init__()
        for name, value in [("num_data", num_data), ("num_model_samples", num_model_samples),
                            ("kde_samples", kde_samples), ("kde_cv_samples", kde_cv_samples)]:
            if value < 10:
                raise ValueError(f"divergences {name}={value} must be at least 10")
        if batch_size < 1 or (iw_samples is not None and iw_samples < 1):
            raise ValueError("divergences batch_size and iw_samples must be at least 1")
        self.every_n_epochs = every_n_epochs
        self.settings = {"num_data": num_data, "num_model_samples": num_model_samples, "kde_samples": kde_samples,
                         "kde_cv_samples": kde_cv_samples, "iw_samples": iw_samples, "batch_size": batch_size,
                         "seed": seed}
        self._provenance: dict[str, dict[str, Any]] = {}

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if validation_due(trainer, self.every_n_epochs):
            self._evaluate(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._evaluate(trainer, pl_module, "test")

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.state.fn == TrainerFn.VALIDATING and not trainer.sanity_checking:
            self._write_provenance(trainer, "val")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._write_provenance(trainer, "test")

    def _evaluate(self, trainer: Trainer, pl_module: LightningModule, split: str) -> None:
        datamodule = trainer.datamodule
        if datamodule is None or not has_exact_density(datamodule):
            return
        if len(datamodule.raw_split(split)) < 2:  # the same answer on every rank: none waits for a broadcast
            rank_zero_warn(f"divergences: the {split} split holds fewer than 2 points; nothing estimated")
            return
        payload = None
        if trainer.is_global_zero:  # one process computes; under DDP the others would only repeat it
            result = evaluate_divergences(pl_module, datamodule, split, **self.settings)
            payload = (result.metrics(split), result.provenance)
        if trainer.world_size > 1:
            payload = trainer.strategy.broadcast(payload, src=0)
        metrics, provenance = payload
        pl_module.log_dict(metrics, sync_dist=True)  # the ranks agree already; this keeps Lightning content
        self._provenance[split] = {**provenance, "global_step": trainer.global_step}
        if trainer.state.fn != TrainerFn.FITTING and metrics:
            shown = ", ".join(f"{key.split('/')[1]} {value:.4g} ± {metrics[key + '_se']:.2g}"
                              for key, value in metrics.items() if not key.endswith("_se"))
            rank_zero_info(f"divergences ({split}, nats): {shown} — model density: "
                           f"{provenance['model_density']['density']}")

    def _write_provenance(self, trainer: Trainer, split: str) -> None:
        provenance = self._provenance.pop(split, None)
        if any(isinstance(callback, MetricsJson) for callback in trainer.callbacks):
            record_meta(trainer, {"divergences": {split: provenance}})
