"""A sweep described in YAML (`sweeps/*.yaml`): what to train, what to vary, what to optimise, where to store it.

    name: vae_sigma_digits                           # the study name (default: the file's stem)
    config: ../configs/experiments/vae_digits.yaml   # base experiment, relative to this file (or a list)
    overrides: [--trainer.enable_progress_bar=false]  # fixed for every trial
    metric: val/nll_iw                               # a key of the trial's metrics.json (best checkpoint)
    direction: minimize
    n_trials: 20                                     # trials that end COMPLETE or PRUNED
    space:                                           # any config value, by its dotted path
      model.init_args.likelihood.init_args.sigma: {type: float, low: 0.02, high: 0.5, log: true}
      model.init_args.latent_dim: {type: int, low: 2, high: 32, log: true}
      model.init_args.network: {type: categorical, choices: [mlp, conv]}
    sampler: {name: TPESampler}                      # a class of optuna.samplers or lit_gen's, with arguments
    pruner: {name: MedianPruner, n_warmup_steps: 3}  # optuna.pruners or lit_gen's own; null: none
    limits: {max_epochs: 30, wall_time: 600}         # per fit: trainer.max_epochs, seconds
    seed: 0                                          # the sampler's seed
    seeds: [0, 1, 2]                                 # optional: score each configuration by its mean over seeds

Every key is checked when the file is read: a typo stops the sweep before any trial starts.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lit_gen.errors import LitGenError

DISTRIBUTION_KEYS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}
DEFAULT_SEED_KEYS = ["seed_everything", "data.init_args.shuffle_seed"]


@dataclass(frozen=True)
class Limits:
    max_epochs: int | None = None  # overrides trainer.max_epochs of every fit
    wall_time: float | None = None  # seconds: Lightning stops training at this time, the driver kills at 1.5×


@dataclass(frozen=True)
class FaultPolicy:
    heartbeat_interval: float = 10.0  # seconds between a worker's heartbeats for each of its running trials
    stale_after: float = 120.0  # a RUNNING trial without a heartbeat for this long belongs to a dead worker
    max_retries: int = 2  # how often a trial whose worker died is retried (resuming from its checkpoint)
    max_failures: int = 5  # the sweep stops after this many trials crashed (a bug in the config, not bad luck)


@dataclass(frozen=True)
class SweepSpec:
    path: Path
    name: str
    configs: list[Path]
    metric: str
    direction: str
    n_trials: int
    space: dict[str, dict[str, Any]]
    overrides: list[str] = field(default_factory=list)
    sampler: dict[str, Any] | None = None
    pruner: dict[str, Any] | None = None
    limits: Limits = Limits()
    faults: FaultPolicy = FaultPolicy()
    seed: int | None = None
    seeds: list[int] | None = None
    seed_keys: list[str] = field(default_factory=lambda: list(DEFAULT_SEED_KEYS))
    storage: str | None = None
    directory: Path | None = None  # the sweep directory; default runs/sweeps/<name> below the working directory
    enqueue: list[dict[str, Any]] = field(default_factory=list)  # values to try first (study.enqueue_trial)

    @property
    def sweep_dir(self) -> Path:
        return (self.directory or Path("runs") / "sweeps" / self.name).resolve()

    @property
    def minimize(self) -> bool:
        return self.direction == "minimize"

    def distributions(self):
        """The search space as Optuna distributions, by dotted config path."""
        import optuna.distributions as d

        built = {}
        for path, spec in self.space.items():
            if spec["type"] == "categorical":
                built[path] = d.CategoricalDistribution(spec["choices"])
            elif spec["type"] == "float":
                built[path] = d.FloatDistribution(spec["low"], spec["high"], log=spec.get("log", False),
                                                  step=spec.get("step"))
            else:
                built[path] = d.IntDistribution(spec["low"], spec["high"], log=spec.get("log", False),
                                                step=spec.get("step", 1))
        return built

    def build_sampler(self, salt: str | None = None):
        """The sampler, seeded with `seed`; with a `salt` (a worker's identity), with a seed derived from both, so
        that worker processes that start together on one study do not draw the same values."""
        import hashlib

        import optuna.samplers

        seed = self.seed
        if salt is not None:
            digest = hashlib.sha256(f"{self.seed}/{salt}".encode()).digest()
            seed = int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
        return _build(optuna.samplers, self.sampler or {"name": "TPESampler"}, "sampler", seed)

    def build_pruner(self):
        import optuna.pruners

        if self.pruner is None:
            return optuna.pruners.NopPruner()
        return _build(optuna.pruners, self.pruner, "pruner", None)


TOP_LEVEL_KEYS = {
    "name", "config", "overrides", "metric", "direction", "n_trials", "space", "sampler", "pruner", "limits",
    "faults", "seed", "seeds", "seed_keys", "storage", "directory", "enqueue",
}


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a sweep file. Every problem is a LitGenError naming the key and the fix."""
    path = Path(path)
    if not path.is_file():
        raise LitGenError(f"sweep file {path} does not exist (the sweeps that ship are in sweeps/*.yaml)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise LitGenError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise LitGenError(f"{path} must hold a mapping of sweep keys (name, config, metric, space, ...)")
    where = str(path)
    unknown = set(raw) - TOP_LEVEL_KEYS
    if unknown:
        raise LitGenError(f"{where}: unknown key(s) {sorted(unknown)}; the keys are {sorted(TOP_LEVEL_KEYS)}")
    for key in ("config", "metric", "space", "n_trials"):
        if key not in raw:
            raise LitGenError(f"{where}: `{key}` is missing (see sweeps/quickstart.yaml for a complete example)")

    configs = raw["config"] if isinstance(raw["config"], list) else [raw["config"]]
    config_paths = [(path.parent / c).resolve() for c in configs]
    for config in config_paths:
        if not config.is_file():
            raise LitGenError(f"{where}: config {config} does not exist (paths are relative to the sweep file)")
    direction = raw.get("direction", "minimize")
    if direction not in ("minimize", "maximize"):
        raise LitGenError(f"{where}: direction={direction!r} must be 'minimize' or 'maximize'")
    n_trials = raw["n_trials"]
    if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 1:
        raise LitGenError(f"{where}: n_trials={n_trials!r} must be a whole number ≥ 1")
    space = raw["space"]
    if not isinstance(space, dict) or not space:
        raise LitGenError(f"{where}: `space` must map dotted config paths to distributions")
    for key, dist in space.items():
        _check_distribution(where, key, dist)
    overrides = raw.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) and o.startswith("--") for o in overrides):
        raise LitGenError(f"{where}: `overrides` must be a list of command-line overrides like '--trainer.x=1'")
    seeds = raw.get("seeds")
    if seeds is not None and (not isinstance(seeds, list) or not seeds or
                              not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise LitGenError(f"{where}: `seeds` must be a non-empty list of whole numbers, e.g. [0, 1, 2]")
    storage = raw.get("storage")
    if storage is not None:
        from lit_gen.run.storage import refuse_password

        refuse_password(str(storage), where)
    enqueue = raw.get("enqueue") or []
    for values in enqueue:
        if not isinstance(values, dict) or set(values) - set(space):
            raise LitGenError(f"{where}: each `enqueue` entry must map keys of `space` to values, got {values!r}")
    spec = SweepSpec(
        path=path.resolve(),
        name=str(raw.get("name") or path.stem),
        configs=config_paths,
        metric=str(raw["metric"]),
        direction=direction,
        n_trials=n_trials,
        space=space,
        overrides=overrides,
        sampler=_component(where, raw.get("sampler"), "sampler"),
        pruner=_component(where, raw.get("pruner"), "pruner"),
        limits=_dataclass_from(where, "limits", Limits, raw.get("limits")),
        faults=_dataclass_from(where, "faults", FaultPolicy, raw.get("faults")),
        seed=raw.get("seed"),
        seeds=seeds,
        seed_keys=list(raw.get("seed_keys") or DEFAULT_SEED_KEYS),
        storage=storage,
        directory=Path(raw["directory"]) if raw.get("directory") else None,
        enqueue=enqueue,
    )
    spec.build_sampler(), spec.build_pruner()  # a wrong sampler or pruner argument fails now, not in a worker
    return spec


def _check_distribution(where: str, key: str, dist: Any) -> None:
    if not isinstance(dist, dict) or dist.get("type") not in DISTRIBUTION_KEYS:
        raise LitGenError(f"{where}: space.{key} must be a mapping with type float, int or categorical")
    kind = dist["type"]
    unknown = set(dist) - DISTRIBUTION_KEYS[kind]
    if unknown:
        raise LitGenError(f"{where}: space.{key} ({kind}) has unknown key(s) {sorted(unknown)}; "
                          f"allowed: {sorted(DISTRIBUTION_KEYS[kind])}")
    if kind == "categorical":
        if not isinstance(dist.get("choices"), list) or not dist["choices"]:
            raise LitGenError(f"{where}: space.{key} needs a non-empty list `choices`")
        return
    low, high = dist.get("low"), dist.get("high")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
        raise LitGenError(f"{where}: space.{key} needs numbers `low` and `high`")
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise LitGenError(f"{where}: space.{key} is an int range: low and high must be whole numbers")
    if not low <= high:
        raise LitGenError(f"{where}: space.{key} has low={low} > high={high}")
    if dist.get("log") and low <= 0:
        raise LitGenError(f"{where}: space.{key} is on a log scale: low={low} must be > 0")
    if dist.get("log") and dist.get("step") is not None:
        raise LitGenError(f"{where}: space.{key}: `step` and `log: true` cannot be combined (an Optuna rule)")
    if not all(math.isfinite(v) for v in (low, high)):
        raise LitGenError(f"{where}: space.{key}: low and high must be finite")


def _component(where: str, value: Any, kind: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or "name" not in value:
        raise LitGenError(f"{where}: `{kind}` must be a class name of optuna.{kind}s or {{name: ..., arguments}}")
    return dict(value)


def _build(module, component: dict[str, Any], kind: str, seed: int | None):
    """An instance of the class `component["name"]` of `module` (optuna.samplers or optuna.pruners) or of
    lit_gen's own (`lit_gen/sweep/samplers.py`, `lit_gen/sweep/pruners.py`), with the component's other keys as
    arguments."""
    from lit_gen.sweep import pruners, samplers

    name = component["name"]
    modules = [module, samplers if kind == "sampler" else pruners]
    cls = next((c for c in (getattr(m, name, None) for m in modules) if inspect.isclass(c)), None)
    if cls is None:
        suffix = kind.capitalize()  # Sampler, Pruner
        available = sorted({n for m in modules for n in dir(m) if n.endswith(suffix) and not n.startswith("Base")})
        where = f"optuna.{kind}s or lit_gen.sweep.{kind}s"
        raise LitGenError(f"{kind} {name!r} is not in {where}; choose one of {available}")
    kwargs = {k: v for k, v in component.items() if k != "name"}
    if kind == "pruner" and "wrapped_pruner" in kwargs:  # optuna's PatientPruner, lit_gen's pruners
        inner = kwargs["wrapped_pruner"]
        if not isinstance(inner, dict) or "name" not in inner:
            raise LitGenError(f"pruner {name}: `wrapped_pruner` must be {{name: ..., arguments}}, got {inner!r}")
        kwargs["wrapped_pruner"] = _build(module, inner, kind, None)
    if seed is not None and "seed" in inspect.signature(cls).parameters and "seed" not in kwargs:
        kwargs["seed"] = seed
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise LitGenError(f"{kind} {name}({kwargs}): {error}") from error


def _dataclass_from(where: str, key: str, cls, value: Any):
    if value is None:
        return cls()
    allowed = set(cls.__dataclass_fields__)
    if not isinstance(value, dict) or set(value) - allowed:
        raise LitGenError(f"{where}: `{key}` takes the keys {sorted(allowed)}, got {value!r}")
    for name, number in value.items():
        if number is not None and (not isinstance(number, (int, float)) or isinstance(number, bool) or number < 0):
            raise LitGenError(f"{where}: {key}.{name}={number!r} must be a non-negative number")
    return cls(**value)
