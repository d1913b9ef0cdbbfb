"""One fit of a trial: its command line, its run directory, and what became of it.

The run directory (`<sweep dir>/trials/trial-<root>[-seed-<s>]`) derives from the trial's root number, so a
retry or a requeue resumes in the directory of the first attempt, from the newest of its `last.ckpt` and
Lightning's SLURM `hpc_ckpt_*.ckpt`.
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lit_gen.sweep.pruning import PRUNED_FILE
from lit_gen.sweep.spec import SweepSpec

LOG_FILE = "trial.log"
DIVERGED_MARK = "training diverged"


@dataclass
class FitOutcome:
    kind: str  # complete | pruned | diverged | crashed | timed_out | interrupted | requeued
    value: float | None = None
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    fit_seconds: float | None = None  # the work: trainer start to the end of the final evaluation


def format_value(value: Any) -> str:
    """A sampled value as a command-line override the config parser reads back as the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:  # 1e-05 → 1.0e-05: YAML reads the former as a string
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    return str(value)


def fit_arguments(spec: SweepSpec, params: dict[str, Any], seed: int | None, run_dir: Path,
                  resume_from: Path | None, extra: list[str]) -> list[str]:
    """`lit-gen` arguments of one fit: base configs, fixed overrides, limits, the sampled values, the seed."""
    args = ["fit"]
    for config in spec.configs:
        args += ["--config", str(config)]
    args += spec.overrides
    if spec.limits.max_epochs is not None:
        args.append(f"--trainer.max_epochs={int(spec.limits.max_epochs)}")
    if spec.limits.wall_time:
        seconds = int(spec.limits.wall_time)
        args.append(f"--trainer.max_time={seconds // 86400:02d}:{seconds // 3600 % 24:02d}:"
                    f"{seconds // 60 % 60:02d}:{seconds % 60:02d}")
    args += [f"--{path}={format_value(value)}" for path, value in params.items()]
    if seed is not None:
        args += [f"--{key}={seed}" for key in spec.seed_keys]
    args += extra  # from the cluster profile (devices, strategy), fixed for every trial
    args.append(f"--run_dir={run_dir}")
    if resume_from is not None:
        args.append(f"--ckpt_path={resume_from}")
    return args


def command_line(args: list[str]) -> str:
    return "lit-gen " + shlex.join(args)


def newest_checkpoint(run_dir: Path) -> Path | None:
    """Where a retried or requeued fit resumes: the newest of last.ckpt and SLURM's hpc_ckpt_*.ckpt."""
    candidates = [p for p in [run_dir / "checkpoints" / "last.ckpt", *run_dir.glob("hpc_ckpt_*.ckpt")] if p.is_file()]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def checkpoint_epoch(path: Path) -> int | None:
    """The epoch a Lightning checkpoint was saved in (memory-mapped: its tensors are not read)."""
    import torch

    try:
        # data only: a refused (code-carrying) checkpoint is reported by the trial process, which refuses it too
        return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["epoch"])
    except Exception:  # noqa: BLE001 — only informative; the trial process reports a damaged file itself
        return None


def finished_metrics(run_dir: Path) -> dict[str, Any] | None:
    """metrics.json of a fit that ran to its end (its final evaluation records the timing last), else None."""
    path = run_dir / "metrics.json"
    if not path.is_file():
        return None
    content = json.loads(path.read_text())
    return content if "timing" in content.get("meta", {}) else None


def set_aside_previous_log(run_dir: Path) -> None:
    """Lightning's CSV logger deletes an existing metrics.csv: keep the earlier attempt's rows beside it."""
    previous = run_dir / "metrics.csv"
    if previous.is_file():
        n = len(list(run_dir.glob("metrics.attempt-*.csv")))
        previous.rename(run_dir / f"metrics.attempt-{n}.csv")


def outcome_of(exit_code: int, run_dir: Path, metric: str, log_path: Path) -> FitOutcome:
    """What an ended fit process left behind, judged in this order: pruned, finished, diverged, crashed."""
    pruned_file = run_dir / PRUNED_FILE
    content = finished_metrics(run_dir)
    fit_seconds = content["meta"]["timing"].get("fit_seconds") if content else None
    if pruned_file.is_file():
        decision = json.loads(pruned_file.read_text())
        return FitOutcome("pruned", decision.get("value"), decision.get("reason", "pruned"), fit_seconds=fit_seconds)
    if exit_code == 0 and content is not None:
        metrics = content["metrics"]
        value = metrics.get(metric)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            found = ", ".join(sorted(metrics)) or "none"
            return FitOutcome("crashed", message=f"metric {metric!r} is not a finite number in {run_dir}/metrics.json "
                                                 f"(keys: {found}); check the sweep's `metric`", metrics=metrics)
        return FitOutcome("complete", float(value), metrics=metrics, fit_seconds=fit_seconds)
    tail = log_tail(log_path)
    if DIVERGED_MARK in tail:
        line = next(line for line in reversed(tail.splitlines()) if DIVERGED_MARK in line)
        return FitOutcome("diverged", message=line.strip())
    return FitOutcome("crashed", message=f"exit code {exit_code}; end of {log_path}:\n{tail}")


def log_tail(path: Path, lines: int = 25, max_chars: int = 4000) -> str:
    if not path.is_file():
        return ""
    text = path.read_bytes()[-64_000:].decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])[-max_chars:]
