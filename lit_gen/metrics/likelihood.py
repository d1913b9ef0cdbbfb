"""The ELBO's closed-form KL and the importance-weighted (IWAE) estimate of log p(x)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor


def kl_to_standard_normal(mu: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) per example = ½ Σ (μ² + σ² − 1 − log σ²)."""
    return 0.5 * (mu.square() + log_var.exp() - 1.0 - log_var).sum(-1)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    return -0.5 * (z.square() + math.log(2 * math.pi)).sum(-1)


def diagonal_normal_log_prob(z: Tensor, mu: Tensor, log_var: Tensor) -> Tensor:
    return -0.5 * ((z - mu).square() / log_var.exp() + log_var + math.log(2 * math.pi)).sum(-1)


@torch.no_grad()
def iwae_log_likelihood(
    x: Tensor,
    mu: Tensor,
    log_var: Tensor,
    log_likelihood: Callable[[Tensor, Tensor], Tensor],
    num_samples: int,
    chunk_size: int = 100,
    prior_log_prob: Callable[[Tensor], Tensor] = standard_normal_log_prob,
) -> Tensor:
    """log p̂(x) = log (1/k) Σ_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x), per example.

    A lower bound on log p(x) in expectation that tightens as k grows (Burda et al., 2016); k = 1 is the ELBO
    with a sampled KL. `log_likelihood(z, x)` returns log p(x|z) for z of shape (n, latent) and x of shape
    (n, ...); `prior_log_prob(z)` returns log p(z) over z's last dimension (default: N(0, I)). Samples are drawn
    `chunk_size` at a time so memory stays flat in k.
    """
    batch = x.shape[0]
    log_weights = []
    for start in range(0, num_samples, chunk_size):
        k = min(chunk_size, num_samples - start)
        eps = torch.randn(k, *mu.shape, device=mu.device, dtype=mu.dtype)
        z = mu + (0.5 * log_var).exp() * eps  # (k, batch, latent)
        x_rep = x.unsqueeze(0).expand(k, *x.shape).reshape(k * batch, *x.shape[1:])
        log_px_z = log_likelihood(z.reshape(k * batch, -1), x_rep).view(k, batch)
        log_weights.append(log_px_z + prior_log_prob(z) - diagonal_normal_log_prob(z, mu, log_var))
    return torch.logsumexp(torch.cat(log_weights), dim=0) - math.log(num_samples)


def bits_per_dim(nll_nats: Tensor, num_dims: int, discrete_offset_nats: float) -> Tensor:
    """−log₂ P(x)/D of discrete data, from a continuous-space NLL and the dequantisation offset D·log(levels)."""
    return (nll_nats + discrete_offset_nats) / (num_dims * math.log(2))
