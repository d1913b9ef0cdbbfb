"""The only place lit_gen relies on another library's behaviour that has no public API.

Each entry says what it relies on, why there is no public way, and which test in `tests/test_compat.py` fails when
the upstream behaviour changes. Nothing else in lit_gen may touch a private name of Lightning, Optuna, W&B, torch or
jsonargparse.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

#: Lightning's SLURM auto-resume looks for `hpc_ckpt_<n>.ckpt` in `trainer.default_root_dir` and takes the largest n
#: (`_CheckpointConnector._hpc_resume_path`). There is no public function for the name of the next one (Lightning's
#: own SIGUSR1 handler computes it with the private `trainer._checkpoint_connector.hpc_save_path`), and lit_gen saves
#: the requeue checkpoint itself (`lit_gen.slurm.requeue`), so it names the file by the same rule.
#: Test: `test_hpc_checkpoint_name_is_the_one_lightning_resumes_from`.
HPC_CHECKPOINT = re.compile(r"^hpc_ckpt_(\d+)\.ckpt$")


def hpc_checkpoint_path(root: str | Path) -> Path:
    """The next `hpc_ckpt_<n>.ckpt` in `root`: one past the largest n there, from 1."""
    root = Path(root)
    names = [p.name for p in root.iterdir()] if root.is_dir() else []
    numbers = [int(match.group(1)) for name in names if (match := HPC_CHECKPOINT.match(name))]
    return root / f"hpc_ckpt_{max(numbers, default=0) + 1}.ckpt"


def name_main_module(module: str) -> None:
    """Make `module` this process's main module as far as Lightning's DDP launcher can tell.

    Lightning starts a local DDP run's other ranks as `python -m <__main__.__spec__.name> <sys.argv[1:]>` (or runs
    `sys.argv[0]` as a script when the main module has no spec); it has no public way to name the command. A trial
    forked from the sweep's fork server has the driver's main module (the `lit-gen` script, or nothing), so its
    ranks would re-run the driver; naming `lit_gen.cli` makes them run `python -m lit_gen.cli fit ...`, exactly as
    a trial started by `SubprocessLauncher`. Test: `test_ddp_ranks_start_as_the_named_module`.
    """
    sys.modules["__main__"].__spec__ = importlib.util.find_spec(module)
