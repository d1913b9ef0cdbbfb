"""A real one-node SLURM cluster for tests: Debian's slurmctld + slurmd + munge, started from a temporary folder.

    with SlurmCluster(tmp_path) as cluster:          # or the `slurm_cluster` fixture in tests/test_slurm.py
        subprocess.run(["sbatch", ...], env=cluster.env)

What makes it work on one small machine (see shared/ARCHITECTURE.md): the node is named after `hostname`, declares
more CPUs than the machine has (`SlurmdParameters=config_overrides`) so two 2-rank jobs run at once, tracks
processes without cgroups (`proctrack/linuxproc`, `task/none`), keeps no accounting, and lets a requeued job start
again after `cred_expire` seconds (`AuthInfo`) instead of the default 120. Everything the daemons write (state,
spool, logs, pid files) stays in the cluster's folder; ports are free ones picked at start, so two clusters on one
machine do not collide. Client commands find the cluster through `SLURM_CONF` (in `cluster.env`), and jobs inherit
that variable, so `scontrol requeue` from inside a job reaches the same controller.

`.ci/install_slurm.sh` installs the packages; without them, `missing_binaries()` names what is absent.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

BINARIES = ("slurmctld", "slurmd", "sbatch", "srun", "squeue", "scontrol", "scancel", "munged", "munge", "unmunge")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def _die_with_parent(user: str | None = None):
    """A preexec_fn: the daemon gets SIGTERM when the process that started it dies (a killed pytest leaves no
    daemons behind), and optionally runs as `user`."""

    def preexec() -> None:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG, after setuid, which would clear it

    return preexec


def munge_works() -> bool:
    """True when a munged answers on the default socket (credentials encode and decode)."""
    try:
        token = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
        if token.returncode != 0:
            return False
        return subprocess.run(["unmunge"], input=token.stdout, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class SlurmCluster:
    def __init__(self, root: Path, cpus: int = 8, real_memory_mb: int = 16000, cred_expire: int = 5) -> None:
        self.root = Path(root)
        self.cpus = cpus
        self.real_memory_mb = real_memory_mb
        self.cred_expire = cred_expire
        self.node = socket.gethostname()
        self.partition = "debug"
        self.conf = self.root / "slurm.conf"
        self._processes: list[subprocess.Popen] = []
        self._munged: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment for client commands (sbatch, squeue, ...) and lit-gen sub-commands that call them."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def write_conf(self) -> None:
        for sub in ("state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        lines = [
            "ClusterName=litgen-test",
            f"SlurmctldHost={self.node}",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            f"AuthInfo=cred_expire={self.cred_expire}",
            f"StateSaveLocation={self.root / 'state'}",
            f"SlurmdSpoolDir={self.root / 'spool'}",
            f"SlurmctldPidFile={self.root / 'slurmctld.pid'}",
            f"SlurmdPidFile={self.root / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.root / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={self.root / 'log' / 'slurmd.log'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",  # memory is checked against RealMemory, not consumed
            "SchedulerType=sched/backfill",
            # look at pending jobs every 2 s, so a requeued job starts as soon as its cred_expire delay is over
            "SchedulerParameters=sched_interval=2,bf_interval=2",
            "MpiDefault=none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "JobAcctGatherType=jobacct_gather/none",
            "ReturnToService=2",
            "JobRequeue=1",
            "KillWait=10",  # SIGTERM → SIGKILL grace: Lightning ignores SIGTERM under SLURM while it requeues
            "MinJobAge=600",  # finished jobs stay visible to squeue for the status tests
            "InactiveLimit=0",
            "SlurmdParameters=config_overrides",  # declare more CPUs than the machine has
            f"NodeName={self.node} CPUs={self.cpus} RealMemory={self.real_memory_mb} State=UNKNOWN",
            f"PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 60) -> SlurmCluster:
        self.write_conf()
        self._start_munge()
        env = self.env
        log = open(self.root / "log" / "daemons.out", "ab")  # noqa: SIM115 - closed with the daemons
        self._log = log
        for command in (["slurmctld", "-D", "-c", "-f", str(self.conf)], ["slurmd", "-D", "-f", str(self.conf)]):
            self._processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                    preexec_fn=_die_with_parent()))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self._processes:
                if process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"a SLURM daemon exited ({process.args[0]}, code {process.returncode}):\n"
                                       + self.logs())
            state = subprocess.run(["sinfo", "--noheader", "--nodes", self.node, "--format=%T"], env=env,
                                   capture_output=True, text=True).stdout.strip()
            if state == "idle":
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the SLURM node did not become idle in {timeout:.0f} s:\n" + self.logs())

    def _start_munge(self) -> None:
        if munge_works():
            return  # a munged of this machine already runs: share it, and leave it running
        MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
        shutil.chown(MUNGE_SOCKET.parent, "munge", "munge")
        # in the foreground, as the munge user: its pid is ours to stop, and munged refuses to run as root
        self._munged = subprocess.Popen(["munged", "-F"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=_die_with_parent("munge"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if munge_works():
                return
            if self._munged.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("munged did not start (is /etc/munge/munge.key there? run .ci/install_slurm.sh)")

    def stop(self) -> None:
        if self._processes:
            # jobs first, so no slurmstepd outlives the cluster
            subprocess.run(["scancel", "--full", f"--partition={self.partition}"], env=self.env,
                           capture_output=True, timeout=30)
            time.sleep(1)
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self._processes = []
        if self._munged is not None and self._munged.poll() is None:
            self._munged.terminate()
            try:
                self._munged.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._munged.kill()
            self._munged = None
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def logs(self, tail: int = 40) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            parts.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(parts)

    def __enter__(self) -> SlurmCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
