"""Small builders shared by tests: fake data files in the formats real tools write."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    """An MNIST-format idx file (big-endian header: magic with dtype code 0x08 = uint8, then dims)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_fake_mnist(root: Path, folder: str = "MNIST", n_train: int = 200, n_test: int = 60, seed: int = 0) -> Path:
    """Random 28x28 images in the four standard MNIST files under root/<folder>/raw, gzipped like the originals."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, array in files.items():
        write_idx(raw / name, array)
        with open(raw / name, "rb") as plain, gzip.open(raw / f"{name}.gz", "wb") as packed:
            packed.write(plain.read())
    return root


def write_fake_cifar10(root: Path, per_batch: int = 40, seed: int = 0) -> Path:
    """Random 32×32 RGB images as CIFAR-10's python batches (five of `per_batch` for training, one test batch) in
    root/cifar-10-batches-py, pickled with bytes keys and flattened channel-major, as the originals are."""
    import pickle

    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"batch_label": name.encode(), b"data": rng.integers(0, 256, (per_batch, 3 * 32 * 32), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, per_batch).tolist()}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"c%d" % i for i in range(10)]}))
    return root
