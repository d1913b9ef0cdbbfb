"""MNIST, Fashion-MNIST and CIFAR-10 from their standard files, held in memory as uint8.

The files are read here (`idx.py`, `cifar.py`), in every form they are distributed in: MNIST's four IDX files gzipped
or extracted, CIFAR-10's python batches extracted or still in their tar.gz. Nothing is written into the data folder,
and a damaged file stops the run with a message naming it. torchvision is used for one thing only, `download: true`,
which fetches the files once into torchvision's layout under `data_dir` (`MNIST/raw`, `cifar-10-batches-py`).
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

import numpy as np
import torch

from lit_gen.data import cifar
from lit_gen.data.base import InMemoryDataModule, Splits
from lit_gen.data.idx import find_idx, read_idx_pair
from lit_gen.errors import LitGenError

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class _StandardFilesDataModule(InMemoryDataModule):
    """Official train/test split; `val_size` examples of the official training set become the validation set."""

    dataset_name: str  # the torchvision class name, used for `download: true`
    expected_folder: str  # torchvision's folder for the files, relative to data_dir
    levels = 256

    def __init__(
        self,
        data_dir: str = "data",
        download: bool = False,
        batch_size: int = 128,
        eval_batch_size: int | None = 1000,
        val_size: int | float = 5000,
        split_seed: int = 0,
        shuffle_seed: int | None = None,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, val_size, 0, split_seed, shuffle_seed)
        self.data_dir = Path(data_dir).expanduser().absolute()  # absolute: error messages name files unambiguously
        self.download = download

    def prepare_data(self) -> None:
        if self.download and not self._found():
            import torchvision.datasets

            cls = getattr(torchvision.datasets, self.dataset_name)
            for train in (True, False):
                cls(root=str(self.data_dir), train=train, download=True)

    @abstractmethod
    def _found(self) -> bool:
        """Whether the files (complete or not: reading checks them) are in one of the places looked at."""

    @abstractmethod
    def _read(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """`{"train": (images NCHW or NHW, labels), "test": ...}`, or a `LitGenError` naming what is wrong."""

    def _missing(self, files: str) -> LitGenError:
        folder = self.data_dir / self.expected_folder
        return LitGenError(
            f"{self.dataset_name} is not in {folder}: expected {files} there. Place them in that folder, point "
            f"`data.init_args.data_dir` at the folder that holds '{self.expected_folder}', or set "
            "`data.init_args.download: true` to download them."
        )

    def load(self) -> Splits:
        if self.download:
            self.prepare_data()  # Lightning calls it too; here so that `setup()` alone also works
        read = self._read()
        train_images, train_labels = (torch.from_numpy(a) for a in read["train"])
        test_images, test_labels = (torch.from_numpy(a) for a in read["test"])
        if train_images.ndim == 3:  # greyscale: add the channel axis
            train_images, test_images = train_images.unsqueeze(1), test_images.unsqueeze(1)
        held_out = self._split((train_images, train_labels.long()))
        return Splits(
            held_out.train, held_out.val, test_images, held_out.train_labels, held_out.val_labels, test_labels.long()
        )


class _IdxDataModule(_StandardFilesDataModule):
    """The four MNIST-format files in `data_dir/<expected_folder>` (torchvision's layout), `data_dir/raw`, or
    `data_dir` itself; each `.gz` or extracted."""

    data_shape = (1, 28, 28)

    def _folder(self) -> Path | None:
        candidates = [self.data_dir / self.expected_folder, self.data_dir / "raw", self.data_dir]
        return next((f for f in candidates if find_idx(f, _MNIST_FILES["train"][0])), None)

    def _found(self) -> bool:
        return self._folder() is not None

    def _read(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        every_file = [name for pair in _MNIST_FILES.values() for name in pair]
        folder = self._folder()
        if folder is None:
            raise self._missing(f"the files {', '.join(every_file)} (each may be .gz)")
        missing = [name for name in every_file if find_idx(folder, name) is None]
        if missing:
            raise LitGenError(
                f"{folder} has {self.dataset_name}'s {_MNIST_FILES['train'][0]} but not "
                f"{', '.join(missing)} (each may be .gz): put the missing files beside it"
            )
        return {
            split: read_idx_pair(find_idx(folder, images), find_idx(folder, labels), self.data_shape[1:], classes=10)
            for split, (images, labels) in _MNIST_FILES.items()
        }


class MNISTDataModule(_IdxDataModule):
    dataset_name = "MNIST"
    expected_folder = "MNIST/raw"


class FashionMNISTDataModule(_IdxDataModule):
    dataset_name = "FashionMNIST"
    expected_folder = "FashionMNIST/raw"


class CIFAR10DataModule(_StandardFilesDataModule):
    """The python batches in `data_dir/cifar-10-batches-py` (or `data_dir` itself), else the archive
    `data_dir/cifar-10-python.tar.gz`."""

    dataset_name = "CIFAR10"
    expected_folder = cifar.BATCHES_FOLDER
    data_shape = cifar.IMAGE_SHAPE

    def _batches_folder(self) -> Path | None:
        candidates = [self.data_dir / cifar.BATCHES_FOLDER, self.data_dir]
        return next((f for f in candidates if (f / cifar.TRAIN_BATCHES[0]).is_file()), None)

    def _found(self) -> bool:
        return self._batches_folder() is not None or (self.data_dir / cifar.ARCHIVE).is_file()

    def _read(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        folder = self._batches_folder()
        if folder is not None:
            return {
                "train": cifar.read_batches_folder(folder, cifar.TRAIN_BATCHES),
                "test": cifar.read_batches_folder(folder, cifar.TEST_BATCHES),
            }
        if (self.data_dir / cifar.ARCHIVE).is_file():
            return cifar.read_archive(self.data_dir / cifar.ARCHIVE)
        raise self._missing(
            f"the python batches {', '.join(cifar.TRAIN_BATCHES + cifar.TEST_BATCHES)} "
            f"(or {cifar.ARCHIVE} in {self.data_dir})"
        )
