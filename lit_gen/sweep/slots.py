"""Counting trials: how a sweep ends with exactly `n_trials` COMPLETE + PRUNED trials, however many workers run.

A trial holds a *slot* from `ask` until it ends; WAITING trials (enqueued values, retries) hold one too. A worker
asks only while a slot is free, and after asking checks its trial's rank among the slot holders: when two workers
asked for the last slot at once, the later trial number is surplus and is failed without running (recorded as
`failure: surplus`), so the study never ends with more than requested.

Why not Optuna's `MaxTrialsCallback(n_trials, states=(COMPLETE, PRUNED))`: it counts the same trials, but it acts
only inside `study.optimize` (it calls `study.stop()`, which raises anywhere else), and only after a trial ended,
so N workers starting their last trials together would still end with up to N-1 surplus trials. And the workers
use ask/tell rather than `study.optimize` because a trial here is a process that can outlive its worker's loop: it
is re-adopted by a requeued SLURM job, left RUNNING for one, or handed on to another worker (worker.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from lit_gen.sweep.faults import failure_of, lineage


@dataclass(frozen=True)
class SlotCounts:
    done: int  # COMPLETE + PRUNED (+ diverged trials of several objectives, `is_done`): what n_trials counts
    running: int
    waiting: int  # enqueued values and retries, not yet taken by a worker
    crashed: int  # FAIL that counts against the sweep (not stale, interrupted or surplus trials)


def is_done(trial) -> bool:
    """Whether a trial holds a finished slot: COMPLETE, PRUNED, or a trial of several objectives that diverged, FAIL
    only because Optuna has no PRUNED with values for those (objectives.py): an answer about its values all the
    same, which a retry would repeat."""
    from optuna.trial import TrialState

    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and trial.user_attrs.get("failure") == "diverged")


def slot_counts(trials, max_retries: int) -> SlotCounts:
    from optuna.trial import TrialState

    return SlotCounts(
        done=sum(is_done(t) for t in trials),
        running=sum(t.state == TrialState.RUNNING for t in trials),
        waiting=sum(t.state == TrialState.WAITING for t in trials),
        crashed=sum(t.state == TrialState.FAIL and failure_of(t, max_retries) in ("crashed", "timed_out", "gave_up")
                    for t in trials),
    )


def is_surplus(number: int, trials, n_trials: int) -> bool:
    """Whether trial `number` ranks past `n_trials` among the trials holding a slot."""
    from optuna.trial import TrialState

    holders = sorted(t.number for t in trials if is_done(t) or t.state in (TrialState.RUNNING, TrialState.WAITING))
    return number in holders and holders.index(number) >= n_trials


@dataclass(frozen=True)
class Slot:
    """One slot as `sweep status` shows it: its attempts (Optuna trials: the first one, then its retries, in order),
    named by the first trial's number, which also names its run directory (`trials/trial-<root>`)."""

    root: int
    attempts: tuple  # FrozenTrials, oldest first; the last one is the slot's current state

    @property
    def last(self):
        return self.attempts[-1]

    @property
    def state(self) -> str:
        return self.last.state.name


def slots_of(trials) -> tuple[list[Slot], list]:
    """The study's trials grouped by slot (`faults.lineage`: a retry belongs to its first attempt's slot), in the
    order the slots were opened; and the surplus trials apart, which never held one (failed unrun, see above)."""
    chains: dict[int, list] = {}
    surplus = []
    for trial in sorted(trials, key=lambda t: t.number):
        root, attempt = lineage(trial)
        if attempt == 0 and trial.user_attrs.get("failure") == "surplus":
            surplus.append(trial)
            continue
        chains.setdefault(root, []).append(trial)
    return [Slot(root, tuple(chain)) for root, chain in sorted(chains.items())], surplus


def trial_label(trial) -> str:
    """`trial 7`, or for a retry `trial 7 (slot 2, retry 1)`: the Optuna trial number, and the slot it fills."""
    root, attempt = lineage(trial)
    return f"trial {trial.number}" + (f" (slot {root}, retry {attempt})" if attempt else "")
