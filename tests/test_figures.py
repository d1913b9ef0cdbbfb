"""The figures render readably (fixed size, not blank, the no-data mask, the originals' rows first) and the GAN's
closing summary says which generator and which bound."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from lit_gen.data.mixture import GaussianMixture2D
from lit_gen.evaluation.optimal_discriminator import figure_grid
from lit_gen.plotting import save_discriminator_figure, save_reconstruction_grid
from lit_gen.run.readings import gan_readings

SIGMA = "model.init_args.sigma"


def _pixels(path, size):
    image = Image.open(path).convert("RGB")
    assert abs(image.size[0] - size[0]) <= 1 and abs(image.size[1] - size[1]) <= 1, image.size
    pixels = np.asarray(image)
    assert pixels.std() > 10, "a blank figure"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50, "too few colours for a plot"
    return pixels


def _trial(sigma, recon, kl):
    return SimpleNamespace(params={SIGMA: sigma},
                           user_attrs={"metrics": {"val/recon": recon, "val/kl": kl, "val/nll_iw": recon + kl - 1}})


def test_tradeoff_figure_draws_every_trial_even_two_with_one_sigma(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lit_gen.sweep.report import _tradeoff_plot

    trials = [_trial(s, 64 * math.log(s) + 1 / s, 20 / (1 + 5 * s)) for s in (0.01, 0.03, 0.1, 0.3, 1.0)]
    trials.append(_trial(0.1, 5.0, 9.0))  # the same σ as another trial: sorting must not compare their metrics
    trials.append(SimpleNamespace(params={SIGMA: 0.5}, user_attrs={}))  # no metrics recorded: skipped, no error
    out = _tradeoff_plot(trials, SIGMA, tmp_path / "tradeoff_sigma.png", plt)
    _pixels(out, (825, 528))


def test_discriminator_figure_greys_out_where_neither_density_has_mass(tmp_path):
    data_mixture, model_mixture = GaussianMixture2D.ring(std=0.02), GaussianMixture2D.ring(std=0.08)
    generator = torch.Generator().manual_seed(0)
    data, generated = data_mixture.sample(500, generator), model_mixture.sample(500, generator)
    grid = figure_grid(data, generated, resolution=60)
    log_p_data, log_p_g = data_mixture.log_prob(grid).float(), model_mixture.log_prob(grid).float()
    d_star = torch.sigmoid(log_p_data - log_p_g)
    d = 0.5 + 0.04 * torch.tanh(grid[:, 0])  # a D close to ½, as near equilibrium
    out = save_discriminator_figure(grid, d, d_star, tmp_path / "discriminator.png", data, generated, 0.3,
                                    log_p_data=log_p_data, log_p_g=log_p_g)
    pixels = _pixels(out, (1350, 480))
    grey = (np.abs(pixels.astype(int) - 217).max(axis=2) <= 1).mean()  # "0.85" grey: the masked no-data region
    assert grey > 0.1
    blue_or_red = (np.abs(pixels[..., 0].astype(int) - pixels[..., 2]) > 40).mean()
    assert blue_or_red > 0.05  # D and D* coloured, not blank


def test_figure_grid_covers_the_data_and_the_bulk_of_the_samples_not_a_wild_one():
    data = torch.tensor([[-1.0, -1.0], [1.0, 1.0]])
    generated = torch.cat([torch.rand(500, 2) * 4 - 2, torch.tensor([[100.0, -100.0]])])
    grid = figure_grid(data, generated, resolution=10)
    assert grid.shape == (100, 2)
    assert grid[:, 0].min() < -2.0 and grid[:, 0].max() > 2.0  # the samples' bulk, padded
    assert grid.abs().max() < 3.0  # the one sample at (100, −100) does not shrink the picture


def test_reconstruction_grid_puts_labelled_originals_above_reconstructions(tmp_path):
    originals, reconstructions = torch.full((16, 1, 8, 8), 0.5), torch.zeros(16, 1, 8, 8)
    out = save_reconstruction_grid(originals, reconstructions, tmp_path / "reconstructions.png")
    # 8 images of 32 + padding per row: 274 wide; 4 rows of 36, a gap of 6 under each reconstruction row
    _pixels(out, (100 * (2 + 274 / 60), 100 * (0.3 + 156 / 60)))
    pixels = np.asarray(Image.open(out).convert("L")).astype(int)
    column = pixels[:, pixels.shape[1] // 2]  # a column through the images
    below_title = np.arange(len(column)) > 30
    first_grey = np.flatnonzero((column > 100) & (column < 160))[0]
    first_black = np.flatnonzero((column < 40) & below_title)[0]
    assert first_grey < first_black  # the (grey) originals' row first, then the (black) reconstructions'


@pytest.mark.parametrize("ema_decay, says", [(0.999, "EMA generator (ema_decay=0.999); value and d_star_error"),
                                             (None, "describe the generator")])
def test_gan_summary_says_which_generator_and_which_bound(ema_decay, says):
    lines = gan_readings({"test/jsd": 0.3, "test/jsd_lower_bound": 0.0, "test/value": -1.3}, ema_decay)
    assert len(lines) == 2 and says in lines[0]
    assert "lower bound on jsd" in lines[1] and "same points and samples" in lines[1]
    assert gan_readings({"test/elbo": -3.0, "test/jsd": 0.2}, None) == []  # a VAE: nothing to explain


def test_fit_summary_prints_the_gan_readings(tmp_path, capsys):
    from lit_gen.lightning_cli import print_summary

    metrics = {"test/jsd": 0.31, "test/jsd_lower_bound": 0.01, "test/d_star_error": 0.2}
    (tmp_path / "metrics.json").write_text(json.dumps({"metrics": metrics, "meta": {}}))
    print_summary(tmp_path, (2,), ema_decay=0.99)
    printed = capsys.readouterr().out
    assert "test/jsd_lower_bound" in printed and "the EMA generator (ema_decay=0.99)" in printed
    assert "a lower bound on jsd from the trained D" in printed
