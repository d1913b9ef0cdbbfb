"""The GAN: its losses, the alternating update, the optimal discriminator, mode statistics, DDP."""

from __future__ import annotations

import math
import subprocess
import sys
from functools import partial

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from torch import nn
from torch.distributions import Normal

from lit_gen.callbacks import DiscriminatorVsOptimal, ModeCoverage
from lit_gen.data import GaussianMixture2D, MixtureDataModule
from lit_gen.metrics.mixture import mode_statistics
from lit_gen.metrics.optimal_discriminator import d_star_error, optimal_discriminator
from lit_gen.models import GAN
from lit_gen.models.gan_losses import discriminator_loss, generator_loss, jsd_lower_bound, value_function
from tests.conftest import REPO


def quiet_trainer(**kwargs) -> Trainer:
    defaults = dict(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False, num_sanity_val_steps=0)
    return Trainer(**{**defaults, **kwargs})


# --- losses ---------------------------------------------------------------------------------------------

def test_minimax_losses_are_exactly_the_value_function():
    real, fake = torch.randn(64), torch.randn(64)
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    value = d_real.log().mean() + (1 - d_fake).log().mean()
    torch.testing.assert_close(value_function(real, fake), value)
    torch.testing.assert_close(discriminator_loss("minimax", real, fake), -value)  # D ascends V
    torch.testing.assert_close(generator_loss("minimax", fake), (1 - d_fake).log().mean())  # G descends V's term
    torch.testing.assert_close(generator_loss("non_saturating", fake), -d_fake.log().mean())


def test_hinge_and_wasserstein_losses():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.5])
    assert discriminator_loss("hinge", real, fake).item() == pytest.approx((0 + 0.5) / 2 + (0 + 1.5) / 2)
    assert discriminator_loss("wasserstein_gp", real, fake).item() == pytest.approx(-0.75 - 1.25)
    assert generator_loss("hinge", fake).item() == pytest.approx(0.75)


def test_jsd_bound_at_the_optimum_is_the_jsd():
    # p_data = N(0, 1), p_g = N(1, 1): at D*, V = 2 JSD - log 4; estimate V by Monte Carlo with exact log D*
    torch.manual_seed(0)
    x, y = torch.randn(400_000), torch.randn(400_000) + 1.0
    logit = lambda t: -0.5 * t**2 + 0.5 * (t - 1) ** 2  # log p_data - log p_g, the logit of D*  # noqa: E731
    bound = jsd_lower_bound(value_function(logit(x), logit(y)))
    # reference JSD by quadrature
    grid = torch.linspace(-12, 13, 200_001, dtype=torch.float64)
    p, q = (-0.5 * grid**2).exp() / math.sqrt(2 * math.pi), (-0.5 * (grid - 1) ** 2).exp() / math.sqrt(2 * math.pi)
    m = (p + q) / 2
    jsd = 0.5 * torch.trapezoid(p * (p / m).log(), grid) + 0.5 * torch.trapezoid(q * (q / m).log(), grid)
    assert float(bound) == pytest.approx(float(jsd), abs=3e-3)


def test_at_d_star_minimax_descends_2_jsd_and_non_saturating_descends_kl_minus_2_jsd():
    # p_data = N(0, 1), G_θ(z) = θ + z; D* for θ0 held fixed while G moves (what G sees in one step). The
    # expectation over z by the midpoint rule in probability: z_i = Φ⁻¹((i + ½)/n), so the losses' means are it
    theta0, n = 1.0, 100_000
    z = torch.special.ndtri((torch.arange(n, dtype=torch.float64) + 0.5) / n)
    d_star_logit = lambda x: -theta0 * x + theta0**2 / 2  # log N(x; 0, 1) − log N(x; θ0, 1)  # noqa: E731

    def gradient(loss: str) -> float:
        theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
        generator_loss(loss, d_star_logit(theta + z)).backward()
        return float(theta.grad)

    def jsd(theta: float) -> float:
        grid = torch.linspace(-14, 15, 100_001, dtype=torch.float64)
        p, q = Normal(0.0, 1.0).log_prob(grid).exp(), Normal(theta, 1.0).log_prob(grid).exp()
        m = (p + q) / 2
        return float(0.5 * torch.trapezoid(p * (p / m).log(), grid) + 0.5 * torch.trapezoid(q * (q / m).log(), grid))

    h = 1e-3  # a smaller step meets the grid's own discretisation error
    d_jsd = (jsd(theta0 + h) - jsd(theta0 - h)) / (2 * h)
    d_kl = theta0  # KL(N(θ, 1) ‖ N(0, 1)) = θ²/2
    assert d_jsd > 0.1  # far from a flat point: the two rules below differ by far more than the tolerance
    assert gradient("minimax") == pytest.approx(2 * d_jsd, abs=3e-5)  # V(D*, G) = 2·JSD − log 4
    assert gradient("non_saturating") == pytest.approx(d_kl - 2 * d_jsd, abs=3e-5)  # Arjovsky & Bottou 2017


