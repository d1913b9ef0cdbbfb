"""Data files as users have them: every standard form loads the same images, every damaged file is one clear error.

A `LitGenError` raised while the data module sets up is what `lit-gen` prints as its one `lit-gen: error:` line
(tests/test_cli.py checks that path with a missing MNIST folder), so here each message is checked directly.
Each image of the tiny sets written here carries its own index in its first two pixels, so a loaded split can be
traced back to the images and labels that were written.
"""

from __future__ import annotations

import gzip
import pickle
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from lit_gen.data import CIFAR10DataModule, FashionMNISTDataModule, ImageFolderDataModule, MNISTDataModule
from lit_gen.errors import LitGenError
from tests.helpers import write_idx

IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
COUNTS = {"train": 30, "test": 12}


def indexed_images(count: int, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Random uint8 images whose first two values spell their index (< 65536), so a shuffled split can be traced."""
    images = np.random.default_rng(seed).integers(0, 256, (count, *shape), dtype=np.uint8)
    flat = images.reshape(count, -1)
    flat[:, 0], flat[:, 1] = np.arange(count) % 256, np.arange(count) // 256
    return images


def index_of(images: torch.Tensor) -> np.ndarray:
    flat = images.reshape(len(images), -1).numpy().astype(np.int64)
    return flat[:, 0] + 256 * flat[:, 1]


def idx_arrays() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        split: (indexed_images(n, (28, 28), seed=i), np.random.default_rng(10 + i).integers(0, 10, n).astype(np.uint8))
        for i, (split, n) in enumerate(COUNTS.items())
    }


def write_idx_files(folder: Path, arrays, gz: bool, spelling: str = "-idx") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, (images_name, labels_name) in IDX_NAMES.items():
        for name, array in zip((images_name, labels_name), arrays[split], strict=True):
            path = folder / name.replace("-idx", spelling)
            write_idx(path, array)
            if gz:
                path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
                path.unlink()


def assert_splits_are(dm, arrays, channels_first) -> None:
    """Test split exactly as written; train + val together are the written training set, labels attached."""
    splits = dm.splits
    test_images, test_labels = arrays["test"]
    assert torch.equal(splits.test, torch.from_numpy(channels_first(test_images)))
    assert torch.equal(splits.test_labels, torch.from_numpy(test_labels.astype(np.int64)))
    train_images, train_labels = arrays["train"]
    held = torch.cat([splits.train, splits.val])
    order = index_of(held)
    assert sorted(order.tolist()) == list(range(len(train_images)))
    assert torch.equal(held, torch.from_numpy(channels_first(train_images[order])))
    assert torch.cat([splits.train_labels, splits.val_labels]).tolist() == train_labels[order].tolist()
    assert splits.train.dtype == torch.uint8 and splits.train.shape[1:] == dm.data_shape


def grey(images: np.ndarray) -> np.ndarray:
    return images[:, None]


# --- MNIST / Fashion-MNIST: four IDX files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, layout, gz, spelling",
    [
        (MNISTDataModule, "MNIST/raw", True, "-idx"),  # as downloaded: gzip only
        (MNISTDataModule, "MNIST/raw", False, "-idx"),  # extracted, as torchvision leaves them
        (FashionMNISTDataModule, "FashionMNIST/raw", True, "-idx"),
        (MNISTDataModule, "", False, ".idx"),  # 'train-images.idx3-ubyte', straight in data_dir
        (FashionMNISTDataModule, "raw", True, "-idx"),  # data_dir points at the 'FashionMNIST' folder
    ],
)
def test_mnist_files_load_in_every_form(tmp_path, cls, layout, gz, spelling):
    arrays = idx_arrays()
    write_idx_files(tmp_path / layout, arrays, gz=gz, spelling=spelling)
    (tmp_path / layout).chmod(0o555)  # nothing is written next to the files
    try:
        dm = cls(data_dir=str(tmp_path), val_size=5)
        dm.setup()
    finally:
        (tmp_path / layout).chmod(0o755)
    assert dm.split_sizes == {"train": 25, "val": 5, "test": 12}
    assert_splits_are(dm, arrays, grey)


def test_gzipped_and_extracted_files_give_identical_splits(tmp_path):
    arrays = idx_arrays()
    write_idx_files(tmp_path / "a" / "MNIST" / "raw", arrays, gz=True)
    write_idx_files(tmp_path / "b" / "MNIST" / "raw", arrays, gz=False)
    a, b = (MNISTDataModule(data_dir=str(tmp_path / name), val_size=5) for name in "ab")
    a.setup(), b.setup()
    for field in ("train", "val", "test", "train_labels", "val_labels", "test_labels"):
        assert torch.equal(getattr(a.splits, field), getattr(b.splits, field)), field


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: -100])


def _truncate_gz(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _swap_images_for_labels(path: Path) -> None:
    shutil.copy(path.with_name("train-labels-idx1-ubyte.gz"), path)


def _garbage(path: Path) -> None:
    path.write_bytes(b"<html>404 Not Found</html>")


def _size_32(path: Path) -> None:
    path.write_bytes(gzip.compress(_idx_bytes(indexed_images(COUNTS["train"], (32, 32), 0))))


def _fewer_images(path: Path) -> None:
    path.write_bytes(gzip.compress(_idx_bytes(indexed_images(COUNTS["train"] - 1, (28, 28), 0))))


def _idx_bytes(array: np.ndarray) -> bytes:
    import struct

    return struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.mark.parametrize(
    "damage, file, expected",
    [
        (_truncate_gz, "train-images-idx3-ubyte.gz", "cannot be read"),
        (_swap_images_for_labels, "train-images-idx3-ubyte.gz", "magic number 2049 (a labels file?): expected"),
        (_garbage, "t10k-labels-idx1-ubyte.gz", "cannot be read"),  # not even gzip
        (_size_32, "train-images-idx3-ubyte.gz", "of size 32×32: expected 28×28"),
        (_fewer_images, "train-images-idx3-ubyte.gz", "holds 29 images but"),
        (Path.unlink, "t10k-images-idx3-ubyte.gz", "but not t10k-images-idx3-ubyte"),
    ],
)
def test_a_damaged_gzipped_file_is_named_in_one_line(tmp_path, damage, file, expected):
    raw = tmp_path / "MNIST" / "raw"
    write_idx_files(raw, idx_arrays(), gz=True)
    damage(raw / file)
    with pytest.raises(LitGenError) as error:
        MNISTDataModule(data_dir=str(tmp_path), val_size=5).setup()
    message = str(error.value)
    assert file.removesuffix(".gz") in message and expected in message and "\n" not in message, message


@pytest.mark.parametrize(
    "damage, file, expected",
    [
        (_truncate, "train-images-idx3-ubyte", "is truncated: its header promises 30 images"),
        (lambda p: p.write_bytes(p.read_bytes() + b"\0"), "t10k-labels-idx1-ubyte", "longer than its header says"),
        (_garbage, "train-labels-idx1-ubyte", "is not an IDX file"),
        (lambda p: p.write_bytes(_idx_bytes(np.full(30, 10, np.uint8))), "train-labels-idx1-ubyte", "label 10"),
    ],
)
def test_a_damaged_extracted_file_is_named_in_one_line(tmp_path, damage, file, expected):
    raw = tmp_path / "MNIST" / "raw"
    write_idx_files(raw, idx_arrays(), gz=False)
    damage(raw / file)
    with pytest.raises(LitGenError) as error:
        MNISTDataModule(data_dir=str(tmp_path), val_size=5).setup()
    message = str(error.value)
    assert str(raw / file) in message and expected in message and "\n" not in message, message


def test_no_files_at_all_name_the_folder_and_the_files(tmp_path):
    with pytest.raises(LitGenError) as error:
        FashionMNISTDataModule(data_dir=str(tmp_path)).setup()
    message = str(error.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in message and "t10k-labels-idx1-ubyte" in message


# --- CIFAR-10: python batches, extracted or in their tar.gz ---------------------------------------------------------

CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def cifar_arrays() -> dict[str, np.ndarray]:
    """Six batches of 4 images; the index in the first two values runs across the five training batches."""
    train = indexed_images(20, (3, 32, 32), seed=0)
    arrays = {f"data_batch_{i + 1}": train[4 * i : 4 * i + 4] for i in range(5)}
    arrays["test_batch"] = indexed_images(4, (3, 32, 32), seed=1)
    return arrays


def cifar_labels(name: str) -> list[int]:
    return [(CIFAR_BATCHES.index(name) + i) % 10 for i in range(4)]


def write_cifar_batches(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, images in arrays.items():
        # as CIFAR-10 ships them: bytes keys (Python 2 pickles), data flattened channel-major
        batch = {b"batch_label": name.encode(), b"data": images.reshape(len(images), -1), b"labels": cifar_labels(name)}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"c%d" % i for i in range(10)]}))


def write_cifar_archive(data_dir: Path, arrays: dict[str, np.ndarray]) -> Path:
    staging = data_dir / "staging"
    write_cifar_batches(staging / "cifar-10-batches-py", arrays)
    archive = data_dir / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    shutil.rmtree(staging)
    return archive


def cifar_expected(arrays) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    train = [name for name in CIFAR_BATCHES if name != "test_batch"]
    return {
        "train": (np.concatenate([arrays[n] for n in train]), np.array(sum((cifar_labels(n) for n in train), []))),
        "test": (arrays["test_batch"], np.array(cifar_labels("test_batch"))),
    }


@pytest.mark.parametrize("form", ["batches", "batches_in_data_dir", "archive"])
def test_cifar10_loads_from_the_batches_or_the_archive(tmp_path, form):
    arrays = cifar_arrays()
    if form == "archive":
        write_cifar_archive(tmp_path, arrays)
    else:
        write_cifar_batches(tmp_path / ("cifar-10-batches-py" if form == "batches" else ""), arrays)
    dm = CIFAR10DataModule(data_dir=str(tmp_path), val_size=4)
    assert dm.split_sizes == {"train": 16, "val": 4, "test": 4}
    assert_splits_are(dm, cifar_expected(arrays), channels_first=lambda images: images)
    if form == "archive":  # read in memory, not extracted beside it
        assert [p.name for p in tmp_path.iterdir()] == ["cifar-10-python.tar.gz"]


@pytest.mark.parametrize(
    "damage, file, expected",
    [
        (lambda folder: _truncate(folder / "data_batch_2"), "data_batch_2", "cannot be unpickled"),
        (lambda folder: (folder / "test_batch").unlink(), "test_batch", "is missing"),
        (lambda folder: (folder / "data_batch_4").write_bytes(pickle.dumps([1, 2])), "data_batch_4", "holds a list"),
    ],
)
def test_a_damaged_cifar_batch_is_named_in_one_line(tmp_path, damage, file, expected):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_batches(folder, cifar_arrays())
    damage(folder)
    with pytest.raises(LitGenError) as error:
        CIFAR10DataModule(data_dir=str(tmp_path), val_size=4).setup()
    message = str(error.value)
    assert str(folder / file) in message and expected in message and "\n" not in message, message


def test_cifar_images_of_the_wrong_size_are_named(tmp_path):
    arrays = cifar_arrays()
    arrays["data_batch_3"] = indexed_images(4, (3, 28, 28), seed=2)
    write_cifar_batches(tmp_path / "cifar-10-batches-py", arrays)
    with pytest.raises(LitGenError, match=r"data_batch_3 holds data of shape \(4, 2352\).*expected count×3072"):
        CIFAR10DataModule(data_dir=str(tmp_path)).setup()


@pytest.mark.parametrize("damage, expected", [(_truncate_gz, "cannot be read"), ("no_test_batch", "lacks test_batch")])
def test_a_damaged_cifar_archive_is_named_in_one_line(tmp_path, damage, expected):
    arrays = cifar_arrays()
    if damage == "no_test_batch":
        del arrays["test_batch"]
    archive = write_cifar_archive(tmp_path, arrays)
    if callable(damage):
        damage(archive)
    with pytest.raises(LitGenError) as error:
        CIFAR10DataModule(data_dir=str(tmp_path)).setup()
    message = str(error.value)
    assert str(archive) in message and expected in message and "\n" not in message, message


# --- a folder of PNG / JPEG images ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, channels, suffix",
    [(28, 1, ".png"), (32, 3, ".png"), (64, 3, ".jpg"), (28, 1, ".jpeg")],
)
def test_an_image_folder_at_its_own_size_loads_the_pixels_as_stored(tmp_path, size, channels, suffix):
    from PIL import Image

    shape = (size, size) if channels == 1 else (size, size, 3)
    images = indexed_images(5, shape, seed=size)
    for i, array in enumerate(images):
        Image.fromarray(array).save(tmp_path / f"{i:02d}{suffix}")
    loaded, labels = ImageFolderDataModule(root=str(tmp_path), size=size, channels=channels).load()
    # PNG is lossless; a JPEG is what PIL decodes from it, not resampled
    stored = np.stack([np.asarray(Image.open(tmp_path / f"{i:02d}{suffix}")) for i in range(5)])
    stored = stored[:, None] if channels == 1 else stored.transpose(0, 3, 1, 2)
    assert labels is None and loaded.dtype == torch.uint8 and loaded.shape == (5, channels, size, size)
    assert torch.equal(loaded, torch.from_numpy(stored))
    if suffix == ".png":
        assert torch.equal(loaded, torch.from_numpy(images[:, None] if channels == 1 else images.transpose(0, 3, 1, 2)))


def test_a_larger_image_is_cropped_and_resized_to_the_size(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((80, 64, 3), np.uint8)).save(tmp_path / "tall.png")
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(tmp_path / "square.jpg")
    loaded, _ = ImageFolderDataModule(root=str(tmp_path), size=32).load()
    assert loaded.shape == (2, 3, 32, 32)


@pytest.mark.parametrize(
    "write, expected",
    [
        (lambda p: p.write_bytes(b"not an image at all"), "cannot be read as an image"),
        ("truncated", "cannot be read as an image"),
        ("small", "is 20×20 pixels: expected at least 28×28; set `data.init_args.size` to 20 or less"),
    ],
)
def test_a_bad_image_is_named_in_one_line(tmp_path, write, expected):
    from PIL import Image

    for i in range(3):
        Image.fromarray(indexed_images(1, (28, 28), seed=i)[0]).save(tmp_path / f"good{i}.png")
    bad = tmp_path / "bad.png"
    if write == "truncated":
        Image.fromarray(indexed_images(1, (28, 28), seed=9)[0]).save(bad)
        _truncate(bad)
    elif write == "small":
        Image.fromarray(np.zeros((20, 20), np.uint8)).save(bad)
    else:
        write(bad)
    with pytest.raises(LitGenError) as error:
        ImageFolderDataModule(root=str(tmp_path), size=28, channels=1).setup()
    message = str(error.value)
    assert str(bad) in message and expected in message and "\n" not in message, message
