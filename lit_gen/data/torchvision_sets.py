"""MNIST, Fashion-MNIST and CIFAR-10 read from their standard files through torchvision, held in memory as uint8.

Nothing is downloaded unless `download: true` is set. Without it, missing files stop the run with a message that
names the folder and the files torchvision expects there.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from lit_gen.data.base import InMemoryDataModule, Splits
from lit_gen.errors import LitGenError

_MNIST_FILES = [
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
]


class _TorchvisionDataModule(InMemoryDataModule):
    """Official train/test split; `val_size` examples of the official training set become the validation set."""

    dataset_name: str  # the torchvision class name
    expected_folder: str  # relative to data_dir
    expected_files: list[str]
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
        self.data_dir = Path(data_dir)
        self.download = download

    def _dataset(self, train: bool):
        import torchvision.datasets

        cls = getattr(torchvision.datasets, self.dataset_name)
        return cls(root=str(self.data_dir), train=train, download=self.download)

    def _files_present(self) -> bool:
        folder = self.data_dir / self.expected_folder
        return all((folder / f).exists() or (folder / f"{f}.gz").exists() for f in self.expected_files)

    def prepare_data(self) -> None:
        if self.download:
            self._dataset(train=True)
            self._dataset(train=False)

    def _check_files(self) -> None:
        if self.download or self._files_present():
            return
        folder = (self.data_dir / self.expected_folder).resolve()
        raise LitGenError(
            f"{self.dataset_name} is not in {folder}: expected the files {', '.join(self.expected_files)} there. "
            f"Place them in that folder, point `data.init_args.data_dir` at the folder that holds "
            f"'{self.expected_folder}', or set `data.init_args.download: true` to download them."
        )

    @staticmethod
    def _as_tensors(dataset) -> tuple[Tensor, Tensor]:
        images = torch.as_tensor(dataset.data)
        images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)  # NHWC -> NCHW
        return images.contiguous(), torch.as_tensor(dataset.targets, dtype=torch.long)

    def load(self) -> Splits:
        self._check_files()
        train_images, train_labels = self._as_tensors(self._dataset(train=True))
        test_images, test_labels = self._as_tensors(self._dataset(train=False))
        held_out = self._split((train_images, train_labels))
        return Splits(
            held_out.train, held_out.val, test_images, held_out.train_labels, held_out.val_labels, test_labels
        )


class MNISTDataModule(_TorchvisionDataModule):
    dataset_name = "MNIST"
    expected_folder = "MNIST/raw"
    expected_files = _MNIST_FILES
    data_shape = (1, 28, 28)


class FashionMNISTDataModule(_TorchvisionDataModule):
    dataset_name = "FashionMNIST"
    expected_folder = "FashionMNIST/raw"
    expected_files = _MNIST_FILES
    data_shape = (1, 28, 28)


class CIFAR10DataModule(_TorchvisionDataModule):
    dataset_name = "CIFAR10"
    expected_folder = "cifar-10-batches-py"
    expected_files = [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]
    data_shape = (3, 32, 32)
