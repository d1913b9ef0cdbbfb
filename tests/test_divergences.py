"""Entropy, KL and JSD estimators against closed forms, high-sample references and the data itself.

References are closed forms (`torch.distributions`), quadrature or Monte Carlo with 10⁶ samples, never the
estimators under test. Tolerances: `Z` standard errors of the Monte Carlo error, plus, where an estimate is
documented to carry a bias the error bar does not show (a KDE's smoothing and noise, the IWAE gap), that bias —
computed exactly where possible (a KDE of bandwidth h turns each mixture component's σ² into σ² + h²).
"""

from __future__ import annotations

import math
import subprocess
import sys
from functools import partial

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from torch.distributions import MultivariateNormal, Normal, kl_divergence

from lit_gen.callbacks import Divergences, MetricsJson, read_metrics
from lit_gen.data import GaussianMixture2D, MixtureDataModule
from lit_gen.evaluation.divergences import evaluate_divergences, model_draws
from lit_gen.metrics.divergences import (
    data_model_divergences,
    discriminator_jsd_bound,
    entropy,
    fit_kde,
    jensen_shannon,
    mean_with_se,
)
from lit_gen.metrics.divergences import (
    kl_divergence as estimate_kl,
)
from lit_gen.models import GAN, VAE, GaussianLikelihood, LearnedGaussianLikelihood

F64 = torch.float64
Z = 4.0  # standard errors; the seeds are fixed, so each test's outcome is deterministic
#: the documented floor of the KDE estimates on the 2D mixtures (data scored against a KDE of the data itself,
#: 5,000 samples; the grid's, the larger: KL 0.05 and 0.06, JSD 0.014 over seeds 0–4): smoothing plus the KDE's
#: own noise, which the error bar does not include
KDE_KL_FLOOR = 0.07
KDE_JSD_FLOOR = 0.016


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def gaussian(mean: list[float], cov: list[list[float]]) -> MultivariateNormal:
    return MultivariateNormal(torch.tensor(mean, dtype=F64), torch.tensor(cov, dtype=F64))


def assert_within(estimate, reference: float, z: float = Z, bias: float = 0.0) -> None:
    assert abs(estimate.value - reference) <= z * estimate.se + bias, (estimate, reference)


# --- Monte Carlo with exact densities -------------------------------------------------------------------


def test_entropy_of_a_gaussian_is_half_log_det_of_2_pi_e_sigma():
    p = gaussian([0.3, -1.0], [[0.5, 0.2], [0.2, 0.3]])
    estimate = entropy(p.log_prob(p.sample((20_000,))))
    closed_form = 0.5 * math.log(torch.det(2 * math.pi * math.e * p.covariance_matrix).item())
    torch.testing.assert_close(torch.tensor(closed_form, dtype=F64), p.entropy())  # the formula itself
    assert_within(estimate, closed_form)
    assert 0 < estimate.se < 0.02


def test_entropy_of_the_ring_is_log_modes_plus_a_component_entropy():
    ring = GaussianMixture2D.ring(std=0.01)  # modes 0.77 apart, 77 std: their overlap is nil
    x = ring.sample(5000, torch.Generator().manual_seed(1))
    closed_form = math.log(8) + math.log(2 * math.pi * math.e * 0.01**2)  # −4.29 nats
    assert_within(entropy(ring.log_prob(x)), closed_form)


def test_kl_between_two_gaussians_both_ways_matches_the_closed_form():
    p = gaussian([0.0, 0.0], [[1.0, 0.3], [0.3, 0.8]])
    q = gaussian([0.7, -0.4], [[1.5, 0.0], [0.0, 0.6]])
    x, y = p.sample((20_000,)), q.sample((20_000,))
    assert_within(estimate_kl(p.log_prob(x), q.log_prob(x)), kl_divergence(p, q).item())
    assert_within(estimate_kl(q.log_prob(y), p.log_prob(y)), kl_divergence(q, p).item())
    assert kl_divergence(p, q).item() > 20 * estimate_kl(p.log_prob(x), q.log_prob(x)).se  # far from 0


def test_standard_errors_are_calibrated():
    # 400 independent small estimates: their spread around the truth is what the error bars say
    p, q = gaussian([0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]]), gaussian([1.0, 0.0], [[2.0, 0.0], [0.0, 1.0]])
    x = p.sample((400, 100))
    estimates = [estimate_kl(p.log_prob(batch), q.log_prob(batch)) for batch in x]
    errors = torch.tensor([e.value for e in estimates]) - kl_divergence(p, q).item()
    mean_se = sum(e.se for e in estimates) / len(estimates)
    assert errors.std().item() == pytest.approx(mean_se, rel=0.15)


