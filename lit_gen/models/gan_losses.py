"""GAN objectives, written on the discriminator's logits l (for the probability losses D = sigmoid(l)).

With D = sigmoid(l): log D = logsigmoid(l) and log(1 − D) = logsigmoid(−l), computed stably.

| loss             | discriminator minimises                  | generator minimises          |
| ---------------- | ---------------------------------------- | ---------------------------- |
| `minimax`        | −[log D(x) + log(1 − D(G(z)))]  (= −V)    | log(1 − D(G(z)))  (= V's term)|
| `non_saturating` | the same                                 | −log D(G(z))                 |
| `hinge`          | relu(1 − l(x)) + relu(1 + l(G(z)))       | −l(G(z))                     |
| `wasserstein_gp` | l(G(z)) − l(x)  (+ gradient penalty)     | −l(G(z))                     |

What the generator minimises once D is optimal (D held fixed during G's step; p_g the generator's distribution):

- `minimax`: D* = p_data/(p_data + p_g) and V(D*, G) = 2·JSD(p_data ‖ p_g) − log 4 (Goodfellow et al. 2014): G
  descends the Jensen–Shannon divergence. Its gradient vanishes where D confidently rejects G's samples.
- `non_saturating` (the default): at D*, G follows the gradient of KL(p_g ‖ p_data) − 2·JSD(p_data ‖ p_g)
  (Arjovsky & Bottou 2017, Thm 2.5) — not of the JSD: the reverse KL, which punishes samples off the data far more
  than missed modes, minus a JSD term pushing the other way. So the JSD estimates and the bound (`jsd`,
  `jsd_lower_bound`) measure a divergence this loss does not descend.
- `hinge` (Lim & Ye 2017): D's optimum over all functions is l* = sign(p_data − p_g), where D's loss is
  2 − 2·TV(p_data, p_g), TV the total variation (pointwise: min over l of p·relu(1 − l) + q·relu(1 + l) is
  2·min(p, q), at l = ±1). Where l ≥ −1 on G's samples, G's loss −E[l(G(z))] is minus D's loss up to terms G does
  not move (a zero-sum game there), so with l* held fixed the expected loss has the gradient of 2·TV: G descends
  the total variation — neither the JSD nor KL − 2·JSD. (l* is piecewise constant, so its pathwise gradient is
  zero: G learns from a smooth D, not from l*.)
- `wasserstein_gp`: the critic l maximises E_data[l] − E_g[l]; over 1-Lipschitz l that is the Wasserstein-1
  distance (Kantorovich–Rubinstein), and the gradient penalty asks for ‖∇l‖ ≈ 1 softly (Gulrajani et al. 2017). G
  descends the critic's estimate of W1(p_data, p_g), not a JSD or KL; l is no probability, so V, the JSD bound
  and D* do not apply.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

GANLoss = Literal["minimax", "non_saturating", "hinge", "wasserstein_gp"]

#: losses whose discriminator is a probability, so V(D, G) and the JSD bound are defined
PROBABILISTIC_LOSSES = ("minimax", "non_saturating")


def discriminator_loss(loss: GANLoss, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    if loss in PROBABILISTIC_LOSSES:
        return -value_function(real_logits, fake_logits)
    if loss == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    if loss == "wasserstein_gp":
        return fake_logits.mean() - real_logits.mean()
    raise ValueError(f"unknown GAN loss {loss!r}")


def generator_loss(loss: GANLoss, fake_logits: Tensor) -> Tensor:
    if loss == "minimax":
        return F.logsigmoid(-fake_logits).mean()  # descends log(1 − D(G(z)))
    if loss == "non_saturating":
        return -F.logsigmoid(fake_logits).mean()  # ascends log D(G(z))
    if loss in ("hinge", "wasserstein_gp"):
        return -fake_logits.mean()
    raise ValueError(f"unknown GAN loss {loss!r}")


def value_function(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """V̂(D, G) = mean log D(x) + mean log(1 − D(G(z)))."""
    return F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()


def jsd_lower_bound(value: Tensor | float) -> Tensor | float:
    """(V(D, G) + log 4) / 2 ≤ JSD(p_data ‖ p_g), with equality at D = D*."""
    return (value + math.log(4.0)) / 2


def gradient_penalty(discriminator, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP: E[(‖∇D(x̂)‖ − 1)²] at random interpolates x̂ of real and fake samples."""
    alpha = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device, dtype=real.dtype)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(mixed).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1.0).square().mean()


def r1_penalty(discriminator, real: Tensor) -> Tensor:
    """R1 (Mescheder et al., 2018): E[‖∇D(x)‖²] on real data; weighted by γ/2 by the caller."""
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(real).sum(), real, create_graph=True)
    return grad.flatten(1).square().sum(dim=1).mean()
