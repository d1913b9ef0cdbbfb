"""Any folder of images (CelebA, a scrape, your own), decoded once, resized, and held in memory as uint8."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from lit_gen.data.base import InMemoryDataModule
from lit_gen.errors import LitGenError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class ImageFolderDataModule(InMemoryDataModule):
    """Every image below `root` (recursively), center-cropped to a square (or to `center_crop` pixels first,
    178 being the usual choice for CelebA) and resized to `size`×`size`; an image already that size keeps its
    pixels, one smaller is an error (never upscaled). No labels. An unreadable file stops the run, naming it.
    """

    levels = 256

    def __init__(
        self,
        root: str,
        size: int = 64,
        channels: Literal[1, 3] = 3,
        center_crop: int | None = None,
        batch_size: int = 128,
        eval_batch_size: int | None = 500,
        val_size: int | float = 0.05,
        test_size: int | float = 0.05,
        split_seed: int = 0,
        shuffle_seed: int | None = None,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, val_size, test_size, split_seed, shuffle_seed)
        if size < 4:
            raise ValueError(f"size={size}: images must be at least 4 pixels across")
        self.root = Path(root).expanduser().absolute()  # absolute: error messages name files unambiguously
        self.size = size
        self.channels = channels
        self.center_crop = center_crop
        self.data_shape = (channels, size, size)

    def _files(self) -> list[Path]:
        if not self.root.is_dir():
            raise LitGenError(f"image folder {self.root} does not exist: set `data.init_args.root`")
        files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise LitGenError(
                f"no images in {self.root} (looked for {', '.join(sorted(IMAGE_SUFFIXES))}, recursively)"
            )
        return files

    def _read(self, path: Path) -> np.ndarray:
        from PIL import Image

        try:
            with Image.open(path) as image:
                image = image.convert("RGB" if self.channels == 3 else "L")  # decodes the whole file
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            # PIL's errors for a damaged file: UnidentifiedImageError (an OSError), "image file is truncated",
            # "broken PNG file" (a SyntaxError)
            raise LitGenError(
                f"{path} cannot be read as an image ({error}): expected a readable {', '.join(sorted(IMAGE_SUFFIXES))} "
                "file; replace or remove it"
            ) from None
        width, height = image.size
        crop = min(width, height, self.center_crop or max(width, height))
        if crop < self.size:
            # upscaling would train the model on interpolated pixels no camera took
            raise LitGenError(
                f"{path} is {width}×{height} pixels{f' (center crop {self.center_crop})' if self.center_crop else ''}"
                f": expected at least {self.size}×{self.size}; set `data.init_args.size` to {crop} or less, "
                "or remove the small images"
            )
        left, top = (width - crop) // 2, (height - crop) // 2
        image = image.crop((left, top, left + crop, top + crop))
        image = image.resize((self.size, self.size), Image.Resampling.BICUBIC)  # same size: PIL copies the pixels
        array = np.asarray(image, dtype=np.uint8)
        return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)

    def load(self) -> tuple[Tensor, None]:
        images = np.stack([self._read(path) for path in self._files()])
        return torch.from_numpy(images), None
