"""Building small sweeps for tests, and reading their studies back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import CONFIGS

#: a digits VAE trained for seconds: 3 batches an epoch, one validation batch, few importance samples
TINY_OVERRIDES = [
    "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
    "--trainer.limit_train_batches=3", "--trainer.limit_val_batches=1", "--trainer.limit_test_batches=1",
    "--model.init_args.iw_samples=5", "--images.every_n_epochs=0", "--image_quality.backbone=none",
]
GOOD_LR, BAD_LR, DIVERGING_LR = 0.003, 1.0e-7, 1000.0


def write_spec(folder: Path, **changes: Any) -> Path:
    spec: dict[str, Any] = {
        "name": "test_sweep",
        "config": str(CONFIGS / "experiments" / "vae_digits.yaml"),
        "overrides": list(TINY_OVERRIDES),
        "metric": "val/nll_iw",
        "direction": "minimize",
        "n_trials": 4,
        "space": {"model.init_args.optimizer.init_args.lr": {
            "type": "categorical", "choices": [GOOD_LR, BAD_LR, DIVERGING_LR]}},
        "sampler": {"class_path": "RandomSampler"},
        "pruner": None,
        "limits": {"max_epochs": 4},
        "seed": 0,
        "directory": str(folder / "sweep"),
    }
    spec.update(changes)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def run_sweep_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600,
                  ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lit_gen.cli", "sweep", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def load_trials(spec_path: Path, storage: str | None = None):
    from lit_gen.sweep.driver import open_study
    from lit_gen.sweep.spec import load_spec

    study, _ = open_study(load_spec(spec_path), storage, create=False)
    return study.get_trials(deepcopy=False)


def states(trials) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts
