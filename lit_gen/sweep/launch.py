"""Starting a trial's `lit-gen fit` in a process of its own.

Two ways, one result (`lit_gen.cli.main(["fit", ...])` in a fresh process, its output in log files):

- `ForkServerLauncher` (local default): importing torch and Lightning costs 4-8 s on a small CPU, more than a
  short trial's training. A fork server (Python's `multiprocessing` "forkserver") imports `lit_gen.cli` once; each
  trial is a fresh process forked from it. The server is single-threaded and has run no torch op, so forking it is
  safe (forking the driver, which has threads, would not be).
- `SubprocessLauncher`: `python -m lit_gen.cli fit ...` behind a launcher prefix such as
  `srun --ntasks-per-node=2` (`$LIT_GEN_TRIAL_LAUNCHER`): how trials run DDP on SLURM, where every rank must be its
  own srun task. (Local DDP works with either: Lightning starts a trial's other ranks as `python -m lit_gen.cli`.)

Either way a trial process dies with the driver that started it: a worker killed with SIGKILL leaves no orphan
training on, writing into a run directory that its retry is about to resume. A subprocess gets Linux's
`PR_SET_PDEATHSIG`. A forked trial's parent is the fork server, which outlives the driver as long as any of its
children runs (each holds the server's liveness pipe), so a forked trial watches the driver itself (a pidfd).
"""

from __future__ import annotations

import ctypes
import importlib
import multiprocessing
import os
import select
import shlex
import signal
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from lit_gen.compat import name_main_module

LAUNCHER_ENV = "LIT_GEN_TRIAL_LAUNCHER"
#: the program a trial runs, `lit-gen` itself: started by module name (`python -m`), or, in a forked trial, its
#: `main` called in the pre-imported process; the sweep runs the program, it does not build on the CLI's code
PROGRAM = "lit_gen.cli"
_PR_SET_PDEATHSIG = 1

# A driver started as `python -m lit_gen.cli` has the CLI as its main module, and multiprocessing re-runs that in
# each forked trial (as `__mp_main__`), where the fork server has already imported it: runpy then warns once per
# trial. Re-running the module only redefines functions, so the warning is noise; the filter is set in the server
# (which imports this module) and inherited by every trial forked from it.
warnings.filterwarnings("ignore", message=r"'lit_gen\.cli' found in sys\.modules", category=RuntimeWarning)


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent exits (no-op elsewhere)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


@dataclass
class FitRequest:
    args: list[str]  # the arguments of `lit-gen`, starting with "fit"
    env: dict[str, str]  # added to the environment of the trial process
    log_path: Path  # stdout and stderr of the trial, together
    threads: int  # torch threads for the trial
    driver_pid: int = field(default_factory=os.getpid)  # the trial dies when this process is gone


def die_with_driver(driver_pid: int) -> None:
    """SIGKILL this process as soon as `driver_pid` exits (a pidfd becomes readable then; no polling, no pid reuse
    race after this call)."""
    try:
        pidfd = os.pidfd_open(driver_pid)
    except ProcessLookupError:
        os.kill(os.getpid(), signal.SIGKILL)  # already gone
        return
    except (AttributeError, OSError):
        return  # not Linux ≥ 5.3: nothing to watch with

    def watch() -> None:
        select.select([pidfd], [], [])
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="lit-gen-driver-watch", daemon=True).start()


class TrialProcess:
    """A running trial: poll it, wait for it, kill it."""

    def poll(self) -> int | None:
        raise NotImplementedError

    def wait(self, timeout: float) -> int | None:
        raise NotImplementedError

    def kill(self) -> None:
        raise NotImplementedError


def _run_fit_in_child(request: FitRequest) -> None:
    """Body of a forked trial process."""
    die_with_driver(request.driver_pid)
    os.setpgrp()  # its own process group, so a terminal's Ctrl-C reaches the driver, which decides
    os.environ.update(request.env)
    sys.argv = ["lit-gen", *request.args]  # as if started by hand (the fork server's argv is the driver's)
    name_main_module(PROGRAM)  # so Lightning starts a local DDP trial's other ranks as `python -m lit_gen.cli`
    fd = os.open(request.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush(), sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    import torch

    torch.set_num_threads(request.threads)
    code = 0
    try:
        importlib.import_module(PROGRAM).main()  # reads sys.argv, as a command-line start does
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    from lit_gen.loggers import finish_runs

    finish_runs()  # write out this trial's W&B run: os._exit skips the atexit handler that would
    sys.stdout.flush(), sys.stderr.flush()
    os._exit(code)  # skip atexit handlers inherited from the fork server


class _ForkedTrial(TrialProcess):
    def __init__(self, process) -> None:
        self.process = process

    def poll(self) -> int | None:
        return self.process.exitcode

    def wait(self, timeout: float) -> int | None:
        self.process.join(timeout)
        return self.process.exitcode

    def kill(self) -> None:
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join(10)


class ForkServerLauncher:
    def __init__(self) -> None:
        self.context = multiprocessing.get_context("forkserver")
        # imported once in the server; every trial process starts with them loaded
        self.context.set_forkserver_preload([PROGRAM, "lit_gen.lightning_cli", "lit_gen.sweep.launch"])

    def start(self, request: FitRequest) -> TrialProcess:
        process = self.context.Process(target=_run_fit_in_child, args=(request,), name="lit-gen-trial")
        process.start()
        return _ForkedTrial(process)


class _Subprocess(TrialProcess):
    def __init__(self, popen: subprocess.Popen, log) -> None:
        self.popen = popen
        self.log = log

    def poll(self) -> int | None:
        code = self.popen.poll()
        if code is not None:
            self.log.close()
        return code

    def wait(self, timeout: float) -> int | None:
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.poll()

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
        self.log.close()


class SubprocessLauncher:
    def __init__(self, prefix: list[str] | None = None) -> None:
        self.prefix = prefix or []

    def start(self, request: FitRequest) -> TrialProcess:
        command = [*self.prefix, sys.executable, "-m", PROGRAM, *request.args]
        env = {**os.environ, **request.env, "OMP_NUM_THREADS": str(request.threads)}
        log = open(request.log_path, "ab")  # noqa: SIM115 — closed when the process ends
        popen = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 preexec_fn=_child_setup)
        return _Subprocess(popen, log)


def _child_setup() -> None:
    die_with_parent()
    os.setpgrp()


def make_launcher(kind: str = "auto"):
    """`auto`: a subprocess behind `$LIT_GEN_TRIAL_LAUNCHER` when it is set (SLURM), else the fork server."""
    prefix = shlex.split(os.environ.get(LAUNCHER_ENV, ""))
    if kind == "subprocess" or (kind == "auto" and prefix):
        return SubprocessLauncher(prefix)
    return ForkServerLauncher()
