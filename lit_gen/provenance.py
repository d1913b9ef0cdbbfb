"""Where a number came from: versions, code commit, seed, checkpoint, data."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

import lightning
import torch

from lit_gen.version import __version__


def git_commit(path: Path | None = None) -> str | None:
    """The commit of the working tree the run was started from, with `+dirty` if it had local changes."""
    cwd = path or Path.cwd()
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, timeout=5)
        return commit.stdout.strip() + ("+dirty" if status.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict[str, Any]:
    return {
        "lit_gen": __version__,
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "python": platform.python_version(),
    }
