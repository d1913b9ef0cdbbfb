"""Who a trial is, decided once: the contract between the sweep driver and everything a trial process runs.

A sweep trial is an ordinary `lit-gen fit` process. The driver tells it which trial it is through one environment
variable, `LIT_GEN_TRIAL` (JSON), never through the command line or the saved config, so that config re-runs the
trial by hand as a plain training run. The storage URL travels separately in `LIT_GEN_STORAGE`: it may hold a
password, and environment variables are not visible to other users the way `/proc/*/cmdline` is.

Identity across faults: when a trial's worker dies (SIGKILL, lost node), the trial is failed and retried as a new
Optuna trial with the same values, linked to the first by `root_number`. Everything that must survive a retry or a
SLURM requeue derives from `root_number`, not from the Optuna trial number: the run directory, and the W&B run id
(so a retried trial logs to the same W&B run, and its curves continue against the global step).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

TRIAL_ENV = "LIT_GEN_TRIAL"
STORAGE_ENV = "LIT_GEN_STORAGE"


@dataclass(frozen=True)
class TrialIdentity:
    study_name: str
    number: int  # this Optuna trial's number
    trial_id: int  # its id in the storage (what `optuna.trial.Trial` needs)
    root_number: int  # the first trial of its retry chain: the identity that survives retries and requeues
    attempt: int = 0  # 0 for the first run of the chain, 1 for its first retry, ...
    seed: int | None = None  # the seed of this fit when the sweep scores each configuration over several seeds
    params: dict[str, Any] = field(default_factory=dict)  # the sampled values, by dotted config path
    #: the sweep's metric: the value this fit's end record carries (a key of its metrics.json)
    metric: str = ""
    #: every objective of a multi-objective sweep, `metric` first (empty: `metric` alone); the end record has each
    metrics: list[str] = field(default_factory=list)
    #: pruning: where intermediate values come from and how the pruner is built (None: no pruning in this fit)
    report: dict[str, Any] | None = None

    @property
    def run_name(self) -> str:
        """`trial-<n>` (`trial-<n>-seed-<s>` when configurations are scored over several seeds)."""
        name = f"trial-{self.root_number}"
        return name if self.seed is None else f"{name}-seed-{self.seed}"

    @property
    def run_id(self) -> str:
        """A stable id for trackers (W&B run id): the same for every retry and requeue of the trial."""
        return safe_id(f"{self.study_name}-{self.run_name}")

    def to_env(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> TrialIdentity | None:
        """The trial this process runs, or None outside a sweep."""
        raw = (os.environ if environ is None else environ).get(TRIAL_ENV)
        if not raw:
            return None
        return cls(**json.loads(raw))


def current_trial() -> TrialIdentity | None:
    """The sweep trial this process belongs to, or None for an ordinary run."""
    return TrialIdentity.from_env()


def safe_id(text: str) -> str:
    # W&B run ids allow letters, digits, '-' and '_' (at most 64 characters); keep the readable part and,
    # when it must be cut, a hash of the whole so two long study names stay apart
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")
    if len(cleaned) <= 64:
        return cleaned
    import hashlib

    return cleaned[:55] + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
