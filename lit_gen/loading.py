"""`lit_gen.load`: a trained model back from a checkpoint or a run directory."""

from __future__ import annotations

import importlib
import os

import torch

from lit_gen.checkpoints import read_checkpoint, resolve_checkpoint
from lit_gen.errors import LitGenError
from lit_gen.models.base import GenerativeModel


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> GenerativeModel:
    """The model of a checkpoint file or run directory, in eval mode, with `encode` / `decode` / `sample`.

    A run directory gives the checkpoint its `metrics.json` was computed from (the best one after `fit`).
    """
    checkpoint_path = resolve_checkpoint(path)
    checkpoint = read_checkpoint(checkpoint_path)
    class_path = checkpoint.get("lit_gen_class")
    if class_path is None:
        raise LitGenError(f"{checkpoint_path} was not written by a lit_gen model (no 'lit_gen_class' entry)")
    module_name, _, class_name = class_path.rpartition(".")
    model_class = getattr(importlib.import_module(module_name), class_name)
    model = model_class.load_from_checkpoint(checkpoint_path, map_location=map_location, weights_only=True)
    return model.eval()