def test_hinge_at_its_optimal_d_is_total_variation():
    # distributions on 3 points, as 10 samples each: p_data = (.5, .3, .2), p_g = (.2, .2, .6); TV = 0.4
    p, q = torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.2, 0.2, 0.6])
    real_at, fake_at = torch.repeat_interleave(torch.arange(3), (10 * p).round().long()), \
        torch.repeat_interleave(torch.arange(3), (10 * q).round().long())
    tv = 0.5 * float((p - q).abs().sum())
    levels = torch.linspace(-2, 2, 9)
    candidates = torch.cartesian_prod(levels, levels, levels)  # one logit per point
    losses = torch.stack([discriminator_loss("hinge", logit[real_at], logit[fake_at]) for logit in candidates])
    best = candidates[losses.argmin()]
    assert float(losses.min()) == pytest.approx(2 - 2 * tv)  # D's optimal loss: 2 − 2·TV
    torch.testing.assert_close(best, torch.sign(p - q))  # at l* = sign(p_data − p_g)

    def total_variation_x2(g):
        return float((p - g).abs().sum())

    def generator_loss_at(g):  # l* held fixed, G's distribution moved to g (an expectation over 3 points)
        return sum(float(g[i] * generator_loss("hinge", best[i : i + 1])) for i in range(3))

    step = torch.tensor([0.01, 0.02, -0.03])  # a small move of G's mass
    assert generator_loss_at(q + step) - generator_loss_at(q) == pytest.approx(
        total_variation_x2(q + step) - total_variation_x2(q))  # the gradient of 2·TV


# --- mode statistics ------------------------------------------------------------------------------------

def test_mode_statistics_follow_the_veegan_protocol():
    grid = GaussianMixture2D.grid()
    perfect = grid.sample(2500, torch.Generator().manual_seed(0))
    stats = mode_statistics(perfect, grid.means, grid.std)
    assert stats.modes_covered == 25 and stats.high_quality > 0.98 and stats.reverse_kl < 0.02
    # all mass on 5 modes, plus 500 far-away points
    on_five = grid.means[:5].float().repeat(400, 1) + 0.01 * torch.randn(2000, 2)
    collapsed = torch.cat([on_five, torch.full((500, 2), 10.0)])
    stats = mode_statistics(collapsed, grid.means, grid.std)
    assert stats.modes_covered == 5
    assert stats.high_quality == pytest.approx(0.8)
    assert stats.reverse_kl == pytest.approx(math.log(25 / 5), rel=1e-6)  # KL(uniform on 5 ‖ uniform on 25)


# --- the optimal discriminator --------------------------------------------------------------------------

