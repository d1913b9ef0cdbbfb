"""A run directory and its `metrics.json`: this module is the file's only writer.

`metrics.json` holds `{"metrics": {...}, "meta": {...}}`: the val/test metrics of the latest evaluation of each
split (after `lit-gen fit`, the best checkpoint's), and their provenance. Callbacks attach their own provenance to
`meta` through `update_meta`; `write_split_metrics` replaces one split's numbers.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

FILENAME = "metrics.json"


def run_dir(trainer) -> Path:
    """Where a run's files go: the first logger's directory, or the trainer's root without a logger.

    Call it on every rank: under DDP the log dir is broadcast from rank 0."""
    return Path(trainer.log_dir or trainer.default_root_dir)


def read_metrics(path: str | os.PathLike) -> dict[str, Any]:
    """The `metrics.json` of a run directory (or the file itself)."""
    path = Path(path)
    return json.loads((path / FILENAME if path.is_dir() else path).read_text())


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {"metrics": {}, "meta": {}}


def _save(path: Path, content: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(content, indent=2) + "\n")
    tmp.replace(path)  # never leave a half-written file behind


def merge_meta(meta: dict[str, Any], updates: dict[str, Any]) -> None:
    """A dict is merged into the dict already under its key, a `None` inside it removes that entry (and an emptied
    dict its key); any other value replaces what was there."""
    for key, value in updates.items():
        if isinstance(value, dict):
            merged = {**(meta.get(key) if isinstance(meta.get(key), dict) else {}), **value}
            meta[key] = {k: v for k, v in merged.items() if v is not None}
            if not meta[key]:
                del meta[key]
        else:
            meta[key] = value


def update_meta(folder: Path, updates: dict[str, Any]) -> None:
    """Merge `updates` into the `meta` of `folder/metrics.json` (see `merge_meta`). Call it on rank 0 only."""
    path = Path(folder) / FILENAME
    content = _load(path)
    merge_meta(content["meta"], updates)
    _save(path, content)


def write_split_metrics(folder: Path, prefix: str, metrics: dict[str, float], meta: dict[str, Any]) -> None:
    """Replace the metrics under `prefix` (`val/`, `test/`) by `metrics`, and merge `meta`. Rank 0 only.

    A non-finite number is stored as its string ("nan", "inf"): JSON has no such numbers."""
    path = Path(folder) / FILENAME
    content = _load(path)
    kept = {k: v for k, v in content["metrics"].items() if not k.startswith(prefix)}
    for key, value in metrics.items():
        number = float(value)
        kept[key] = number if math.isfinite(number) else str(number)
    content["metrics"] = dict(sorted(kept.items()))
    merge_meta(content["meta"], meta)
    _save(path, content)
