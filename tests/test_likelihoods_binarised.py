"""The binarised Bernoulli likelihood: val/test binarisation is a fixed function of the example, training's is fresh.

An example must binarise the same way whatever batch it arrives in, or `test/nll_iw` and `test/bpd` would change
with `eval_batch_size` (they did while val/test batches were binarised by a generator seeded once per batch).
"""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch import Trainer
from torch import nn

from lit_gen.data import DigitsDataModule
from lit_gen.models import VAE, BernoulliLikelihood

#: Monte Carlo tolerance in standard errors (fixed seeds: deterministic outcome)
Z = 4.0


def binariser(seed: int = 0, shape=(1, 8, 8), levels: int = 17) -> BernoulliLikelihood:
    likelihood = BernoulliLikelihood(binarize=True, eval_seed=seed)
    likelihood.bind(shape, levels)
    return likelihood.eval()


def test_each_pixel_is_one_with_its_intensity_and_pixels_are_uncorrelated():
    torch.manual_seed(0)
    raw = torch.randint(0, 17, (4000, 1, 8, 8)).float()
    x = binariser().prepare(raw)
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    levels = raw.long().flatten()
    count = torch.bincount(levels, minlength=17).double()
    frequency = torch.bincount(levels, weights=x.flatten().double(), minlength=17) / count
    p = torch.arange(17, dtype=torch.float64) / 16
    assert ((frequency - p).abs() <= Z * (p * (1 - p) / count).sqrt() + 1e-12).all(), frequency - p
    # pixels of grey level 8 (p = ½) everywhere but a random first row: every pair of other pixels uncorrelated
    raw = torch.full((4000, 1, 8, 8), 8.0)
    raw[:, 0, 0] = torch.randint(0, 17, (4000, 8)).float()
    bits = binariser().prepare(raw).flatten(1)[:, 8:]
    correlations = torch.corrcoef(bits.T).fill_diagonal_(0)
    assert correlations.abs().max() < Z * 1.3 / math.sqrt(4000)  # max of 56·55/2 pairs, each with se 1/√n


def test_an_example_binarises_alike_in_any_batch_but_differs_by_content_and_seed():
    torch.manual_seed(1)
    raw = torch.randint(0, 17, (30, 1, 8, 8)).float()
    likelihood = binariser(seed=3)
    whole = likelihood.prepare(raw)
    for size in (1, 2, 4, 7):
        assert torch.equal(torch.cat([likelihood.prepare(batch) for batch in raw.split(size)]), whole), size
    assert torch.equal(likelihood.prepare(raw.flip(0)), whole.flip(0))  # nor on its place in the batch
    assert torch.equal(likelihood.prepare(raw.to(torch.uint8)), whole)  # nor on how the levels are stored
    # another seed, or one pixel changed, gives the example another binarisation of its other pixels
    assert not torch.equal(binariser(seed=4).prepare(raw), whole)
    changed = raw.clone()
    changed[:, 0, 0, 0] = (changed[:, 0, 0, 0] + 1) % 17
    differs = (likelihood.prepare(changed) != whole).flatten(1)[:, 1:].any(1)
    assert differs.all()


def test_training_still_binarises_afresh_every_batch():
    likelihood = binariser()
    likelihood.train()
    raw = torch.full((50, 1, 8, 8), 8.0)
    assert not torch.equal(likelihood.prepare(raw), likelihood.prepare(raw))


def _deterministic_vae() -> VAE:
    torch.manual_seed(0)
    model = VAE(likelihood=BernoulliLikelihood(binarize=True), latent_dim=2, hidden_dims=[8], iw_samples=3)
    # q(z|x) = p(z) = N(0, I) and a decoder that ignores z: every importance weight is p(x|z) = p(x), so
    # nll_iw = −log p(x) exactly, with no Monte Carlo noise; what is left to differ is the binarisation
    with torch.no_grad():
        for parameter in model.encoder.parameters():
            parameter.zero_()
        *_, last = (m for m in model.decoder.modules() if isinstance(m, nn.Linear))
        last.weight.zero_()
        last.bias.copy_(torch.linspace(-2.0, 2.0, last.bias.numel()))
    return model.eval()


def test_test_metrics_do_not_depend_on_the_eval_batch_size():
    model = _deterministic_vae()
    binarised, nll = {}, {}
    for size in (2, 4):
        datamodule = DigitsDataModule(eval_batch_size=size, val_size=10, test_size=21)
        batches = [model.prepare(batch) for batch in datamodule.test_dataloader()]
        binarised[size] = torch.cat(batches)
        nll[size] = torch.cat([-model.log_marginal_likelihood(x) for x in batches])
    assert binarised[2].shape == (21, 1, 8, 8)
    assert torch.equal(binarised[2], binarised[4])
    torch.testing.assert_close(nll[2], nll[4], rtol=1e-6, atol=0)
    # and `trainer.test` logs the same: the mean over the split, whatever its batch size
    trainer = Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, accelerator="cpu")
    datamodule = DigitsDataModule(eval_batch_size=2, val_size=10, test_size=21)
    (metrics,) = trainer.test(model, datamodule=datamodule, verbose=False)
    assert metrics["test/nll_iw"] == pytest.approx(nll[4].mean().item(), rel=1e-6)
    assert metrics["test/bpd"] == pytest.approx(nll[4].mean().item() / (64 * math.log(2)), rel=1e-6)
