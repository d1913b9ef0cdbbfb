"""Formulas no other test pins down, each against a value known exactly or a spread measured over repeats.

Every test here fails when its formula is broken by hand (the breaks tried are named in each docstring).
Models are driven only through their public interface: a tiny `Trainer`, `critic`, `test`, callbacks' hooks.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, Trainer
from torch import nn
from torch.distributions import Normal

from lit_gen.data import DigitsDataModule, MixtureDataModule
from lit_gen.metrics.divergences import discriminator_jsd_bound, fit_kde, jensen_shannon
from lit_gen.models import GAN, VAE, BernoulliLikelihood, GaussianLikelihood
from lit_gen.models.gan_losses import gradient_penalty, r1_penalty


def tiny_trainer(**kwargs) -> Trainer:
    return Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                   accelerator="cpu", limit_val_batches=0, **kwargs)


def ring(batch_size: int = 16) -> MixtureDataModule:
    return MixtureDataModule(num_samples=200, batch_size=batch_size, val_size=10, test_size=10)


# --- gradient penalties --------------------------------------------------------------------------------------


def test_gradient_penalty_and_r1_of_a_linear_critic_are_exact():
    """Breaks tried: GP's `− 1.0` dropped (25), the norm squared (576), R1 without the square (not 25)."""
    w = torch.tensor([1.0, 2.0, 2.0, 4.0], dtype=torch.float64)  # ‖w‖ = 5: ∇D = w everywhere

    def critic(x):
        return x.flatten(1) @ w + 0.7

    real, fake = torch.randn(6, 1, 2, 2, dtype=torch.float64), torch.randn(6, 1, 2, 2, dtype=torch.float64)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx((5 - 1) ** 2, rel=1e-12)  # 16
    assert r1_penalty(critic, real).item() == pytest.approx(5**2, rel=1e-12)  # 25


def test_gradient_penalty_is_taken_at_interpolates_of_real_and_fake():
    """D(x) = ½‖x‖², so ∇D(x̂) = x̂ = α·c between c (‖c‖ = 3) and 0: E(3α − 1)² = 1 over α ~ U[0, 1], against
    (3 − 1)² = 4 at the real point. Breaks tried: x̂ = real (4), α fixed at ½ (0.25)."""
    torch.manual_seed(0)
    c = torch.tensor([[0.0, 3.0]], dtype=torch.float64).expand(5000, 2)

    def critic(x):
        return 0.5 * x.square().sum(1)

    # t = 3α − 1 ~ U[−1, 2]: E t² = 1, E t⁴ = 33/15, so the mean of 5,000 terms t² has se √(1.2/5,000)
    se = math.sqrt((33 / 15 - 1) / len(c))
    assert gradient_penalty(critic, c, torch.zeros_like(c)).item() == pytest.approx(1.0, abs=4 * se)
    assert r1_penalty(critic, c).item() == pytest.approx(9.0, rel=1e-12)


def _d_loss_with_linear_critic(r1_gamma: float, r1_every: int, batches: int = 4) -> float:
    """train/d_loss (the epoch mean) of a GAN whose critic is the fixed linear D(x) = w·x, ‖w‖ = 5, and whose
    optimizers do not move anything (lr 0), so every batch's loss differs only by its R1 term."""
    torch.manual_seed(0)
    frozen = partial(torch.optim.SGD, lr=0.0)
    model = GAN(latent_dim=2, generator_hidden=[4], discriminator_hidden=[4], r1_gamma=r1_gamma, r1_every=r1_every,
                generator_optimizer=frozen, discriminator_optimizer=frozen)
    model.discriminator = nn.Linear(2, 1)
    with torch.no_grad():
        model.discriminator.weight.copy_(torch.tensor([[3.0, 4.0]]))
        model.discriminator.bias.zero_()
    tiny_trainer(max_epochs=1, limit_train_batches=batches).fit(model, datamodule=ring())
    return float(model.trainer.callback_metrics["train/d_loss"])


