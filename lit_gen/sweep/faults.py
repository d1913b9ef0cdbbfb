"""A trial whose worker died or stopped: heartbeats, stale trials and retries, through Optuna where it has them.

- RDB storage (PostgreSQL, SQLite): Optuna's own machinery. `rdb_heartbeat` gives `RDBStorage` its
  `heartbeat_interval`, `grace_period` (= `faults.stale_after`) and retry callback; a worker records heartbeats with
  `storage.record_heartbeat`, and `optuna.storages.fail_stale_trials` fails the trials whose heartbeat stopped and
  hands each to that callback.
- Journal file: Optuna 5.1's `JournalStorage` has no heartbeat, so lit_gen keeps its own here (and only here): a
  `heartbeat` user attribute the worker refreshes, and the stale check in `TrialFaults.fail_stale`.

Either way, a retry is made by one callback, Optuna's `RetryHeartbeatStaleTrialCallback`: a WAITING trial with the
same values whose `retry_history` names the earlier attempts. `lineage` reads the root trial from it; the run
directory and the W&B run id derive from that root (identity.py), so a retry resumes from its root's checkpoint.
A trial whose worker is stopped (Ctrl-C) goes through the same callback.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lit_gen.sweep.spec import FaultPolicy

# lit_gen's own heartbeat, kept only because Optuna 5.1's JournalStorage has none (on RDB storage Optuna's is used):
# the trial's user attribute `heartbeat`, when its worker last said it is alive (time.time())
HEARTBEAT_ATTR = "heartbeat"
REQUEUE_GRACE = 1800.0  # seconds a requeued SLURM job may take to come back before its trials count as stale

# These are Optuna's documented fault-handling features, marked experimental since 2.8-2.9; a sweep user can do
# nothing about the warning, so it is not shown.
warnings.filterwarnings(
    "ignore", message=r".*(heartbeat_interval|fail_stale_trials|RetryHeartbeatStaleTrialCallback).*experimental")
# `study.ask` on a storage with a heartbeat warns that nothing records heartbeats outside `study.optimize`; the
# worker records them itself (`TrialFaults.beat`, every `faults.heartbeat_interval` while a trial runs).
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")


class RetryStaleTrial:
    """Optuna's `RetryHeartbeatStaleTrialCallback`, given the failed trial without its user attributes: those
    describe the failed attempt (its worker, command, error), and a retry that copied them would report them as its
    own. Its values, distributions and retry history are carried over as Optuna does."""

    def __init__(self, max_retries: int) -> None:
        from optuna.storages import RetryHeartbeatStaleTrialCallback

        self.max_retries = max_retries
        self._retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retries)

    def __call__(self, study, trial) -> None:
        trial = copy.deepcopy(trial)  # a journal storage hands out its own cached object
        trial.user_attrs = {}
        self._retry(study, trial)


def rdb_heartbeat(policy: FaultPolicy) -> dict[str, Any]:
    """The `RDBStorage` arguments that switch on Optuna's heartbeat and retries (Optuna takes whole seconds)."""
    return {"heartbeat_interval": max(1, math.ceil(policy.heartbeat_interval)),
            "grace_period": max(1, math.ceil(policy.stale_after)),
            "heartbeat_stale_trial_callback": RetryStaleTrial(policy.max_retries)}


def lineage(trial) -> tuple[int, int]:
    """(root number, attempt) of a trial: the first trial of its retry chain and how many attempts came before."""
    from optuna.storages import RetryHeartbeatStaleTrialCallback as Retry

    root = Retry.retried_trial_number(trial)
    return (trial.number if root is None else root), len(Retry.retry_history(trial))


def failure_of(trial, max_retries: int | None) -> str:
    """Why a FAIL trial failed: lit_gen's `failure` attribute (crashed, timed_out, surplus, interrupted, stale), or
    `stale` when Optuna's `fail_stale_trials` failed it (it records no reason); `gave_up` for a stale or interrupted
    trial that was not retried again because its chain already had `max_retries` retries (None: not told)."""
    failure = trial.user_attrs.get("failure", "stale")
    if failure in ("stale", "interrupted") and max_retries is not None and lineage(trial)[1] >= max_retries:
        return "gave_up"
    return failure


def awaiting_requeue(trial, now: float, policy: FaultPolicy) -> bool:
    """A RUNNING trial left for its requeued SLURM job, which has not come back for it yet (it clears the mark)."""
    requeued_at = trial.user_attrs.get("requeued_at")
    return requeued_at is not None and now - requeued_at < policy.stale_after + REQUEUE_GRACE


class TrialFaults:
    """Heartbeats, stale trials and retries of one study, for its storage (see the module docstring)."""

    def __init__(self, study, storage, study_id: int, policy: FaultPolicy) -> None:
        from optuna.storages import RDBStorage

        self.study, self.storage, self.study_id, self.policy = study, storage, study_id, policy
        self.optuna_heartbeat = isinstance(storage, RDBStorage) and storage.get_heartbeat_interval() is not None
        self.retry = storage.get_heartbeat_stale_trial_callback() if self.optuna_heartbeat else RetryStaleTrial(
            policy.max_retries)

    def trial_id(self, number: int) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)

    def beat(self, trial_id: int) -> None:
        if self.optuna_heartbeat:
            self.storage.record_heartbeat(trial_id)
        else:
            self.storage.set_trial_user_attr(trial_id, HEARTBEAT_ATTR, time.time())

    def fail_stale(self, trials, own_worker: str) -> None:
        """Fail the RUNNING trials whose worker stopped sending heartbeats, and retry them."""
        from optuna.storages import fail_stale_trials
        from optuna.trial import TrialState

        if not self.optuna_heartbeat:
            self._fail_stale_journal_trials(trials, own_worker)
            return
        now = time.time()
        # Optuna's grace period is the same for every trial: while a requeued SLURM job may still come back for its
        # trial (and find it RUNNING, as it left it), no trial is failed as stale; the others wait a little longer
        if not any(t.state == TrialState.RUNNING and awaiting_requeue(t, now, self.policy) for t in trials):
            fail_stale_trials(self.study)

    def _fail_stale_journal_trials(self, trials, own_worker: str) -> None:
        """lit_gen's stale check, for storages without Optuna's heartbeat (the journal file)."""
        from optuna.trial import TrialState

        now = time.time()
        for trial in trials:
            if trial.state != TrialState.RUNNING or trial.user_attrs.get("worker") == own_worker:
                continue  # mine: re-adopted at start, never stale to myself
            last = trial.user_attrs.get(HEARTBEAT_ATTR) or trial.datetime_start.timestamp()
            limit = self.policy.stale_after + (REQUEUE_GRACE if awaiting_requeue(trial, now, self.policy) else 0)
            if now - last > limit:
                self.fail_and_retry(trial, "stale", f"no heartbeat from worker {trial.user_attrs.get('worker')} "
                                                    f"for {now - last:.0f} s (faults.stale_after = "
                                                    f"{self.policy.stale_after})")

    def fail_and_retry(self, trial, failure: str, message: str) -> None:
        """Fail `trial` and enqueue its retry (up to `faults.max_retries` per chain); when several workers try at
        once, only the one whose FAIL the storage accepts retries it."""
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        trial_id = self.trial_id(trial.number)
        try:
            self.storage.set_trial_user_attr(trial_id, "failure", failure)
            self.storage.set_trial_user_attr(trial_id, "error", message)
            self.storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except UpdateFinishedTrialError:
            return  # another worker failed it first, and retries it
        self.retry(self.study, trial)
