"""Batches straight from tensors held in memory.

A `DataLoader` over a map-style dataset pays Python per sample (sampler, `__getitem__`, collate). For data that
fits in memory one `index_select` per batch does the same work, which matters for the small models lit_gen
trains on CPUs. Sharding across DDP ranks follows `DistributedSampler`: every rank draws the same permutation
(seeded by seed and epoch), pads it to a multiple of the world size, and takes every `world_size`-th index.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor


class PermutationSampler:
    """The order of one epoch as a single index tensor. Lightning calls `set_epoch` on a loader's `sampler`
    at the start of every epoch, so a resumed run sees the same order it would have seen uninterrupted."""

    def __init__(self, size: int, shuffle: bool, seed: int = 0, num_replicas: int = 1, rank: int = 0) -> None:
        self.size = size
        self.shuffle = shuffle
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        """Examples this rank sees per epoch (the set padded to a multiple of the world size)."""
        return math.ceil(self.size / self.num_replicas)

    def indices(self) -> Tensor:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.size, generator=generator)
        else:
            order = torch.arange(self.size)
        total = len(self) * self.num_replicas
        if total > self.size:  # pad by wrapping around, as DistributedSampler does
            order = torch.cat([order, order[: total - self.size]])
        return order[self.rank :: self.num_replicas]


class TensorBatchLoader:
    """Yields `tensors[i]` for successive index slices of the sampler's order; one tensor alone is yielded bare."""

    batch_sampler = None  # Lightning inspects `sampler` / `batch_sampler` as it would on a DataLoader

    def __init__(self, *tensors: Tensor, batch_size: int, sampler: PermutationSampler, drop_last: bool = False):
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("TensorBatchLoader needs one or more tensors of equal length")
        self.tensors = tensors
        self.batch_size = batch_size
        self.sampler = sampler
        self.drop_last = drop_last

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return math.ceil(len(self.sampler) / self.batch_size)

    def __iter__(self) -> Iterator[Tensor | tuple[Tensor, ...]]:
        indices = self.sampler.indices().to(self.tensors[0].device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            batch = indices[start : start + self.batch_size]
            selected = tuple(t.index_select(0, batch) for t in self.tensors)
            yield selected[0] if len(selected) == 1 else selected