def test_r1_is_weighted_gamma_over_two_and_scaled_by_r1_every_on_every_kth_step():
    """With ‖∇D‖² = 25 and R1 on D-steps 0 and 2 of 4 (r1_every = 2), the epoch mean grows by
    γ/2 · 2 · 25 · 2/4. Breaks tried: no `/ 2` (×2), no `* r1_every` (×½), R1 on every step (×2)."""
    gamma = 0.1
    without = _d_loss_with_linear_critic(0.0, 1)
    assert _d_loss_with_linear_critic(gamma, 2) - without == pytest.approx(gamma / 2 * 2 * 25 * 2 / 4, rel=1e-4)
    assert _d_loss_with_linear_critic(gamma, 1) - without == pytest.approx(gamma / 2 * 25, rel=1e-4)


# --- PacGAN and the alternating updates ----------------------------------------------------------------------


class _RecordingCritic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def forward(self, x):
        self.inputs.append(x)
        return x.flatten(1).sum(1, keepdim=True)


def test_pacgan_packs_consecutive_samples_along_channels_and_drops_the_remainder():
    """Breaks tried: packs interleaved (sample i with i + n/pack), the remainder kept (a shape error)."""
    images = GAN(data_shape=(1, 4, 4), levels=17, latent_dim=2, generator_hidden=[4], discriminator_hidden=[4],
                 pack=2)
    assert images.critic(torch.rand(6, 1, 4, 4)).shape == (3,)  # the real D takes 2 channels per pack
    images.discriminator = recorder = _RecordingCritic()
    x = torch.rand(5, 1, 4, 4)
    logits = images.critic(x)
    (packed,) = recorder.inputs
    assert packed.shape == (2, 2, 4, 4)
    for i in range(2):
        assert torch.equal(packed[i], torch.cat([x[2 * i], x[2 * i + 1]]))  # channels: sample 2i, then 2i + 1
    torch.testing.assert_close(logits, x[:4].flatten(1).view(2, 32).sum(1))

    points = GAN(latent_dim=2, generator_hidden=[4], discriminator_hidden=[4], pack=3)
    points.discriminator = recorder = _RecordingCritic()
    y = torch.randn(7, 2)
    points.critic(y)
    assert torch.equal(recorder.inputs[0], y[:6].reshape(2, 6))  # rows (y0, y1, y2), (y3, y4, y5)
    assert torch.equal(recorder.inputs[0][1], torch.cat([y[3], y[4], y[5]]))


