"""CIFAR-10's "python version": the pickled batches extracted in `cifar-10-batches-py/`, or still inside
`cifar-10-python.tar.gz` (read member by member in memory; nothing is extracted next to it).

Each batch is a pickled dict with `data`, a (count, 3072) uint8 array of channel-major 32×32 RGB images, and
`labels`, a list of count ints in 0–9. Loading a pickle runs code from the file, as torchvision's own loader does:
read only batches you trust.
"""

from __future__ import annotations

import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np

from lit_gen.errors import LitGenError

BATCHES_FOLDER = "cifar-10-batches-py"
ARCHIVE = "cifar-10-python.tar.gz"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCHES = ["test_batch"]
IMAGE_SHAPE = (3, 32, 32)
_CLASSES = 10


def decode_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (count, 3, 32, 32) uint8 and labels (count,) from one pickled batch; `where` names it in errors."""
    expected = f"a pickled CIFAR-10 batch (a dict with 'data', count×{np.prod(IMAGE_SHAPE)} uint8, and 'labels')"
    try:
        batch = pickle.loads(raw, encoding="latin1")  # the batches were pickled by Python 2
    except Exception as error:  # a damaged pickle raises almost anything (EOFError, UnpicklingError, ValueError…)
        raise LitGenError(
            f"{where} cannot be unpickled ({type(error).__name__}: {error}): expected {expected}"
        ) from None
    if not isinstance(batch, dict):
        raise LitGenError(f"{where} holds a {type(batch).__name__}: expected {expected}")
    batch = {key.decode() if isinstance(key, bytes) else key: value for key, value in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise LitGenError(f"{where} has the keys {sorted(map(str, batch))}: expected {expected}")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"])
    width = int(np.prod(IMAGE_SHAPE))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != width:
        raise LitGenError(
            f"{where} holds data of shape {data.shape} ({data.dtype}): expected count×{width} uint8, "
            "i.e. 32×32 RGB images"
        )
    if labels.shape != (len(data),):
        raise LitGenError(f"{where} holds {len(data)} images but {labels.size} labels: expected one label per image")
    if len(labels) and not (0 <= labels.min() and labels.max() < _CLASSES):
        raise LitGenError(f"{where} has labels outside 0–{_CLASSES - 1}: expected CIFAR-10's ten classes")
    return data.reshape(len(data), *IMAGE_SHAPE), labels.astype(np.int64)


def _concatenate(batches: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def read_batches_folder(folder: Path, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    batches = []
    for name in names:
        path = folder / name
        if not path.is_file():
            raise LitGenError(
                f"{path} is missing: expected the CIFAR-10 python batches {', '.join(TRAIN_BATCHES + TEST_BATCHES)} "
                f"in {folder}; download them again"
            )
        batches.append(decode_batch(path.read_bytes(), str(path)))
    return _concatenate(batches)


def read_archive(archive: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`{"train": ..., "test": ...}` from the tar.gz, each `(images, labels)`."""
    wanted = set(TRAIN_BATCHES + TEST_BATCHES)
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = Path(member.name).name
                if member.isfile() and name in wanted and name not in found:
                    found[name] = decode_batch(tar.extractfile(member).read(), f"{archive} (member {member.name})")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise LitGenError(
            f"{archive} cannot be read ({error}): expected the gzipped tar of CIFAR-10's python batches; "
            "download it again"
        ) from None
    missing = sorted(wanted - set(found))
    if missing:
        raise LitGenError(f"{archive} lacks {', '.join(missing)}: expected CIFAR-10's python batches in it")
    return {
        "train": _concatenate([found[name] for name in TRAIN_BATCHES]),
        "test": _concatenate([found[name] for name in TEST_BATCHES]),
    }
