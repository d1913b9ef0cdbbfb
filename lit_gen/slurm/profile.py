"""A cluster described in YAML (`slurm/*.yaml`): where jobs go, what one trial (or run) gets, how the shell is set up.

    partition: gpu                 # every key is optional except `devices`
    account: my-project
    qos: normal
    time: "1-00:00:00"             # per job (one sweep worker, or one run); [D-]HH:MM:SS or minutes
    accelerator: gpu               # gpu | cpu
    devices: 4                     # per node: GPUs (or CPU processes) = trainer.devices = --ntasks-per-node
    nodes: 1                       # nodes per trial (trainer.num_nodes)
    gpu_type: a100                 # optional: --gres=gpu:a100:4
    gpu_request: gres              # gres (--gres=gpu:4) | gpus_per_node (--gpus-per-node=4)
    cpus_per_task: 8
    mem_per_task: 32G              # → --mem = mem_per_task × devices (per node)
    strategy: ddp_find_unused_parameters_true
    array_throttle: 4              # sweeps: at most this many workers at once (--array=0-W%4)
    signal_seconds: 90             # --signal=SIGUSR1@90: checkpoint and requeue 90 s before the time limit
    setup:                         # your own shell lines, run before lit-gen (module loads, environment)
      - module load cuda/12.1
      - source ~/venvs/lit_gen/bin/activate
    env: {WANDB_MODE: offline}     # exported in the script (never a secret: see below)
    sbatch_extra: ["--constraint=a100", "--mail-type=END,FAIL"]

Every key is checked when the file is read. No secret belongs here: the script is a plain file others may read,
so a database password comes from the cluster's environment or ~/.pgpass, never from the profile.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from lit_gen.errors import LitGenError

TIME_PATTERN = re.compile(r"^(\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d+|\d+-\d+:\d{2}|\d+-\d+:\d{2}:\d{2})$")
MEMORY_PATTERN = re.compile(r"^(\d+)\s*([KMGT]?)B?$", re.IGNORECASE)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PGPASS", re.IGNORECASE)
#: checkpoints and requeues on SIGUSR1 where every rank can take part (see lit_gen/slurm/requeue.py)
REQUEUE_CALLBACK = "lit_gen.slurm.requeue.SlurmRequeue"
OPTION = re.compile(r"^--?[A-Za-z][A-Za-z0-9-]*(=.*)?$")


@dataclass(frozen=True)
class ClusterProfile:
    devices: int  # per node: GPUs, or CPU processes with accelerator cpu; = trainer.devices = --ntasks-per-node
    name: str = "cluster"
    path: Path | None = None
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str | None = None
    accelerator: str = "gpu"
    nodes: int = 1
    gpu_type: str | None = None
    gpu_request: str = "gres"
    cpus_per_task: int = 1
    mem_per_task: str | None = None
    strategy: str = "ddp_find_unused_parameters_true"
    array_throttle: int | None = None
    signal_seconds: int = 90
    setup: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    sbatch_extra: tuple[str, ...] = ()
    template: Path | None = None

    @property
    def tasks_per_node(self) -> int:
        return self.devices

    @property
    def mem_per_node_mb(self) -> int | None:
        return None if self.mem_per_task is None else parse_memory_mb(self.mem_per_task) * self.devices

    def trainer_overrides(self) -> list[str]:
        """The `lit-gen fit` options that make a run use exactly what the job holds."""
        return ["--trainer.accelerator", self.accelerator, "--trainer.devices", str(self.devices),
                "--trainer.num_nodes", str(self.nodes), "--trainer.strategy", self.strategy,
                f"--trainer.callbacks+={REQUEUE_CALLBACK}"]


KEYS = {f.name for f in fields(ClusterProfile)} - {"name", "path"}


def parse_memory_mb(text: str) -> int:
    """'32G' → 32768, '500M' → 500, '1T' → 1048576 (SLURM's units: powers of 1024, default M)."""
    match = MEMORY_PATTERN.match(str(text).strip())
    if not match:
        raise ValueError(text)
    number, unit = int(match.group(1)), match.group(2).upper()
    return {"K": max(1, number // 1024), "": number, "M": number, "G": number * 1024, "T": number * 1024**2}[unit]


def load_profile(path: str | Path) -> ClusterProfile:
    """Read and check a cluster profile. Every problem is a LitGenError naming the key and what it accepts."""
    path = Path(path)
    if not path.is_file():
        shipped = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "slurm").glob("*.yaml"))
        hint = f" (the profiles that ship are slurm/{', slurm/'.join(shipped)})" if shipped else ""
        raise LitGenError(f"cluster profile {path} does not exist{hint}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise LitGenError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise LitGenError(f"{path} must hold a mapping of profile keys (partition, devices, time, ...)")
    return profile_from_dict(raw, where=str(path), path=path)


def profile_from_dict(raw: dict[str, Any], where: str = "profile", path: Path | None = None) -> ClusterProfile:
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise LitGenError(f"{where}: unknown key(s) {', '.join(hints)}; the keys are {sorted(KEYS)}")
    if "devices" not in raw:
        raise LitGenError(f"{where}: `devices` is missing: GPUs per node (or CPU processes with accelerator: cpu)")

    def text(key: str, pattern: re.Pattern | None = None, what: str = "") -> str | None:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip():
            raise LitGenError(f"{where}: {key}={value!r} must be a non-empty string")
        value = str(value).strip()
        if "\n" in value:
            raise LitGenError(f"{where}: {key} must be one line")
        if pattern is not None and not pattern.match(value):
            raise LitGenError(f"{where}: {key}={value!r} {what}")
        return value

    def whole(key: str, default: int | None, minimum: int) -> int | None:
        value = raw.get(key, default)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise LitGenError(f"{where}: {key}={value!r} must be a whole number ≥ {minimum}")
        return value

    def lines(key: str) -> tuple[str, ...]:
        value = raw.get(key) or []
        if isinstance(value, str):
            value = value.splitlines()
        if not isinstance(value, list) or not all(isinstance(line, str) and "\n" not in line for line in value):
            raise LitGenError(f"{where}: `{key}` must be a list of lines")
        return tuple(line.rstrip() for line in value if line.strip())

    accelerator = raw.get("accelerator", "gpu")
    if accelerator not in ("gpu", "cpu"):
        raise LitGenError(f"{where}: accelerator={accelerator!r} must be 'gpu' or 'cpu'")
    gpu_request = raw.get("gpu_request", "gres")
    if gpu_request not in ("gres", "gpus_per_node"):
        raise LitGenError(f"{where}: gpu_request={gpu_request!r} must be 'gres' (--gres=gpu:N) "
                          "or 'gpus_per_node' (--gpus-per-node=N)")
    mem = text("mem_per_task")
    if mem is not None:
        try:
            parse_memory_mb(mem)
        except ValueError:
            raise LitGenError(f"{where}: mem_per_task={mem!r} must be a size like 16G or 4000M") from None
    extra = lines("sbatch_extra")
    extra = tuple(line.removeprefix("#SBATCH").strip() for line in extra)
    for line in extra:
        if not OPTION.match(line):
            raise LitGenError(f"{where}: sbatch_extra line {line!r} must be one sbatch option like '--constraint=a100'")
    env = raw.get("env") or {}
    if not isinstance(env, dict):
        raise LitGenError(f"{where}: `env` must map variable names to values")
    for name, value in env.items():
        if not isinstance(name, str) or not ENV_NAME.match(name):
            raise LitGenError(f"{where}: env name {name!r} is not a shell variable name")
        if SECRET_NAME.search(name):
            raise LitGenError(f"{where}: env.{name} looks like a secret; the rendered script is a plain file, so set "
                              "it in the cluster's environment (or ~/.pgpass for PostgreSQL), not in the profile")
        if isinstance(value, (dict, list)) or value is None:
            raise LitGenError(f"{where}: env.{name} must be a single value")
    template = raw.get("template")
    if template is not None:
        template = Path(template).expanduser()
        if not template.is_absolute() and path is not None:
            template = path.parent / template
        if not template.is_file():
            raise LitGenError(f"{where}: template {template} does not exist")
    devices = whole("devices", None, 1)
    throttle = whole("array_throttle", None, 1)
    return ClusterProfile(
        devices=devices,
        name=path.stem if path is not None else "cluster",
        path=path.resolve() if path is not None else None,
        partition=text("partition"),
        account=text("account"),
        qos=text("qos"),
        time=text("time", TIME_PATTERN, "must be a SLURM time: minutes, HH:MM:SS or D-HH:MM:SS"),
        accelerator=accelerator,
        nodes=whole("nodes", 1, 1),
        gpu_type=text("gpu_type"),
        gpu_request=gpu_request,
        cpus_per_task=whole("cpus_per_task", 1, 1),
        mem_per_task=mem,
        strategy=text("strategy") or "ddp_find_unused_parameters_true",
        array_throttle=throttle,
        signal_seconds=whole("signal_seconds", 90, 1),
        setup=lines("setup"),
        env={name: _env_value(value) for name, value in env.items()},
        sbatch_extra=extra,
        template=template,
    )


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