def test_jsd_of_two_gaussians_matches_quadrature():
    # shifted along x only: the JSD is that of the 1D marginals, computed by quadrature
    p, q = gaussian([0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]]), gaussian([1.5, 0.0], [[1.0, 0.0], [0.0, 1.0]])
    x, y = p.sample((20_000,)), q.sample((20_000,))
    estimate = jensen_shannon(p.log_prob(x), q.log_prob(x), p.log_prob(y), q.log_prob(y))
    grid = torch.linspace(-12, 14, 200_001, dtype=F64)
    a, b = Normal(0.0, 1.0).log_prob(grid).exp(), Normal(1.5, 1.0).log_prob(grid).exp()
    m = (a + b) / 2
    reference = 0.5 * torch.trapezoid(a * (a / m).log(), grid) + 0.5 * torch.trapezoid(b * (b / m).log(), grid)
    assert_within(estimate, reference.item())
    assert 0 < estimate.value < math.log(2)


def two_rings() -> tuple[GaussianMixture2D, GaussianMixture2D]:
    """Rings of 8 with std 0.02 and 0.03: modes far apart, so KL ≈ the components' KL in closed form."""
    return GaussianMixture2D.ring(std=0.02), GaussianMixture2D.ring(std=0.03)


def component_kl(std_p: float, std_q: float) -> float:
    """KL(N(0, σp² I₂) ‖ N(0, σq² I₂))."""
    r = std_p**2 / std_q**2
    return r - 1 - math.log(r)


def test_kl_and_jsd_between_known_mixtures_match_a_high_sample_reference():
    p, q = two_rings()
    g = torch.Generator().manual_seed(2)
    big_x, big_y = p.sample(1_000_000, g), q.sample(1_000_000, g)
    reference_kl = mean_with_se(p.log_prob(big_x) - q.log_prob(big_x))
    reference_jsd = jensen_shannon(p.log_prob(big_x), q.log_prob(big_x), p.log_prob(big_y), q.log_prob(big_y))
    assert reference_kl.value == pytest.approx(component_kl(0.02, 0.03), abs=5 * reference_kl.se)
    x, y = p.sample(5000, g), q.sample(5000, g)
    estimates = data_model_divergences(p.log_prob(x), q.log_prob(x), p.log_prob(y), q.log_prob(y))
    assert_within(estimates["kl_data_model"], reference_kl.value)
    assert_within(estimates["kl_model_data"], component_kl(0.03, 0.02))
    assert_within(estimates["jsd"], reference_jsd.value)
    # the identity the docs state: kl_data_model = −entropy_data − E_data[log q] = −entropy_data + nll
    e = estimates
    assert e["kl_data_model"].value == pytest.approx(e["nll"].value - e["entropy_data"].value, abs=1e-9)


def test_discriminator_bound_is_the_jsd_at_the_optimal_discriminator():
    p, q = two_rings()
    g = torch.Generator().manual_seed(3)
    x, y = p.sample(20_000, g), q.sample(20_000, g)
    logit = lambda t: p.log_prob(t) - q.log_prob(t)  # log D* − log(1 − D*)  # noqa: E731
    bound = discriminator_jsd_bound(torch.nn.functional.logsigmoid(logit(x)),
                                    torch.nn.functional.logsigmoid(-logit(y)))
    jsd = jensen_shannon(p.log_prob(x), q.log_prob(x), p.log_prob(y), q.log_prob(y))
    assert bound.value == pytest.approx(jsd.value, abs=1e-9)  # the same terms, at D = D*
    worse = discriminator_jsd_bound(torch.nn.functional.logsigmoid(0.5 * logit(x)),
                                    torch.nn.functional.logsigmoid(-0.5 * logit(y)))
    assert worse.value < bound.value - 0.005  # any other D gives less (the same samples: a paired comparison)


# --- kernel density estimates of samples (the GAN's p̂_g) ------------------------------------------------


def widened(mixture: GaussianMixture2D, bandwidth: float) -> GaussianMixture2D:
    """The mixture convolved with the KDE's kernel: what a KDE of its samples tends to as the sample grows."""
    return GaussianMixture2D(mixture.means, math.sqrt(mixture.std**2 + bandwidth**2))


