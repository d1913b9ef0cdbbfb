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
    model_class = model_class_of(checkpoint_path, class_path)
    model = model_class.load_from_checkpoint(checkpoint_path, map_location=map_location, weights_only=True)
    return model.eval()


def model_class_of(checkpoint_path, class_path: str) -> type[GenerativeModel]:
    """The GenerativeModel subclass a checkpoint names; anything else the name points at is refused, not called."""
    module_name, _, class_name = str(class_path).rpartition(".")
    try:
        model_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise LitGenError(f"{checkpoint_path} names the model class {class_path!r}, which cannot be imported "
                          f"({error}): install the package that defines it") from error
    if not (isinstance(model_class, type) and issubclass(model_class, GenerativeModel)):
        raise LitGenError(f"{checkpoint_path} names {class_path!r} as its model class, which is not a lit_gen "
                          "GenerativeModel: use a checkpoint written by a lit_gen model")
    return model_class
