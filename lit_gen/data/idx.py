"""MNIST-format IDX files, gzipped or extracted, read in memory with every header field checked.

The format (LeCun's MNIST page): a big-endian 32-bit magic number — two zero bytes, a type code (0x08 = uint8) and
the number of dimensions — then one big-endian 32-bit size per dimension, then the values. Images are magic 2051
(3 dimensions: count, rows, columns), labels 2049 (1 dimension: count). Both spellings of the file names found in
the wild (`train-images-idx3-ubyte`, `train-images.idx3-ubyte`) and both forms (`.gz` or not) are accepted, and
nothing is written next to them: a read-only data folder works.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from lit_gen.errors import LitGenError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def idx_candidates(folder: Path, name: str) -> list[Path]:
    """The paths `name` (e.g. 'train-images-idx3-ubyte') may have in `folder`, extracted first: it reads faster."""
    stem, _, suffix = name.rpartition("-idx")
    spellings = [name, f"{stem}.idx{suffix}"]
    return [folder / f"{spelling}{gz}" for gz in ("", ".gz") for spelling in spellings]


def find_idx(folder: Path, name: str) -> Path | None:
    return next((path for path in idx_candidates(folder, name) if path.is_file()), None)


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as file:
                return file.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as error:  # a truncated or damaged gzip stream, an unreadable file
        packed = ", gzip-compressed" if path.suffix == ".gz" else ""
        raise LitGenError(f"{path} cannot be read ({error}): expected an IDX file{packed}; download it again") from None


def read_idx(path: Path, magic: int, item_shape: tuple[int, ...] = ()) -> np.ndarray:
    """The uint8 array in the IDX file `path`, shaped (count, *item_shape).

    Raises `LitGenError` naming the file if its magic number is not `magic`, its items are not `item_shape`, or its
    length is not what its header promises (a truncated download, or the wrong file).
    """
    data = _read_bytes(path)
    what = "images" if magic == IMAGES_MAGIC else "labels"
    ndim = 1 + len(item_shape)
    expected = f"an IDX file of uint8 {what} (magic number {magic})"
    if len(data) < 4 or data[:2] != b"\0\0":
        start = data[:4].hex() or "nothing"
        raise LitGenError(f"{path} is not an IDX file (it starts with {start}): expected {expected}")
    found_magic = struct.unpack(">I", data[:4])[0]
    if found_magic != magic:
        hint = {LABELS_MAGIC: " (a labels file?)", IMAGES_MAGIC: " (an images file?)"}.get(found_magic, "")
        raise LitGenError(f"{path} has magic number {found_magic}{hint}: expected {expected}")
    header_end = 4 + 4 * ndim
    if len(data) < header_end:
        raise LitGenError(f"{path} is truncated inside its header ({len(data)} bytes): expected {expected}")
    count, *shape = struct.unpack(f">{ndim}I", data[4:header_end])
    if tuple(shape) != item_shape:
        raise LitGenError(
            f"{path} holds {what} of size {'×'.join(map(str, shape))}: expected {'×'.join(map(str, item_shape))}"
        )
    size = count * int(np.prod(item_shape, dtype=np.int64))
    if len(data) - header_end != size:
        state = "truncated" if len(data) - header_end < size else "longer than its header says"
        raise LitGenError(
            f"{path} is {state}: its header promises {count} {what} ({header_end + size} bytes), "
            f"it has {len(data)} bytes; download it again"
        )
    # a copy: `frombuffer` over bytes is read-only, and torch wants to own writable memory
    return np.frombuffer(data, dtype=np.uint8, offset=header_end).reshape(count, *item_shape).copy()


def read_idx_pair(images_path: Path, labels_path: Path, image_shape: tuple[int, int], classes: int):
    """Images (count, rows, cols) and labels (count,) from two IDX files whose counts must agree."""
    images = read_idx(images_path, IMAGES_MAGIC, image_shape)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise LitGenError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels: "
            "expected one label per image (files from two different downloads?)"
        )
    if len(labels) and int(labels.max()) >= classes:
        raise LitGenError(f"{labels_path} has label {int(labels.max())}: expected labels 0–{classes - 1}")
    return images, labels
