"""Checkpoint and requeue on SLURM's warning signal at a point every DDP rank reaches together.

Lightning's own SIGUSR1 handler saves the hpc checkpoint from inside the signal handler, on each rank wherever that
rank happens to be. `Trainer.save_checkpoint` ends with a barrier, so when the signal finds one rank inside a
collective (DDP's gradient all-reduce, a ModelCheckpoint save) and the other outside it, the ranks wait for each
other forever: seen on the test cluster with 2 gloo ranks, signalled just after an epoch ended. This callback only
notes the signal in its handler (installed before Lightning's, which then steps aside) and acts after a training
batch: the ranks agree (one tiny all-reduce), save `hpc_ckpt_<n>.ckpt` in `trainer.default_root_dir` together, and
rank 0 runs `scontrol requeue`. SLURM then ends the job and starts it again; Lightning finds the hpc checkpoint in
the same run directory and resumes from it.

`lit-gen submit` and sweep trials under SLURM add it with `--trainer.callbacks+=lit_gen.slurm.requeue.SlurmRequeue`.
Outside SLURM it does nothing. The resumed run's `metrics.csv` keeps the rows before the checkpoint
(`lit_gen.callbacks.metrics_history`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.plugins.environments import SLURMEnvironment

from lit_gen.compat import hpc_checkpoint_path

log = logging.getLogger(__name__)


def slurm_job_id() -> str | None:
    """`<array job>_<task>` for an array task (what `scontrol requeue` needs), else the job id."""
    array_job, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_job and task:
        return f"{array_job}_{task}"
    return os.environ.get("SLURM_JOB_ID")


class SlurmRequeue(Callback):
    def __init__(self, signal_name: str = "SIGUSR1", requeue: bool = True) -> None:
        self.signum = getattr(signal, signal_name)
        self.requeue = requeue
        self.received = False
        self._previous = None

    def _on_signal(self, signum, frame) -> None:  # only a flag: nothing that might wait for another rank
        self.received = True

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # before Trainer registers its handlers: it leaves a signal alone that already has one. Kept for the
        # evaluation that follows `fit` too, where a warning is only noted (Lightning's handler could hang there)
        if SLURMEnvironment.detect() and self._previous is None:
            self._previous = signal.signal(self.signum, self._on_signal)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        if self._previous is None:
            return
        if trainer.strategy.reduce_boolean_decision(self.received, all=False):
            self.received = False
            self.checkpoint_and_requeue(trainer)

    def checkpoint_and_requeue(self, trainer: Trainer) -> None:
        path = str(hpc_checkpoint_path(trainer.default_root_dir))
        path = trainer.strategy.broadcast(path, src=0)  # one name, even if a rank lists the folder late
        for logger in trainer.loggers:
            logger.finalize("finished")  # flush metrics.csv before the job is stopped
        trainer.save_checkpoint(path)
        if trainer.is_global_zero:
            print(f"SLURM warning signal: saved {path} at epoch {trainer.current_epoch}, step {trainer.global_step}",
                  flush=True)
        if not self.requeue:
            trainer.should_stop = True
            return
        # the checkpoint is saved on every rank: from here on the requeue's SIGTERM ends a rank at once, and the
        # barrier makes sure every rank has that handler before rank 0 asks for the requeue
        lightning_sigterm = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        trainer.strategy.barrier("lit_gen_requeue")
        ok = False
        if trainer.is_global_zero:
            job_id = slurm_job_id()
            result = subprocess.run(["scontrol", "requeue", str(job_id)], capture_output=True, text=True)
            ok = result.returncode == 0
            print(f"requeued SLURM job {job_id}" if ok else
                  f"scontrol requeue {job_id} failed: {result.stderr.strip()}; training goes on", flush=True)
        if trainer.strategy.broadcast(ok, src=0):
            # SLURM now ends every process of the job (SIGTERM, then SIGKILL) and starts the script again
            while True:
                time.sleep(60)
        signal.signal(signal.SIGTERM, lightning_sigterm)


def _exit_on_sigterm(signum, frame) -> None:
    """SIGTERM once the requeue is about to be asked for: the checkpoint is saved, so leave at once.

    Lightning's own SIGTERM handler runs a broadcast inside the handler. The requeue's SIGTERM reaches the ranks at
    different points (one still in `scontrol`, another already in the broadcast of its result), so that broadcast
    pairs with a different collective on the other rank and gloo aborts the process (seen on the test cluster).
    """
    os._exit(128 + signum)