def test_kde_estimates_match_the_kernel_smoothed_closed_form_and_the_truth_within_the_smoothing():
    p, q = two_rings()
    g = torch.Generator().manual_seed(4)
    kde = fit_kde(q.sample(5000, g))
    x, y = p.sample(2500, g), kde.sample(2500, g)
    estimates = data_model_divergences(p.log_prob(x), kde.log_prob(x), p.log_prob(y), kde.log_prob(y))
    smoothed = widened(q, kde.bandwidth)
    exact_smoothed = component_kl(0.02, smoothed.std)
    noise = 0.04  # the KDE's sampling noise, beyond its smoothing (documented floor, measured on the data itself)
    assert_within(estimates["kl_data_model"], exact_smoothed, bias=noise)
    # and the truth, once the smoothing bias (computed exactly from the fitted bandwidth) is allowed for
    assert_within(estimates["kl_data_model"], component_kl(0.02, 0.03),
                  bias=abs(exact_smoothed - component_kl(0.02, 0.03)) + noise)
    assert_within(estimates["kl_model_data"], component_kl(smoothed.std, 0.02), bias=noise)
    assert 0.001 < kde.bandwidth < 0.03  # cross-validated; Scott's rule would give ~0.17 on this ring


@pytest.mark.parametrize("shape", ["ring", "grid"])
def test_samples_of_the_data_itself_score_kl_and_jsd_near_zero(shape):
    data = MixtureDataModule(shape=shape, num_samples=12_000, val_size=3000, test_size=10)

    class DataSampler(torch.nn.Module):
        """A 'generator' whose samples are exact draws of the data distribution."""

        device = torch.device("cpu")

        def sample(self, num):
            return data.mixture.sample(num)

    result = evaluate_divergences(DataSampler(), data, "val", num_data=2500, num_model_samples=2500)
    e = result.estimates
    exact_entropy = math.log(data.mixture.num_modes) + math.log(2 * math.pi * math.e * data.mixture.std**2)
    assert_within(e["entropy_data"], exact_entropy)
    for key, floor in [("kl_data_model", KDE_KL_FLOOR), ("kl_model_data", KDE_KL_FLOOR), ("jsd", KDE_JSD_FLOOR)]:
        assert -Z * e[key].se <= e[key].value <= floor + Z * e[key].se, (key, e[key])
    assert result.provenance["model_density"]["density"] == "gaussian_kde"


def test_a_generator_that_drops_modes_scores_far_from_the_data():
    data = MixtureDataModule(shape="ring", num_samples=5000, val_size=2500, test_size=10)
    half = GaussianMixture2D(data.mixture.means[:4], data.mixture.std)  # 4 of the 8 modes

    class HalfSampler(torch.nn.Module):
        device = torch.device("cpu")

        def sample(self, num):
            return half.sample(num)

    e = evaluate_divergences(HalfSampler(), data, "val").estimates
    # KL(p_g ‖ p_data) = log 2 exactly (p_data = p_g / 2 wherever p_g lives); the KDE floor allowed on top
    assert_within(e["kl_model_data"], math.log(2), bias=KDE_KL_FLOOR)
    # on the kept modes p_g = 2 p_data, m = 1.5 p_data; on the dropped ones p_g = 0, m = p_data / 2:
    # KL(p_data ‖ m) = ½ log(2/3) + ½ log 2 = ½ log(4/3), KL(p_g ‖ m) = log(4/3), JSD = ¾ log(4/3)
    reference_jsd = 0.75 * math.log(4 / 3)
    assert_within(e["jsd"], reference_jsd, bias=KDE_JSD_FLOOR)
    assert e["kl_data_model"].value > 10  # the data's other modes are hundreds of std from any sample


# --- models with a density (the VAE's IWAE estimate) -----------------------------------------------------


def small_vae(**kwargs) -> VAE:
    return VAE(data_shape=(2,), levels=None, latent_dim=2, hidden_dims=[32], **kwargs)


def test_vae_draws_include_the_decoder_noise():
    model = small_vae(likelihood=GaussianLikelihood(sigma=0.5)).eval()
    torch.manual_seed(5)
    means = model.sample(4000)
    torch.manual_seed(5)
    draws = model_draws(model, 4000)  # the same z, then f(z) + σε
    assert (draws - means).std().item() == pytest.approx(0.5, rel=0.05)


def test_vae_kl_is_biased_up_by_the_iwae_gap_and_shrinks_with_more_importance_samples():
    seed_everything(0)
    data = MixtureDataModule(shape="ring", std=0.05, num_samples=4000, batch_size=200)
    model = small_vae(likelihood=LearnedGaussianLikelihood(init_sigma=0.1, per_dimension=True),
                      optimizer=partial(torch.optim.Adam, lr=3e-3))
    Trainer(accelerator="cpu", max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, limit_val_batches=0).fit(model, datamodule=data)
    model.eval()
    one = evaluate_divergences(model, data, "val", num_data=400, num_model_samples=400, iw_samples=1).estimates
    many = evaluate_divergences(model, data, "val", num_data=400, num_model_samples=400, iw_samples=200).estimates
    gap = one["kl_data_model"].value - many["kl_data_model"].value  # paired: the same points, the ELBO's gap
    assert gap > Z * math.hypot(one["kl_data_model"].se, many["kl_data_model"].se)
    assert one["kl_model_data"].value < many["kl_model_data"].value  # the other direction is biased down
    assert one["entropy_data"] == many["entropy_data"]  # the data side does not depend on the model


