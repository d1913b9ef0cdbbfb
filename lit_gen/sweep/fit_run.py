"""One fit of a trial: its command line, its run directory, and what became of it.

The run directory (`<sweep dir>/trials/trial-<root>[-seed-<s>]`) derives from the trial's root number, so a
retry or a requeue resumes in the directory of the first attempt, from the newest of its `last.ckpt` and
Lightning's SLURM `hpc_ckpt_*.ckpt`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lit_gen.run.record import read_metrics
from lit_gen.run.trial_end import read_trial_end
from lit_gen.sweep.spec import SweepSpec

LOG_FILE = "trial.log"


@dataclass
class FitOutcome:
    kind: str  # complete | pruned | diverged | crashed | timed_out | interrupted | requeued
    value: float | None = None
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    fit_seconds: float | None = None  # the work: trainer start to the end of the final evaluation
    values: list[float] | None = None  # each objective of the sweep (complete: `value` is the first)


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


def outcome_of(exit_code: int, run_dir: Path, log_path: Path) -> FitOutcome:
    """What an ended fit left behind: its end record (`lit_gen.run.trial_end`), or, when it died before writing
    one, its exit code and the end of its log for the person reading the failure."""
    end = read_trial_end(run_dir)
    if end is None:
        return FitOutcome("crashed", message=f"exit code {exit_code}; end of {log_path}:\n{log_tail(log_path)}")
    if end.state == "complete":
        return FitOutcome("complete", end.value, metrics=read_metrics(run_dir)["metrics"], fit_seconds=end.seconds,
                          values=end.values or [end.value])
    if end.state == "pruned":
        return FitOutcome("pruned", end.value, end.reason, fit_seconds=end.seconds)
    if end.state == "diverged":
        return FitOutcome("diverged", message=end.reason)
    return FitOutcome("crashed", message=f"{end.reason}; end of {log_path}:\n{log_tail(log_path)}")


def log_tail(path: Path, lines: int = 25, max_chars: int = 4000) -> str:
    if not path.is_file():
        return ""
    text = path.read_bytes()[-64_000:].decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])[-max_chars:]
