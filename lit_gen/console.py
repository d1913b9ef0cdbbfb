"""What a run prints: quiet by default, everything with `lit-gen --verbose`.

Quiet means: no third-party advertisements, no warnings known to be harmless here, progress bars only on a terminal
(`lit_gen.callbacks.progress`). Each filter names one message of one library, so a new warning still shows.

The choice travels in the environment (`LIT_GEN_VERBOSE=1`), so that the processes a command starts — a sweep's
trials, the other DDP ranks Lightning starts, the runs `compare` trains — print as their parent does.
"""

from __future__ import annotations

import logging
import os
import warnings

VERBOSE_FLAG = "--verbose"
VERBOSE_ENV = "LIT_GEN_VERBOSE"

#: (logger, start of a message) that a quiet run leaves out: advertisements, and lines that say nothing here
QUIET_LOG_MESSAGES = [
    # Lightning's advertisement for its cloud logger, at every Trainer construction
    ("lightning.pytorch.utilities.rank_zero", "💡 Tip:"),
    # said just before "Loaded model weights ..." / "Restored all states ...", which name the same checkpoint
    ("lightning.pytorch.utilities.rank_zero", "Restoring states from the checkpoint path"),
    ("lightning.pytorch.utilities.rank_zero", "TPU available: False"),
    # a quiet run gives the Trainer its one-line model summary (lit_gen.callbacks.progress) instead of the table
    ("lightning.pytorch.utilities.rank_zero", "Trainer already configured with model summary callbacks"),
]

#: (message regex, category, module regex) of warnings known to be harmless for lit_gen
HARMLESS_WARNINGS = [
    # torch deprecated `LeafSpec`; Lightning's own pytree helper still builds one, at every validate/test
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning, r"lightning\.pytorch\.utilities\._pytree"),
    # this machine has SLURM's client tools; a run started without srun is a local run, as the user meant.
    # (`lit-gen submit` and `sweep submit` write the srun line themselves.)
    (r"The `srun` command is available on your system but is not used", Warning, r"lightning\."),
    # lit_gen's models log their training metrics once per epoch, so the per-step logging interval does not apply
    (r"The number of training batches \(\d+\) is smaller than the logging interval", Warning, r"lightning\."),
]


def set_verbose(verbose: bool) -> None:
    os.environ[VERBOSE_ENV] = "1" if verbose else "0"


def is_verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "0") not in ("", "0", "false", "False")


class _DropMessages(logging.Filter):
    def __init__(self, starts: tuple[str, ...]) -> None:
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return is_verbose() or not str(record.msg).startswith(self.starts)


def quiet_third_parties() -> None:
    """Install the filters above (once per process; asked again, it does nothing). A verbose run keeps them out:
    the log filters look at `is_verbose()` for every message, the warning filters are not installed."""
    by_logger: dict[str, list[str]] = {}
    for name, start in QUIET_LOG_MESSAGES:
        by_logger.setdefault(name, []).append(start)
    for name, starts in by_logger.items():
        logger = logging.getLogger(name)  # the same object Lightning logs to, whether it is imported yet or not
        if not any(isinstance(f, _DropMessages) for f in logger.filters):
            logger.addFilter(_DropMessages(tuple(starts)))
    if not is_verbose():
        for message, category, module in HARMLESS_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category, module=module)