# --- the callback ----------------------------------------------------------------------------------------


def quiet_trainer(root, **kwargs) -> Trainer:
    defaults = dict(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False, num_sanity_val_steps=0, default_root_dir=root)
    return Trainer(**{**defaults, **kwargs})


SMALL = dict(num_data=300, num_model_samples=300, kde_samples=400, kde_cv_samples=200)
KEYS = ["entropy_data", "kl_data_model", "kl_model_data", "jsd"]


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_callback_logs_every_estimate_with_its_error_at_val_and_test(tmp_path, kind):
    seed_everything(0)
    data = MixtureDataModule(shape="ring", num_samples=3000, batch_size=100)
    if kind == "gan":
        model = GAN(latent_dim=2, generator_hidden=[16], discriminator_hidden=[16])
    else:
        model = small_vae(likelihood=LearnedGaussianLikelihood(per_dimension=True), iw_samples=10)
    trainer = quiet_trainer(tmp_path, max_epochs=2, limit_train_batches=2, limit_val_batches=1, limit_test_batches=1,
                            callbacks=[MetricsJson(), Divergences(every_n_epochs=2, **SMALL)])
    trainer.fit(model, datamodule=data)
    logged = trainer.callback_metrics
    for key in KEYS:
        assert math.isfinite(logged[f"val/{key}"]) and logged[f"val/{key}_se"] > 0, key
    trainer.validate(model, datamodule=data, verbose=False)
    trainer.test(model, datamodule=data, verbose=False)
    content = read_metrics(tmp_path)
    metrics, meta = content["metrics"], content["meta"]["divergences"]
    for split in ("val", "test"):
        for key in KEYS:
            assert f"{split}/{key}" in metrics and f"{split}/{key}_se" in metrics
        assert meta[split]["data_points"] == 300 and meta[split]["model_samples"] == 300
    ring_entropy = math.log(8) + math.log(2 * math.pi * math.e * 0.01**2)
    assert metrics["test/entropy_data"] == pytest.approx(ring_entropy, abs=Z * metrics["test/entropy_data_se"])
    expected = "importance_weighted (IWAE)" if kind == "vae" else "gaussian_kde"
    assert meta["test"]["model_density"]["density"] == expected


def test_callback_skips_epochs_and_data_without_a_density(tmp_path):
    seed_everything(0)
    data = MixtureDataModule(shape="ring", num_samples=3000, batch_size=100)
    model = small_vae(iw_samples=5)
    trainer = quiet_trainer(tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=1,
                            callbacks=[Divergences(every_n_epochs=0, **SMALL)])
    trainer.fit(model, datamodule=data)
    assert "val/kl_data_model" not in trainer.callback_metrics  # every_n_epochs 0: not while fitting
    data.log_density = None  # a data set without an exact density
    trainer.validate(model, datamodule=data, verbose=False)
    assert "val/kl_data_model" not in trainer.callback_metrics


def test_callback_refuses_tiny_sample_counts():
    with pytest.raises(ValueError, match="num_data"):
        Divergences(num_data=1)


DDP_SCRIPT = '''
import sys
from pathlib import Path

import torch
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.strategies import DDPStrategy

from lit_gen.callbacks import Divergences
from lit_gen.data import MixtureDataModule
from lit_gen.models import GAN

out = Path(sys.argv[1])
seed_everything(0)
torch.set_num_threads(1)
data = MixtureDataModule(shape="ring", num_samples=4000, batch_size=128)
model = GAN(latent_dim=2, generator_hidden=[16], discriminator_hidden=[16])
trainer = Trainer(accelerator="cpu", devices=2, strategy=DDPStrategy(find_unused_parameters=True), max_epochs=1,
                  limit_train_batches=2, limit_val_batches=1, logger=False, enable_checkpointing=False,
                  enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(out),
                  callbacks=[Divergences(num_data=300, num_model_samples=300, kde_samples=400, kde_cv_samples=200)])
trainer.validate(model, datamodule=data, verbose=False)
metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if "kl_" in k or "jsd" in k}
torch.save(metrics, out / f"rank{trainer.global_rank}.pt")
'''


@pytest.mark.slow
def test_under_ddp_rank_zero_computes_and_every_rank_logs_the_same_numbers(tmp_path):
    script = tmp_path / "ddp_divergences.py"
    script.write_text(DDP_SCRIPT)  # DDP re-executes sys.argv: it cannot run inside pytest
    result = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True,
                            timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    assert {"val/kl_data_model", "val/kl_model_data", "val/jsd"} <= set(ranks[0])
    assert ranks[0] == ranks[1]
