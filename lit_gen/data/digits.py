"""scikit-learn's 8×8 handwritten digits: 1,797 images with 17 grey levels, shipped inside scikit-learn."""

from __future__ import annotations

import torch
from torch import Tensor

from lit_gen.data.base import InMemoryDataModule


class DigitsDataModule(InMemoryDataModule):
    """The embedded default set: no download, no files. Defaults give a 1,350 / 150 / 297 split."""

    data_shape = (1, 8, 8)
    levels = 17

    def __init__(
        self,
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        val_size: int | float = 150,
        test_size: int | float = 297,
        split_seed: int = 0,
        shuffle_seed: int | None = None,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, val_size, test_size, split_seed, shuffle_seed)

    def load(self) -> tuple[Tensor, Tensor]:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1)  # grey levels 0..16
        return images, torch.as_tensor(digits.target, dtype=torch.long)
