from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lit_gen.data import (
    DigitsDataModule,
    GaussianMixture2D,
    ImageFolderDataModule,
    MixtureDataModule,
    MNISTDataModule,
)
from lit_gen.data.loader import PermutationSampler, TensorBatchLoader
from lit_gen.errors import LitGenError
from tests.helpers import write_fake_mnist


def test_digits_are_the_embedded_set_with_17_levels_and_a_fixed_split():
    dm = DigitsDataModule()
    assert dm.split_sizes == {"train": 1350, "val": 150, "test": 297}
    train = dm.raw_split("train")
    assert train.shape[1:] == (1, 8, 8) == dm.data_shape
    assert torch.equal(train.unique(), torch.arange(17, dtype=train.dtype))
    assert dm.levels == 17


def test_splits_are_deterministic_disjoint_and_depend_on_the_split_seed():
    def rows(dm, split):
        return {tuple(r.flatten().tolist()) for r in dm.raw_split(split)}

    a, b, c = DigitsDataModule(split_seed=0), DigitsDataModule(split_seed=0), DigitsDataModule(split_seed=1)
    assert torch.equal(a.raw_split("test"), b.raw_split("test"))
    assert not torch.equal(a.raw_split("test"), c.raw_split("test"))
    # digits has duplicate images, so compare by index coverage rather than by content
    total = sum(a.split_sizes.values())
    assert total == 1797
    assert len(rows(a, "train") & rows(a, "test")) < 10  # only true duplicates of the data set may coincide


def test_loader_visits_every_example_once_per_epoch_and_reshuffles():
    data = torch.arange(103).float()
    sampler = PermutationSampler(103, shuffle=True, seed=3)
    loader = TensorBatchLoader(data, batch_size=10, sampler=sampler)
    assert len(loader) == 11
    first = torch.cat(list(loader))
    assert sorted(first.tolist()) == list(range(103))
    sampler.set_epoch(1)
    second = torch.cat(list(loader))
    assert sorted(second.tolist()) == list(range(103)) and not torch.equal(first, second)
    sampler.set_epoch(0)
    assert torch.equal(torch.cat(list(loader)), first)  # the order is a function of (seed, epoch)


def test_the_training_order_follows_the_run_seed_unless_a_shuffle_seed_is_given(monkeypatch):
    def first_batch(dm):
        dm.setup("fit")
        return next(iter(dm.train_dataloader()))

    monkeypatch.setenv("PL_GLOBAL_SEED", "1")  # what `seed_everything(1)` sets
    run_seed_1 = first_batch(DigitsDataModule())
    assert torch.equal(run_seed_1, first_batch(DigitsDataModule(shuffle_seed=1)))
    assert not torch.equal(run_seed_1, first_batch(DigitsDataModule(shuffle_seed=2)))
    monkeypatch.setenv("PL_GLOBAL_SEED", "2")
    assert torch.equal(first_batch(DigitsDataModule()), first_batch(DigitsDataModule(shuffle_seed=2)))
    monkeypatch.delenv("PL_GLOBAL_SEED")
    assert torch.equal(first_batch(DigitsDataModule()), first_batch(DigitsDataModule(shuffle_seed=0)))


def test_loader_shards_like_distributed_sampler():
    data = torch.arange(11)
    shards = []
    for rank in range(3):
        sampler = PermutationSampler(11, shuffle=True, seed=0, num_replicas=3, rank=rank)
        shards.append(torch.cat(list(TensorBatchLoader(data, batch_size=2, sampler=sampler))))
    assert all(len(s) == 4 for s in shards)  # padded to 12 = 3 x 4
    assert set(torch.cat(shards).tolist()) == set(range(11))


def test_loader_yields_labels_alongside_examples():
    dm = DigitsDataModule(batch_size=32)
    x, y = next(iter(dm.labelled_loader("train")))
    assert x.shape == (32, 1, 8, 8) and y.shape == (32,) and y.dtype == torch.long


@pytest.mark.parametrize("mixture,modes", [(GaussianMixture2D.ring(), 8), (GaussianMixture2D.grid(), 25)])
def test_mixture_defaults_follow_pacgan(mixture, modes):
    assert mixture.num_modes == modes
    if modes == 8:
        assert mixture.std == 0.01 and torch.allclose(mixture.means.norm(dim=1), torch.ones(8, dtype=torch.float64))
    else:
        assert mixture.std == 0.05 and set(mixture.means[:, 0].tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}


def test_mixture_samples_sit_on_their_modes():
    mixture = GaussianMixture2D.ring(radius=2.0, std=0.02)
    x = mixture.sample(5000, torch.Generator().manual_seed(0)).double()
    nearest = torch.cdist(x, mixture.means).min(dim=1).values
    # the distance to the nearest mode is Rayleigh(std): mean std * sqrt(pi / 2)
    assert nearest.mean().item() == pytest.approx(0.02 * math.sqrt(math.pi / 2), rel=0.05)
    counts = torch.bincount(torch.cdist(x, mixture.means).argmin(dim=1), minlength=8)
    assert counts.min() > 500


def test_mixture_datamodule_exposes_the_exact_density():
    dm = MixtureDataModule(shape="grid", num_samples=2000)
    x = dm.raw_split("train")
    assert x.shape[1:] == (2,) and dm.levels is None
    assert torch.isfinite(dm.log_density(x)).all()


def test_missing_torchvision_files_name_the_folder_and_files(in_tmp):
    dm = MNISTDataModule(data_dir=str(in_tmp / "nowhere"))
    with pytest.raises(LitGenError) as error:
        dm.setup()
    message = str(error.value)
    assert str(in_tmp / "nowhere" / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "download: true" in message


def test_mnist_reads_the_standard_files(in_tmp):
    write_fake_mnist(in_tmp / "data", n_train=200, n_test=60)
    dm = MNISTDataModule(data_dir=str(in_tmp / "data"), val_size=50)
    assert dm.split_sizes == {"train": 150, "val": 50, "test": 60}
    assert dm.raw_split("train").dtype == torch.uint8 and dm.raw_split("test").shape[1:] == (1, 28, 28)


def test_image_folder_resizes_every_image(in_tmp):
    from PIL import Image

    rng = np.random.default_rng(0)
    for i, size in enumerate([(40, 30), (64, 64), (20, 50)]):
        folder = in_tmp / "imgs" / ("a" if i else "b")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)).save(folder / f"{i}.png")
    dm = ImageFolderDataModule(root=str(in_tmp / "imgs"), size=16, val_size=1, test_size=1)
    assert dm.split_sizes == {"train": 1, "val": 1, "test": 1}
    assert dm.raw_split("train").shape == (1, 3, 16, 16)


def test_image_folder_without_images_says_so(in_tmp):
    (in_tmp / "empty").mkdir()
    with pytest.raises(LitGenError, match="no images"):
        ImageFolderDataModule(root=str(in_tmp / "empty")).setup()


def test_impossible_split_sizes_are_a_clear_error():
    with pytest.raises(LitGenError, match="no training data"):
        DigitsDataModule(val_size=1500, test_size=297).setup()
