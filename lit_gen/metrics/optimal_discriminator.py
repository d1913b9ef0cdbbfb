"""How far a learned discriminator is from the optimal one, D*(x) = p_data(x) / (p_data(x) + p_g(x)).

`d_star_error` is E_{x ~ m}|D(x) − D*(x)| under the mixture m = (p_data + p_g)/2, i.e. the mean |D − D*|
weighted by (p_data + p_g)/2 — the places where either distribution puts mass, which is where D is trained.
It is estimated by Monte Carlo: half the points drawn from the data, half from the generator. p_data is exact;
p_g comes from a cross-validated KDE of generator samples, so D* carries the KDE's smoothing error too.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def optimal_discriminator(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    """D* = p_data / (p_data + p_g) = sigmoid(log p_data − log p_g), stable for tiny densities."""
    return torch.sigmoid(log_p_data - log_p_g)


def d_star_error(
    discriminator_probability: Callable[[Tensor], Tensor],
    data_log_prob: Callable[[Tensor], Tensor],
    generator_log_prob: Callable[[Tensor], Tensor],
    data_samples: Tensor,
    generator_samples: Tensor,
) -> float:
    points = torch.cat([data_samples, generator_samples]).float()
    d_star = optimal_discriminator(data_log_prob(points).double(), generator_log_prob(points).double())
    d = discriminator_probability(points).double().cpu()
    return float((d - d_star.cpu()).abs().mean())
