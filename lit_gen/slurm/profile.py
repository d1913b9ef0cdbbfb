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

The file's keys are the fields of `ClusterProfile`, read by jsonargparse against their types: an unknown key is
named with the nearest valid one, a value of the wrong type with the type it must have. No secret belongs here: the
script is a plain file others may read, so a database password comes from the cluster's environment or ~/.pgpass,
never from the profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lit_gen.errors import LitGenError
from lit_gen.typed_yaml import parse_typed, read_mapping

TIME_PATTERN = re.compile(r"^(\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d+|\d+-\d+:\d{2}|\d+-\d+:\d{2}:\d{2})$")
MEMORY_PATTERN = re.compile(r"^(\d+)\s*([KMGT]?)B?$", re.IGNORECASE)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PGPASS", re.IGNORECASE)
#: checkpoints and requeues on SIGUSR1 where every rank can take part (see lit_gen/slurm/requeue.py)
REQUEUE_CALLBACK = "lit_gen.slurm.requeue.SlurmRequeue"
OPTION = re.compile(r"^--?[A-Za-z][A-Za-z0-9-]*(=.*)?$")
NOT_IN_THE_FILE = frozenset({"name", "path"})  # the profile's own name and file, set by load_profile
TEXT_KEYS = ("partition", "account", "qos", "time", "gpu_type", "mem_per_task", "strategy")
LINE_KEYS = ("setup", "sbatch_extra")


@dataclass(frozen=True)
class ClusterProfile:
    devices: int = field(metadata={"missing": "GPUs per node (or CPU processes with accelerator: cpu)"})
    name: str = "cluster"
    path: Path | None = None
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str | None = None  # [D-]HH:MM:SS or minutes
    accelerator: Literal["gpu", "cpu"] = "gpu"
    nodes: int = 1
    gpu_type: str | None = None
    gpu_request: Literal["gres", "gpus_per_node"] = "gres"  # --gres=gpu:N | --gpus-per-node=N
    cpus_per_task: int = 1
    mem_per_task: str | None = None
    strategy: str = "ddp_find_unused_parameters_true"
    array_throttle: int | None = None
    signal_seconds: int = 90
    setup: tuple[str, ...] = ()  # in the file: a list of lines, or one block of text
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
    raw = read_mapping(path, "profile keys (partition, devices, time, ...)")
    return profile_from_dict(raw, where=str(path), path=path)


def profile_from_dict(raw: dict[str, Any], where: str = "profile", path: Path | None = None) -> ClusterProfile:
    values = parse_typed(ClusterProfile, _yaml_conveniences(raw, where), where, skip=NOT_IN_THE_FILE)
    for key in TEXT_KEYS:
        if values[key] is not None:
            values[key] = _one_line(where, key, values[key])
    for key in ("devices", "nodes", "cpus_per_task", "array_throttle", "signal_seconds"):
        if values[key] is not None and values[key] < 1:
            raise LitGenError(f"{where}: {key}={values[key]!r} must be a whole number ≥ 1")
    if values["time"] is not None and not TIME_PATTERN.match(values["time"]):
        raise LitGenError(f"{where}: time={values['time']!r} must be a SLURM time: minutes, HH:MM:SS or D-HH:MM:SS")
    if values["mem_per_task"] is not None:
        try:
            parse_memory_mb(values["mem_per_task"])
        except ValueError:
            raise LitGenError(f"{where}: mem_per_task={values['mem_per_task']!r} must be a size like 16G or 4000M"
                              ) from None
    for key in LINE_KEYS:
        if any("\n" in line for line in values[key]):
            raise LitGenError(f"{where}: `{key}` must be a list of lines")
        values[key] = tuple(line.rstrip() for line in values[key] if line.strip())
    values["sbatch_extra"] = tuple(line.removeprefix("#SBATCH").strip() for line in values["sbatch_extra"])
    for line in values["sbatch_extra"]:
        if not OPTION.match(line):
            raise LitGenError(f"{where}: sbatch_extra line {line!r} must be one sbatch option like '--constraint=a100'")
    for name in values["env"]:
        if not ENV_NAME.match(name):
            raise LitGenError(f"{where}: env name {name!r} is not a shell variable name")
        if SECRET_NAME.search(name):
            raise LitGenError(f"{where}: env.{name} looks like a secret; the rendered script is a plain file, so set "
                              "it in the cluster's environment (or ~/.pgpass for PostgreSQL), not in the profile")
    if values["template"] is not None:
        template = values["template"].expanduser()
        values["template"] = template if template.is_absolute() or path is None else path.parent / template
        if not values["template"].is_file():
            raise LitGenError(f"{where}: template {values['template']} does not exist")
    return ClusterProfile(**values, name=path.stem if path is not None else "cluster",
                          path=path.resolve() if path is not None else None)


def _yaml_conveniences(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """What YAML writers write that the types do not say: a block of text for a list of lines, and environment
    values that YAML read as numbers or booleans (`OMP_NUM_THREADS: 4`, `WANDB_SILENT: true`)."""
    raw = dict(raw)
    for key in LINE_KEYS:
        if isinstance(raw.get(key), str):
            raw[key] = raw[key].splitlines()
        elif raw.get(key) is None and key in raw:
            raw[key] = []
    if raw.get("env") is None and "env" in raw:
        raw["env"] = {}
    if isinstance(raw.get("env"), dict):
        env = {}
        for name, value in raw["env"].items():
            if not isinstance(name, str):
                raise LitGenError(f"{where}: env name {name!r} is not a shell variable name")
            if isinstance(value, (dict, list)) or value is None:
                raise LitGenError(f"{where}: env.{name} must be a single value")
            env[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        raw["env"] = env
    return raw


def _one_line(where: str, key: str, value: str) -> str:
    value = value.strip()
    if not value:
        raise LitGenError(f"{where}: {key}={value!r} must be a non-empty string")
    if "\n" in value:
        raise LitGenError(f"{where}: {key} must be one line")
    return value
