"""Entropy of the data, KL both ways, JSD and a GAN's discriminator bound on it, for a model against data with an
exact density (the 2D mixtures), per example in nats, each with its standard error:

- `entropy_data`: H(p_data), Monte Carlo on the exact density at the split's first `num_data` points;
- `nll`, `kl_data_model`: −E_data[log p̂_θ(x)] and −H(p_data) − E_data[log p̂_θ(x)] on the same points;
- `kl_model_data`, `jsd`: also at `num_model_samples` fresh draws of p̂_θ;
- `jsd_lower_bound` (models that `Discriminates` with a probability D): (V̂ + log 4)/2 with V̂ = mean log D over
  the very data points and mean log(1 − D) over the very model-side draws `jsd` uses. It bounds the JSD of the
  same distribution the `jsd` estimate describes (p̂_θ, the EMA generator's KDE for a GAN with EMA) from below in
  expectation, for any D: D trained against the raw generator only makes it looser, never wrong.

p̂_θ is the model's own density estimate where it has one (`HasDensityBound`: a VAE's IWAE estimate, biased low,
which biases `kl_data_model` up) and otherwise a kernel density estimate of `kde_samples` model samples, bandwidth
cross-validated (`lit_gen.metrics.divergences` states every bias). Reproducible: the evaluation draws from its own
RNG seeded by `seed` and restores the global one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch import Tensor

from lit_gen.metrics.divergences import Estimate, data_model_divergences, discriminator_jsd_bound, fit_kde
from lit_gen.models.capabilities import Discriminates, GaussianNoise, HasDensityBound

#: the estimates logged (`nll` is left to the models' own `nll_iw`; compare shows it)
LOGGED = ("entropy_data", "kl_data_model", "kl_model_data", "jsd", "jsd_lower_bound")


def has_exact_density(datamodule) -> bool:
    return callable(getattr(datamodule, "log_density", None))


@torch.no_grad()
def model_draws(model, num: int) -> Tensor | None:
    """Samples of the distribution p̂_θ describes, or None when this function cannot draw them.

    A GAN's `sample` is that distribution (its EMA generator when on). A VAE's `sample` shows E[x|z], the decoder's
    mean, but its density p(x) = ∫ p(x|z) p(z) dz is that of f(z) + σε with the decoder's σ: KL and JSD need those
    draws, so the decoder noise is added here (Gaussian likelihoods; other likelihoods give None)."""
    if not isinstance(model, HasDensityBound):
        return model.sample(num)
    if not isinstance(model.likelihood, GaussianNoise):
        return None
    mean = model.decode(model.latent(num))
    return mean + model.likelihood.sigma() * torch.randn_like(mean)


def draw(model, num: int, batch_size: int) -> Tensor | None:
    """`num` model draws (`model_draws`) in float64 on the CPU, `batch_size` at a time; None as `model_draws`."""
    parts = []
    for start in range(0, num, batch_size):
        part = model_draws(model, min(batch_size, num - start))
        if part is None:
            return None
        parts.append(part.double().cpu())
    return torch.cat(parts)


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


def discriminator_bound(model, data: Tensor, model_side: Tensor, batch_size: int = 500) -> Estimate | None:
    """The discriminator's bound on the JSD at these data points and these model-side samples (data space), or None
    when the model has no discriminator that is a probability of one sample."""
    if not (isinstance(model, Discriminates) and model.discriminator_is_probability):
        return None

    def logits(x: Tensor) -> Tensor:
        return torch.cat([model.discriminator_logit(chunk.float().to(model.device)).double().cpu()
                          for chunk in x.split(batch_size)])

    # log D = logsigmoid(l), log(1 − D) = logsigmoid(−l): no log(0) when D saturates
    return discriminator_jsd_bound(F.logsigmoid(logits(data)), F.logsigmoid(-logits(model_side)))


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
    """The estimates above for `model` against the exact density of `datamodule`, on the first `num_data` points of
    `split`, reproducibly (own RNG seeded by `seed`, the global one restored)."""
    start = time.perf_counter()
    device = model.device
    devices = [device.index or 0] if device.type == "cuda" else []
    data = datamodule.raw_split(split)[:num_data].double()
    log_data_at_data = datamodule.log_density(data).double()
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        if isinstance(model, HasDensityBound):
            k = iw_samples or model.iw_samples

            def log_model(x: Tensor) -> Tensor:
                parts = [model.log_marginal_likelihood(model.prepare(chunk.float().to(device)), num_samples=k)
                         for chunk in x.split(batch_size)]
                return torch.cat(parts).double().cpu()

            drawn = held_out = draw(model, num_model_samples, batch_size)  # None: no draws of p_θ (see model_draws)
            density = {"density": "importance_weighted (IWAE)", "importance_samples": k}
        else:
            drawn = draw(model, kde_samples, batch_size)
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
            bound = discriminator_bound(model, data, held_out, batch_size)
            if bound is not None:
                estimates["jsd_lower_bound"] = bound
    provenance = {
        "split": split, "data_points": len(data), "model_samples": 0 if held_out is None else len(held_out),
        "model_density": density, "seed": seed, "seconds": round(time.perf_counter() - start, 3),
    }
    if "jsd_lower_bound" in estimates:
        provenance["jsd_lower_bound"] = ("the trained discriminator D (trained against the raw generator) at the "
                                         "same data points and model-side samples as jsd")
    return DivergenceResult(estimates, data.float(), None if drawn is None else drawn.float(), provenance)