class _ParameterSnapshots(Callback):
    """Both networks' parameters just before every optimizer step and after every batch."""

    def __init__(self) -> None:
        self.records: list[tuple[str, torch.Tensor, torch.Tensor]] = []

    def _record(self, when: str, model) -> None:
        flat = lambda net: torch.cat([p.detach().flatten().clone() for p in net.parameters()])  # noqa: E731
        self.records.append((when, flat(model.generator), flat(model.discriminator)))

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        generator_opt, discriminator_opt = trainer.optimizers
        self._record("d" if optimizer is discriminator_opt else "g", pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._record("end", pl_module)


def test_a_discriminator_step_leaves_the_generator_alone_and_a_generator_step_the_discriminator():
    """Breaks tried: G's optimizer over all parameters (the G step moves D), D's optimizer over all parameters
    with the fake batch drawn with gradients (the D step moves G)."""
    torch.manual_seed(0)
    adam = partial(torch.optim.Adam, lr=1e-2)
    model = GAN(latent_dim=2, generator_hidden=[8], discriminator_hidden=[8], n_critic=2,
                generator_optimizer=adam, discriminator_optimizer=adam)
    snapshots = _ParameterSnapshots()
    tiny_trainer(max_epochs=1, limit_train_batches=2, callbacks=[snapshots]).fit(model, datamodule=ring())
    whens = [when for when, _, _ in snapshots.records]
    assert whens == ["d", "d", "g", "end"] * 2  # n_critic D steps, then one G step, per batch
    for before, after in zip(snapshots.records[:-1], snapshots.records[1:], strict=True):
        (when, g_before, d_before), (_, g_after, d_after) = before, after
        if when == "d":  # from just before a D step to just before the next step: only D moved
            assert torch.equal(g_after, g_before) and not torch.equal(d_after, d_before)
        elif when == "g":  # from just before the G step to the batch's end: only G moved
            assert torch.equal(d_after, d_before) and not torch.equal(g_after, g_before)


# --- the VAE's bits per dimension ----------------------------------------------------------------------------


def _test_metrics(likelihood, datamodule: DigitsDataModule) -> dict[str, float]:
    torch.manual_seed(0)
    model = VAE(likelihood=likelihood, latent_dim=2, hidden_dims=[8], iw_samples=4)
    (metrics,) = tiny_trainer().test(model, datamodule=datamodule, verbose=False)
    return metrics


def test_bpd_is_nll_iw_plus_the_dequantisation_offset_over_d_log_2():
    """D = 64 pixels of 17 levels. Breaks tried (in the VAE): the offset left out, its sign flipped, bpd from
    `recon` instead of `nll_iw`, D·log 2 replaced by D; a grey-target Bernoulli given a bpd."""
    digits = DigitsDataModule(val_size=10, test_size=40)
    metrics = _test_metrics(GaussianLikelihood(0.1), digits)
    expected = (metrics["test/nll_iw"] + 64 * math.log(17)) / (64 * math.log(2))
    assert metrics["test/bpd"] == pytest.approx(expected, rel=1e-5)
    assert "test/bpd" not in _test_metrics(BernoulliLikelihood(), digits)  # not a code length: no bpd


# --- standard errors of the JSD and of the discriminator bound -------------------------------------------


def _spread_over_mean_se(estimates) -> float:
    values = torch.tensor([e.value for e in estimates], dtype=torch.float64)
    return values.std().item() / float(np.mean([e.se for e in estimates]))


def test_jsd_and_discriminator_bound_standard_errors_match_their_spread_over_repeats():
    """400 estimates from independent samples of p = N(0, 1) and q = N(1, 1), 100 of each: the spread of the
    estimates is the mean standard error within 30% (either way). D = sigmoid(1 − 2x), not D* = sigmoid(½ − x)
    (with D* the bound's estimate would be the JSD's own).
    Breaks tried: the two halves' errors added instead of in quadrature (spread/se 0.71), the ½ dropped (0.5),
    std/n instead of std/√n (×10)."""
    torch.manual_seed(0)
    p, q = Normal(0.0, 1.0), Normal(1.0, 1.0)
    x, y = p.sample((400, 100)).double(), q.sample((400, 100)).double()  # one repeat per row
    p_x, q_x, p_y, q_y = p.log_prob(x), q.log_prob(x), p.log_prob(y), q.log_prob(y)
    log_d_x, log_1m_d_y = F.logsigmoid(2 * (0.5 - x)), F.logsigmoid(2 * (y - 0.5))  # not D*: a loose bound
    jsds = [jensen_shannon(*terms) for terms in zip(p_x, q_x, p_y, q_y, strict=True)]
    bounds = [discriminator_jsd_bound(*terms) for terms in zip(log_d_x, log_1m_d_y, strict=True)]
    for estimates in (jsds, bounds):
        ratio = _spread_over_mean_se(estimates)
        assert 1 / 1.3 < ratio < 1.3, ratio


# --- the KDE's bandwidth, cross-validated on m points and used on n ------------------------------------------


@pytest.mark.parametrize("dims", [2, 3])
def test_kde_bandwidth_is_rescaled_by_m_over_n_to_the_one_over_d_plus_4(dims):
    """The one candidate bandwidth h wins cross-validation on m = 50 of n = 400 points, and the KDE uses
    h·(m/n)^(1/(d+4)). Breaks tried: exponent 1/(d+2), 1/5, (n/m) instead of (m/n)."""
    points = torch.randn(400, dims, generator=torch.Generator().manual_seed(0))
    kde = fit_kde(points, cv_samples=50, bandwidths=np.array([0.3]))
    assert kde.cv_bandwidth == 0.3 and kde.cv_samples == 50 and kde.num_samples == 400
    assert kde.bandwidth == pytest.approx(0.3 * (50 / 400) ** (1 / (dims + 4)), rel=1e-12)
    assert kde.kde.bandwidth == kde.bandwidth  # the fitted scikit-learn KDE uses it
