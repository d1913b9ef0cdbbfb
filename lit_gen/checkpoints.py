"""Finding and reading checkpoints, with errors a user can act on."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from lit_gen.errors import LitGenError


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file, or the checkpoint a run directory's `metrics.json` was computed from (else its best,
    else its last checkpoint)."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise LitGenError(f"checkpoint or run directory {path} does not exist")
    metrics = path / "metrics.json"
    if metrics.exists():
        meta = json.loads(metrics.read_text()).get("meta", {})
        for key in ("test_checkpoint", "val_checkpoint"):
            if meta.get(key):
                # the run directory may have moved since: look beside it first
                for candidate in (path / "checkpoints" / Path(meta[key]).name, Path(meta[key])):
                    if candidate.is_file():
                        return candidate
    candidates = sorted((path / "checkpoints").glob("best*.ckpt")) or sorted((path / "checkpoints").glob("last*.ckpt"))
    if not candidates:
        raise LitGenError(f"{path} holds no checkpoints (looked for checkpoints/best*.ckpt and last.ckpt)")
    return candidates[-1]


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's contents, or a LitGenError naming the file when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise LitGenError(f"checkpoint {path} does not exist: check the path (`--ckpt_path`)")
    try:
        # weights_only=False: Lightning checkpoints hold hyperparameters; only load checkpoints you trust
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many types for a damaged file
        raise LitGenError(
            f"checkpoint {path} cannot be read ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
            "it is damaged or not a PyTorch checkpoint: use another checkpoint, e.g. the run's checkpoints/last.ckpt"
        ) from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise LitGenError(f"{path} is a PyTorch file but not a Lightning checkpoint (it has no 'state_dict')")
    return checkpoint
