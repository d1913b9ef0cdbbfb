"""The DataModule every lit_gen data set shares: deterministic splits and in-memory batching.

A subclass says what its examples look like (`data_shape`, `levels`) and loads the whole set as one tensor
(`load`). Raw values are kept as they come: integer grey levels for images (so each likelihood decides the
pixel range and the dequantisation it needs), coordinates for 2D data. On a GPU the split tensors move to the
device once, at the first dataloader request, and every batch after that is an `index_select` there.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor

from lit_gen.data.loader import PermutationSampler, TensorBatchLoader
from lit_gen.errors import LitGenError


@dataclass(frozen=True)
class Splits:
    train: Tensor
    val: Tensor
    test: Tensor
    train_labels: Tensor | None = None
    val_labels: Tensor | None = None
    test_labels: Tensor | None = None


def _count(size: int | float, total: int, name: str) -> int:
    """`size` as a number of examples: an int is a count, a float in [0, 1) a fraction of `total`."""
    if isinstance(size, float):
        if not 0.0 <= size < 1.0:
            raise LitGenError(f"data {name}={size}: a fraction must lie in [0, 1); give an int for a count")
        return round(size * total)
    if size < 0:
        raise LitGenError(f"data {name}={size} must not be negative")
    return size


class InMemoryDataModule(LightningDataModule, ABC):
    """Base for data sets that fit in memory.

    Args:
        batch_size: training batch size (per device under DDP).
        eval_batch_size: batch size for val/test; defaults to `batch_size`.
        val_size: validation examples, an int count or a float fraction of the whole set.
        test_size: test examples, likewise. Sets with an official test split use it and ignore this.
        split_seed: seed of the permutation that assigns examples to splits (independent of the run's seed).
        shuffle_seed: seed of the training order; epoch `e` uses `shuffle_seed + e` on every rank. None (the
            default): the run's seed (`seed_everything`), so that a run with another seed also sees another order.
    """

    #: shape of one example, e.g. (1, 8, 8) or (2,)
    data_shape: tuple[int, ...]
    #: number of discrete values per dimension (17 for digits, 256 for 8-bit images); None for continuous data
    levels: int | None = None

    def __init__(
        self,
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        val_size: int | float = 0.1,
        test_size: int | float = 0.1,
        split_seed: int = 0,
        shuffle_seed: int | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1")
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.val_size = val_size
        self.test_size = test_size
        self.split_seed = split_seed
        self.shuffle_seed = shuffle_seed
        self.splits: Splits | None = None
        self._device_splits: dict[str, Splits] = {}

    @abstractmethod
    def load(self) -> tuple[Tensor, Tensor | None] | Splits:
        """The whole set as `(examples, labels or None)`, to be split here, or ready-made `Splits`."""

    def setup(self, stage: str | None = None) -> None:
        if self.splits is None:
            self.splits = self._split(self.load())

    def _split(self, loaded: tuple[Tensor, Tensor | None] | Splits) -> Splits:
        if isinstance(loaded, Splits):
            return loaded
        examples, labels = loaded
        total = len(examples)
        n_val = _count(self.val_size, total, "val_size")
        n_test = _count(self.test_size, total, "test_size")
        if n_val + n_test >= total:
            raise LitGenError(
                f"data val_size + test_size ({n_val} + {n_test}) leave no training data out of {total} examples: "
                "lower `data.init_args.val_size` / `test_size`"
            )
        order = torch.randperm(total, generator=torch.Generator().manual_seed(self.split_seed))
        test_idx, val_idx, train_idx = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]

        def pick(t: Tensor | None, idx: Tensor) -> Tensor | None:
            return None if t is None else t[idx]

        return Splits(
            examples[train_idx], examples[val_idx], examples[test_idx],
            pick(labels, train_idx), pick(labels, val_idx), pick(labels, test_idx),
        )

    @property
    def split_sizes(self) -> dict[str, int]:
        self.setup()
        return {"train": len(self.splits.train), "val": len(self.splits.val), "test": len(self.splits.test)}

    def _on_device(self) -> Splits:
        self.setup()
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        if device.type == "cpu":
            return self.splits
        key = str(device)
        if key not in self._device_splits:  # moved once, then reused by every epoch and every loader
            moved = (None if t is None else t.to(device) for t in vars(self.splits).values())
            self._device_splits = {key: Splits(*moved)}
        return self._device_splits[key]

    def _loader(self, split: str, shuffle: bool, with_labels: bool = False) -> TensorBatchLoader:
        splits = self._on_device()
        tensors = [getattr(splits, split)]
        if with_labels:
            labels = getattr(splits, f"{split}_labels")
            if labels is None:
                raise ValueError(f"{type(self).__name__} has no labels")
            tensors.append(labels)
        trainer = self.trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        sampler = PermutationSampler(len(tensors[0]), shuffle, self.training_order_seed(), num_replicas=world,
                                     rank=rank)
        batch_size = self.batch_size if split == "train" else self.eval_batch_size
        return TensorBatchLoader(*tensors, batch_size=batch_size, sampler=sampler)

    def training_order_seed(self) -> int:
        """`shuffle_seed`, or else the seed `seed_everything` set (Lightning passes it to every rank in
        `PL_GLOBAL_SEED`), or else 0."""
        if self.shuffle_seed is not None:
            return self.shuffle_seed
        return int(os.environ.get("PL_GLOBAL_SEED", 0))

    def train_dataloader(self) -> TensorBatchLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> TensorBatchLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> TensorBatchLoader:
        return self._loader("test", shuffle=False)

    def labelled_loader(self, split: str, shuffle: bool = False) -> TensorBatchLoader:
        """`(examples, labels)` batches, for tools that need labels (e.g. training a feature classifier)."""
        return self._loader(split, shuffle, with_labels=True)

    def raw_split(self, split: str) -> Tensor:
        """All examples of one split (on the CPU)."""
        self.setup()
        return getattr(self.splits, split)