class AffineGenerator(nn.Module):
    """G(z) = A z + b with z ~ N(0, I): p_g = N(b, A Aᵀ), known exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[0.9, 0.0], [0.3, 0.6]]))
            self.linear.bias.copy_(torch.tensor([0.3, -0.2]))

    def forward(self, z):
        return self.linear(z)

    def log_prob(self, x):
        a, b = self.linear.weight.double(), self.linear.bias.double()
        return torch.distributions.MultivariateNormal(b, a @ a.T).log_prob(x.double())


@pytest.mark.slow
def test_discriminator_trained_against_a_fixed_generator_approaches_d_star():
    seed_everything(0)
    data = MixtureDataModule(shape="ring", radius=1.0, std=0.3, num_samples=20_000, batch_size=256)
    frozen = partial(torch.optim.SGD, lr=0.0)  # the generator takes its steps, of size zero
    model = GAN(latent_dim=2, loss="minimax", discriminator_hidden=[64, 64], generator_optimizer=frozen,
                discriminator_optimizer=partial(torch.optim.Adam, lr=2e-3))
    generator = AffineGenerator()
    model.generator = generator

    def error() -> float:
        with torch.no_grad():
            data_points = data.raw_split("val")[:4000].float()
            generated = generator(torch.randn(4000, 2))
            return d_star_error(model.discriminator_probability, data.mixture.log_prob, generator.log_prob,
                                data_points, generated)

    before = error()
    quiet_trainer(max_epochs=12, limit_val_batches=0).fit(model, datamodule=data)
    after = error()
    assert before > 0.15  # an untrained D is far from D*
    assert after < 0.04, f"mean |D - D*| = {after:.3f} (was {before:.3f})"
    # at D ≈ D*, the JSD bound approaches the true JSD from below: check the bound is a bound
    with torch.no_grad():
        x = data.raw_split("val").float()
        g = generator(torch.randn(len(x), 2))
        log_p, log_q = data.mixture.log_prob, generator.log_prob
        exact_logit = lambda t: (log_p(t) - log_q(t)).float()  # noqa: E731
        true_value = value_function(exact_logit(x), exact_logit(g))
        learned_value = value_function(model.critic(x), model.critic(g))
    assert float(learned_value) <= float(true_value) + 0.01
    assert float(learned_value) == pytest.approx(float(true_value), abs=0.03)


def test_optimal_discriminator_is_a_stable_ratio():
    log_p = torch.tensor([-1000.0, 0.0, -3.0])
    log_q = torch.tensor([-1001.0, 0.0, -1.0])
    d = optimal_discriminator(log_p, log_q)
    torch.testing.assert_close(d, torch.tensor([1 / (1 + math.exp(-1)), 0.5, 1 / (1 + math.exp(2))]))


# --- the update rule ------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", ["minimax", "non_saturating", "hinge", "wasserstein_gp"])
def test_every_loss_trains_and_counts_n_critic_plus_one_steps_per_batch(loss):
    seed_everything(0)
    data = MixtureDataModule(shape="grid", num_samples=2000, batch_size=100)
    model = GAN(latent_dim=4, generator_hidden=[16], discriminator_hidden=[16], loss=loss, n_critic=2,
                spectral_norm=loss == "hinge", pack=2 if loss == "minimax" else 1, r1_gamma=0.1, ema_decay=0.9,
                clip_grad_norm=1.0)
    before = [p.clone() for p in model.generator.parameters()]
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=5, limit_val_batches=1,
                            callbacks=[ModeCoverage(num_samples=200), DiscriminatorVsOptimal(num_samples=200,
                                                                                              resolution=4)])
    trainer.fit(model, datamodule=data)
    assert trainer.global_step == 5 * (2 + 1)  # documented: global_step counts every optimizer step
    assert any(not torch.equal(a, b) for a, b in zip(before, model.generator.parameters(), strict=True))
    metrics = trainer.callback_metrics
    assert {"val/modes_covered", "val/high_quality", "val/reverse_kl"} <= set(metrics)
    for key in ("val/value", "val/d_star_error"):  # probability D and pack 1 only
        assert (key in metrics) == (loss == "non_saturating"), key


def test_ema_generator_is_what_gets_evaluated():
    model = GAN(latent_dim=4, generator_hidden=[8], discriminator_hidden=[8], ema_decay=0.5)
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(1.0)  # the raw generator moves; the EMA has not been updated
    z = torch.randn(3, 4)
    torch.testing.assert_close(model.decode(z), model.generator_ema.module(z))
    assert not torch.allclose(model.decode(z), model.generator(z))


def test_max_steps_is_measured_in_optimizer_steps():
    data = MixtureDataModule(num_samples=2000, batch_size=100)
    model = GAN(latent_dim=4, generator_hidden=[8], discriminator_hidden=[8], n_critic=3)
    trainer = quiet_trainer(max_steps=8, limit_val_batches=0)
    trainer.fit(model, datamodule=data)
    assert trainer.global_step == 8 and trainer.fit_loop.epoch_loop.batch_progress.total.completed == 2


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_ddp_on_two_cpu_processes_keeps_ranks_identical(tmp_path, kind):
    script = REPO / "tests" / "scripts" / "ddp_train.py"
    result = subprocess.run([sys.executable, str(script), kind, str(tmp_path)], capture_output=True, text=True,
                            timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    assert ranks[0]["world_size"] == 2 and ranks[0]["global_step"] > 0
    torch.testing.assert_close(ranks[0]["params"], ranks[1]["params"], rtol=0, atol=0)


def test_ema_decay_warms_up_then_holds():
    from lit_gen.models.gan import WarmEMA

    ema = WarmEMA(0.999)
    averaged, current = [torch.zeros(3)], [torch.ones(3)]
    ema(averaged, current, torch.tensor(0))  # first update: decay (1 + 0)/(10 + 0) = 0.1
    torch.testing.assert_close(averaged[0], torch.full((3,), 0.9))
    averaged = [torch.zeros(3)]
    ema(averaged, current, torch.tensor(100_000))  # later: the configured decay
    torch.testing.assert_close(averaged[0], torch.full((3,), 0.001))
    counters = [torch.tensor(3)]
    ema(counters, [torch.tensor(7)], torch.tensor(5))  # integer buffers are copied, not averaged
    assert counters[0].item() == 7
