"""A config given to `lit-gen compare` becomes a run: `lit-gen fit` in its own process."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from lit_gen.errors import LitGenError


def train(config: Path, out_dir: Path, label: str, fit_args: list[str]) -> Path:
    """`lit-gen fit --config CONFIG [fit_args]` in its own process, logging to <out_dir>/runs/<label>."""
    run_dir = out_dir / "runs" / label
    if run_dir.exists():
        raise LitGenError(f"{run_dir} already exists: choose another --out_dir, or pass that run directory "
                          "instead of the config to compare it as it is")
    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger",
              "init_args": {"save_dir": str(out_dir), "name": "runs", "version": label}}
    command = [sys.executable, "-m", "lit_gen.cli", "fit", "--config", str(config), *fit_args,
               "--trainer.logger", json.dumps(logger)]
    shown = shlex.join(["lit-gen", *command[3:]])
    print(f"training {config} into {run_dir}:\n  {shown}", flush=True)
    result = subprocess.run(command)
    if result.returncode != 0:
        raise LitGenError(f"training {config} failed (exit code {result.returncode}; its messages are above): fix it "
                          f"and try again, or run it alone: {shown}")
    if not (run_dir / "metrics.json").is_file():
        raise LitGenError(f"training {config} finished but wrote no {run_dir}/metrics.json")
    return run_dir
