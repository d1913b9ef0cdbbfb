"""A sweep worker: ask the study for a trial, run it, tell the result; until the study has `n_trials` results.

The study is the only shared state, so workers in threads of one driver, in drivers on other machines, and in
SLURM array tasks all cooperate through the same storage.

Counting: slots.py (why ask/tell and slots rather than `study.optimize` and `MaxTrialsCallback`).

Faults (heartbeats, stale trials and retries are in faults.py: Optuna's on RDB storage, lit_gen's on a journal).
- The trial's fit crashes: FAIL, with the end of its log; not retried (it would crash again). After
  `faults.max_failures` of them the sweep stops: the config is wrong, not the luck.
- The fit's loss goes NaN/inf: PRUNED, with the message in `diverged`; the sampler learns to avoid the region.
- The worker dies (SIGKILL, lost node): its RUNNING trials stop getting heartbeats. The first worker that finds
  one older than `faults.stale_after` fails it and enqueues a retry with the same values, which resumes from the
  original's checkpoint in the original's run directory, up to `faults.max_retries` times.
- The worker is stopped (Ctrl-C, SIGTERM): it kills its trials and hands them on as retries at once. On SLURM,
  a trial that saved an hpc checkpoint and asked for a requeue (SIGUSR1 before the time limit) is left RUNNING,
  marked `requeued_at`: the job comes back with the same worker id, which re-adopts it (and clears the mark);
  meanwhile it counts as stale only `REQUEUE_GRACE` later (on RDB storage, where Optuna's grace period is the same
  for every trial, no trial does). A trial stopped without that (the time limit reached by a
  trial that started after the warning, `scancel`, preemption) is handed on as a retry like anywhere else, since no
  requeued job may come back for it.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lit_gen.errors import LitGenError
from lit_gen.run.identity import STORAGE_ENV, TRIAL_ENV, TrialIdentity
from lit_gen.run.trial_end import clear_trial_end, read_trial_end
from lit_gen.sweep.faults import TrialFaults, lineage
from lit_gen.sweep.fit_run import (
    LOG_FILE,
    FitOutcome,
    checkpoint_epoch,
    command_line,
    fit_arguments,
    newest_checkpoint,
    outcome_of,
)
from lit_gen.sweep.launch import FitRequest
from lit_gen.sweep.results import short_value
from lit_gen.sweep.slots import is_surplus, slot_counts, trial_label
from lit_gen.sweep.spec import SweepSpec

REQUEUE_WAIT = 120.0  # seconds to wait for SLURM to stop a job whose trial asked for a requeue
POLL_SECONDS = 2.0  # how often an idle worker looks for a free slot
STOP_CHECK_SECONDS = 0.5  # how often a worker waiting for its trial checks whether it was told to stop


class SweepStopped(LitGenError):
    pass


@dataclass
class SweepContext:
    """What every worker of one driver shares."""

    spec: SweepSpec
    n_trials: int
    study: Any  # optuna.Study
    storage: Any  # the optuna storage the driver opened the study with
    storage_url: str
    launcher: Any
    threads: int
    stop: threading.Event
    requeue_mode: bool = False  # True on SLURM: a trial that asked for a requeue is left RUNNING for it
    extra_args: tuple[str, ...] = ()  # fit arguments from the cluster profile ($LIT_GEN_TRIAL_OVERRIDES)

    def __post_init__(self) -> None:
        study_id = self.storage.get_study_id_from_name(self.spec.name)
        self.faults = TrialFaults(self.study, self.storage, study_id, self.spec.faults)


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{__import__('os').getpid()}"


class Worker:
    def __init__(self, context: SweepContext, worker_id: str) -> None:
        self.context = context
        self.worker_id = worker_id
        self.spec = context.spec
        self.faults = context.faults

    # --- the loop ------------------------------------------------------------------------------------------

    def own_running_trials(self) -> list:
        """RUNNING trials that name this worker: its SLURM job was requeued while they ran."""
        from optuna.trial import TrialState

        return [t for t in self.context.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                if t.user_attrs.get("worker") == self.worker_id]

    def keep_own_trials_alive(self) -> None:
        """A heartbeat for each trial this worker re-adopts; the driver calls it for every worker before any of
        them looks for stale trials, so that none fails a sibling's trial it is about to take back."""
        for trial in self.own_running_trials():
            self.faults.beat(self.faults.trial_id(trial.number))

    def run(self) -> None:
        study = self.context.study
        for trial in self.own_running_trials():
            if not self.context.stop.is_set():
                self._run_trial(trial)  # re-adopted
        while not self.context.stop.is_set():
            trials = study.get_trials(deepcopy=False)
            self.faults.fail_stale(trials, self.worker_id)
            counts = slot_counts(trials, self.spec.faults.max_retries)
            if counts.done >= self.context.n_trials:
                return
            if counts.crashed >= self.spec.faults.max_failures:
                raise SweepStopped(f"{counts.crashed} trials crashed (faults.max_failures = "
                                   f"{self.spec.faults.max_failures}): see `lit-gen sweep status` and the trials' "
                                   "trial.log; finished trials are kept")
            if counts.waiting == 0 and counts.done + counts.running >= self.context.n_trials:
                self.context.stop.wait(POLL_SECONDS)  # every slot is taken: wait for one to free up or finish
                continue
            number = study.ask(self.spec.distributions()).number  # takes a WAITING trial (a retry) first
            trial_id = self.faults.trial_id(number)
            if is_surplus(number, study.get_trials(deepcopy=False), self.context.n_trials):
                self._finish_unrun(trial_id, "surplus", "n_trials was reached by other workers meanwhile")
                continue
            self._run_trial(self.context.storage.get_trial(trial_id))

    # --- one trial -----------------------------------------------------------------------------------------

    def _run_trial(self, trial) -> None:
        """Run the fits of `trial` (a FrozenTrial: RUNNING, asked or re-adopted) and tell how it ended."""
        from optuna.exceptions import UpdateFinishedTrialError

        storage = self.context.storage
        number, params = trial.number, trial.params
        trial_id = self.faults.trial_id(number)
        root, attempt = lineage(trial)
        try:
            self.faults.beat(trial_id)
            for key, value in {"root_number": root, "attempt": attempt, "worker": self.worker_id,
                               "sweep_dir": str(self.spec.sweep_dir)}.items():
                storage.set_trial_user_attr(trial_id, key, value)
            if trial.user_attrs.get("requeued_at") is not None:
                storage.set_trial_user_attr(trial_id, "requeued_at", None)  # back: no longer awaiting its job
        except UpdateFinishedTrialError:
            return  # a re-adopted trial another worker found stale just before: its retry resumes it
        seeds = self.spec.seeds or [None]
        outcomes: list[FitOutcome] = []
        for index, seed in enumerate(seeds):
            identity = TrialIdentity(
                study_name=self.spec.name, number=number, trial_id=trial_id, root_number=root, attempt=attempt,
                seed=seed, params=params, metric=self.spec.metric,
                metrics=self.spec.objectives if self.spec.multi_objective else [],
                # the pruner judges the first seed's curve; later seeds only add to the score. A study of several
                # objectives cannot prune (Optuna's rule), so its fits report nothing on the way
                report={"metric": self.spec.metric, "pruner": self.spec.pruner}
                if index == 0 and not self.spec.multi_objective else None,
            )
            outcome = self._run_fit(trial_id, identity)
            while outcome.kind == "requeued" and not self.context.stop.wait(REQUEUE_WAIT):
                # SLURM should have stopped this job by now; it did not requeue, so resume here
                outcome = self._run_fit(trial_id, identity)
            outcomes.append(outcome)
            if outcome.kind != "complete":
                break
        self._tell(trial_label(trial), number, trial_id, outcomes, params)

    def _run_fit(self, trial_id: int, identity: TrialIdentity) -> FitOutcome:
        run_dir = self.spec.sweep_dir / "trials" / identity.run_name
        run_dir.mkdir(parents=True, exist_ok=True)
        log_path = run_dir / LOG_FILE
        storage = self.context.storage
        storage.set_trial_user_attr(trial_id, "run_dir" if identity.seed is None else f"run_dir_seed_{identity.seed}",
                                    str(run_dir))
        ended = read_trial_end(run_dir)
        if ended is not None and ended.state in ("complete", "pruned"):
            return outcome_of(0, run_dir, log_path)  # it ended before its worker could tell the study: keep it
        clear_trial_end(run_dir)  # an earlier attempt's failure says nothing about this one
        resume_from = newest_checkpoint(run_dir)
        if resume_from is not None:
            storage.set_trial_user_attr(trial_id, "resumed_from", str(resume_from))
            storage.set_trial_user_attr(trial_id, "resumed_from_epoch", checkpoint_epoch(resume_from))
        args = fit_arguments(self.spec, identity.params, identity.seed, run_dir, resume_from,
                             list(self.context.extra_args))
        storage.set_trial_user_attr(trial_id, "command", command_line(args))
        with open(log_path, "a") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} worker {self.worker_id}, attempt "
                      f"{identity.attempt}: {command_line(args)}\n")
        started = time.monotonic()
        process = self.context.launcher.start(FitRequest(
            args=args, log_path=log_path, threads=self.context.threads,
            env={TRIAL_ENV: identity.to_env(), STORAGE_ENV: self.context.storage_url},
        ))
        wall = self.spec.limits.wall_time
        hard_limit = 1.5 * wall + 60 if wall else None  # Lightning stops at `wall`; this catches a hung process
        next_beat = started + self.spec.faults.heartbeat_interval
        while True:
            code = process.wait(STOP_CHECK_SECONDS)  # short, so that Ctrl-C acts at once
            if code is not None:
                break
            if self.context.stop.is_set():
                process.kill()
                if self._asked_for_requeue(run_dir, started):
                    return FitOutcome("requeued", message="SLURM requeue")
                return FitOutcome("interrupted", message="the worker was stopped")
            if time.monotonic() >= next_beat:
                self.faults.beat(trial_id)
                next_beat += self.spec.faults.heartbeat_interval
            if hard_limit and time.monotonic() - started > hard_limit:
                process.kill()
                return FitOutcome("timed_out", message=f"still running after {hard_limit:.0f} s "
                                                       f"(limits.wall_time = {wall} s)")
        outcome = outcome_of(code, run_dir, log_path)
        wall_seconds = time.monotonic() - started
        if outcome.fit_seconds is not None:
            storage.set_trial_user_attr(trial_id, "fit_seconds", outcome.fit_seconds)
            storage.set_trial_user_attr(trial_id, "overhead_seconds", round(wall_seconds - outcome.fit_seconds, 3))
        if outcome.kind == "crashed" and self._asked_for_requeue(run_dir, started):
            return FitOutcome("requeued", message="SLURM requeue")  # and SLURM stops this job: wait for it
        return outcome

    def _asked_for_requeue(self, run_dir: Path, started: float) -> bool:
        """On SLURM, whether the trial saved an hpc checkpoint since it started, which it does just before it asks
        SLURM to requeue the job (lit_gen.slurm.requeue.SlurmRequeue)."""
        return self.context.requeue_mode and _newer_hpc_checkpoint(run_dir, started)

    # --- results -------------------------------------------------------------------------------------------

    def _tell(self, label: str, number: int, trial_id: int, outcomes: list[FitOutcome],
              params: dict[str, Any]) -> None:
        from optuna.trial import TrialState

        study, storage = self.context.study, self.context.storage
        last = outcomes[-1]
        values = ", ".join(f"{k.rsplit('.', 1)[-1]}={short_value(v)}" for k, v in params.items())
        shown = f" {self.spec.metric}={last.value:.6g}" if last.value is not None else ""
        if last.values is not None and self.spec.multi_objective:
            shown = " " + ", ".join(f"{m}={v:.6g}" for m, v in zip(self.spec.objectives, last.values, strict=True))
        why = f": {last.message.splitlines()[0]}" if last.message else ""
        print(f"{label} {last.kind}{shown} ({values}){why}", flush=True)  # `trial 7 (slot 2, retry 1) complete`
        if last.kind in ("interrupted", "requeued"):
            self._hand_on(trial_id, last.kind)
            return
        if last.kind == "complete":
            storage.set_trial_user_attr(trial_id, "metrics", _numbers(last.metrics))
            if self.spec.multi_objective:
                self._tell_objectives(number, trial_id, outcomes)
                return
            values = [o.value for o in outcomes]
            mean = sum(values) / len(values)
            if len(values) > 1:
                var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
                storage.set_trial_user_attr(trial_id, "value_se", (var / len(values)) ** 0.5)
                by_seed = dict(zip(map(str, self.spec.seeds), values, strict=True))
                storage.set_trial_user_attr(trial_id, "values_by_seed", by_seed)
            study.tell(number, mean)
        elif last.kind == "diverged" and self.spec.multi_objective:  # no PRUNED with several objectives
            self._finish_unrun(trial_id, "diverged", last.message)
        elif last.kind in ("pruned", "diverged"):
            storage.set_trial_user_attr(trial_id, last.kind, last.message)
            study.tell(number, state=TrialState.PRUNED)
        else:  # crashed, timed_out
            self._finish_unrun(trial_id, last.kind, last.message)

    def _tell_objectives(self, number: int, trial_id: int, outcomes: list[FitOutcome]) -> None:
        """A COMPLETE trial of several objectives: each one's mean over the configuration's seeds."""
        by_seed = [o.values for o in outcomes]
        means = [sum(column) / len(column) for column in zip(*by_seed, strict=True)]
        if len(by_seed) > 1:
            self.context.storage.set_trial_user_attr(trial_id, "values_by_seed", dict(
                zip(map(str, self.spec.seeds), by_seed, strict=True)))
        self.context.study.tell(number, means)

    def _finish_unrun(self, trial_id: int, failure: str, message: str) -> None:
        from optuna.trial import TrialState

        storage = self.context.storage
        storage.set_trial_user_attr(trial_id, "failure", failure)
        storage.set_trial_user_attr(trial_id, "error", message[-4000:])
        storage.set_trial_state_values(trial_id, TrialState.FAIL)

    def _hand_on(self, trial_id: int, why: str) -> None:
        """The worker stops while the trial is unfinished: leave it for the requeued job, or retry it now."""
        if why == "requeued":
            self.context.storage.set_trial_user_attr(trial_id, "requeued_at", time.time())
            return
        trial = self.context.storage.get_trial(trial_id)
        self.faults.fail_and_retry(trial, "interrupted", f"worker {self.worker_id} was stopped ({why})")


def _newer_hpc_checkpoint(run_dir: Path, since_monotonic: float) -> bool:
    started_wall = time.time() - (time.monotonic() - since_monotonic)
    return any(p.stat().st_mtime >= started_wall for p in run_dir.glob("hpc_ckpt_*.ckpt"))


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
