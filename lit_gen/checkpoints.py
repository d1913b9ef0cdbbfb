"""Finding and reading checkpoints, with errors a user can act on."""

from __future__ import annotations

import json
import os
import pickle
import re
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
    """The checkpoint's contents, or a LitGenError naming the file when it cannot be read.

    A checkpoint is data: it loads with `weights_only=True`, so a pickle that names a function to call (a checkpoint
    from a colleague or a W&B artifact that would run code) is refused before anything in it runs. lit_gen's own
    checkpoints hold only tensors and plain values (hyperparameters included), which is all this lets through.
    """
    path = Path(path)
    if not path.is_file():
        raise LitGenError(f"checkpoint {path} does not exist: check the path (`--ckpt_path`)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        raise checkpoint_error(path, error) from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise LitGenError(f"{path} is a PyTorch file but not a Lightning checkpoint (it has no 'state_dict')")
    return checkpoint


def checkpoint_error(path: str | os.PathLike, error: Exception) -> LitGenError:
    """The one-line message for a checkpoint `torch.load(weights_only=True)` refused or could not read."""
    # torch names what the pickle wanted to import as "GLOBAL module.name" (e.g. posix.system, builtins.exec)
    refused = re.search(r"GLOBAL ([\w.]+)", str(error)) if isinstance(error, pickle.UnpicklingError) else None
    if refused:
        return LitGenError(
            f"checkpoint {path} is refused: loading it would call {refused.group(1)}, and a checkpoint must be "
            "data only (tensors and plain values); use a checkpoint saved by lit_gen, or load it yourself with "
            "torch.load(weights_only=False) only if you trust who made it"
        )
    return LitGenError(
        f"checkpoint {path} cannot be read ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
        "it is damaged or not a PyTorch checkpoint: use another checkpoint, e.g. the run's checkpoints/last.ckpt"
    )


#: `--ckpt_path` words Lightning resolves itself (to a checkpoint lit_gen or Lightning saved in the run)
RESOLVED_BY_LIGHTNING = ("best", "last", "hpc", "registry")


def checkpoint_as_data(config: Any, subcommand: str = "fit") -> Any:
    """`--ckpt_path` checked and read as data only, before Lightning reads its hyperparameters (right after parsing):
    a damaged file or one whose pickle would run code fails with one lit_gen message. Lightning's own loads of the
    checkpoint (its hyperparameters, then the trainer's restore) then run with `weights_only=True` too.

    A run directory stands for its checkpoint (as for `lit-gen sample`). Lightning's words `best`, `last`, `hpc` name
    checkpoints of a fit in the same process or its run directory; where they cannot mean anything in a fresh
    `lit-gen` process they stop with one line here, instead of Lightning's traceback or, for `test --ckpt_path last`,
    an evaluation of untrained weights."""
    if config.get("weights_only") is False:
        raise LitGenError("--weights_only false is not supported: lit-gen loads checkpoints as data only "
                          "(drop the option, or re-save the checkpoint's state_dict from a Python session you trust)")
    ckpt_path = config.get("ckpt_path")
    if ckpt_path:
        word = str(ckpt_path)
        if word in ("best", "last", "hpc"):
            check_lightning_word(word, subcommand)
        elif word.split(":")[0] not in RESOLVED_BY_LIGHTNING:  # also "registry:<name>:<version>", left to Lightning
            if Path(word).is_dir():
                config.ckpt_path = ckpt_path = str(resolve_checkpoint(word))
            read_checkpoint(ckpt_path)
    if "weights_only" in config:
        config.weights_only = True  # explicit: torch's default can be flipped by TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD
    return config


def check_lightning_word(word: str, subcommand: str) -> None:
    """Refuse `--ckpt_path best|last|hpc` where the command cannot resolve it. `fit --ckpt_path last` resumes the
    run in `--run_dir` (from scratch if it has no checkpoint yet), as Lightning does."""
    if subcommand == "fit" and word == "last":
        return
    if subcommand == "fit" and word == "hpc":
        raise LitGenError("--ckpt_path hpc: leave --ckpt_path out; on SLURM, Lightning resumes from the "
                          "hpc_ckpt_*.ckpt in the run directory by itself")
    if subcommand == "fit":
        raise LitGenError("--ckpt_path best: a fit resumes from a checkpoint file, or from `last` (the latest "
                          "checkpoint of the run in --run_dir); `best` exists only once a fit has run")
    raise LitGenError(f"--ckpt_path {word} is Lightning's word for a checkpoint it finds during a fit; `lit-gen "
                      f"{subcommand}` needs the checkpoint file or the run directory (e.g. --ckpt_path "
                      "runs/vae_digits/version_0)")
