"""`image_quality.domain_classifier: auto`: the classifier trained on exactly this run's training split.

Looked up by the split's fingerprint (sha256 of its examples and labels), first among the files lit_gen ships
(`lit_gen/features/pretrained/`, the 8×8 digits with their default split), then in the cache
(`$LIT_GEN_CACHE`, else `$XDG_CACHE_HOME/lit_gen`, else `~/.cache/lit_gen`; under `domain_classifiers/`), and
else trained now and stored in the cache. Keying by the data itself means a classifier never saw the held-out
images it is used to compare against, and a changed split or a different copy of a data set gets its own.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from lit_gen.data.base import InMemoryDataModule
from lit_gen.features.store import data_fingerprint, save_classifier
from lit_gen.features.train import labelled_splits, train_classifier

PRETRAINED = Path(__file__).resolve().parent / "pretrained"


def cache_dir() -> Path:
    root = os.environ.get("LIT_GEN_CACHE")
    if root:
        return Path(root).expanduser() / "domain_classifiers"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "lit_gen" / "domain_classifiers"


def file_name(datamodule: InMemoryDataModule) -> str:
    train, labels = labelled_splits(datamodule)["train"]
    return f"{type(datamodule).__name__}-{data_fingerprint(train, labels)[:16]}.pt"


def find_or_train(datamodule: InMemoryDataModule, may_train: bool = True, log=print) -> Path:
    """The classifier file for this data: shipped, cached, or (with `may_train`) trained now into the cache."""
    name = file_name(datamodule)
    for candidate in (PRETRAINED / name, cache_dir() / name):
        if candidate.is_file():
            return candidate
    target = cache_dir() / name
    if not may_train:
        raise FileNotFoundError(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # one process trains, the others wait for its file: two trainings of the same classifier differ in the last
    # bits (not reproducible between processes), so sweep workers that each trained their own would score their
    # trials with different classifiers, and their FIDs could not be compared
    with exclusive_lock(target.with_name(f".{name}.lock"), log, f"another process is training {target.name}"):
        if target.is_file():
            return target
        log(f"lit_gen: training a domain classifier for {type(datamodule).__name__} (once; stored in {target})")
        network, info = train_classifier(datamodule, log=lambda message: None)
        save_classifier(target, network, info)
    log(f"lit_gen: domain classifier trained in {info['training']['seconds']} s, "
        f"test accuracy {info['accuracy']['test']:.4f}")
    return target


@contextmanager
def exclusive_lock(path: Path, log=print, waiting: str = "waiting for a lock"):
    """Hold an exclusive `flock` on `path` (created if missing) for the block; the kernel releases it when the
    process ends, so a killed holder leaves no stale lock. Where `fcntl` is missing (Windows), no lock is taken."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"lit_gen: {waiting}; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
