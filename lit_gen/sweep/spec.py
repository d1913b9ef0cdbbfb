"""A sweep described in YAML (`sweeps/*.yaml`): what to train, what to vary, what to optimise, where to store it.

    name: vae_sigma_digits                           # the study name (default: the file's stem)
    config: ../configs/experiments/vae_digits.yaml   # base experiment, relative to this file (or a list)
    overrides: [--trainer.enable_progress_bar=false]  # fixed for every trial
    metric: val/nll_iw                               # a key of the trial's metrics.json (best checkpoint)
    direction: minimize                              # or a Pareto front of several (objectives.py): metrics: [...]
    n_trials: 20                                     # trials that end COMPLETE or PRUNED
    space:                                           # any config value, by its dotted path
      model.init_args.likelihood.init_args.sigma: {type: float, low: 0.02, high: 0.5, log: true}
      model.init_args.latent_dim: {type: int, low: 2, high: 32, log: true}
      model.init_args.network: {type: categorical, choices: [mlp, conv]}
    sampler:                                         # a class of optuna.samplers, or an import path of your own
      class_path: TPESampler
      init_args: {n_startup_trials: 8}               # its arguments; `seed` comes from the sweep's `seed`
    pruner:                                          # a class of optuna.pruners, or an import path; null: none
      class_path: MedianPruner
      init_args: {n_warmup_steps: 3}
    limits: {max_epochs: 30, wall_time: 600}         # per fit: trainer.max_epochs, seconds
    seed: 0                                          # the sampler's seed
    seeds: [0, 1, 2]                                 # optional: score each configuration by its mean over seeds

The file's keys are the fields of `SweepSpec`, read by jsonargparse against their types; a sampler or pruner is
named as LightningCLI names a class (`class_path`, `init_args`), and its arguments are checked against the class's
signature. Every key is checked when the file is read: a typo stops the sweep before any trial starts.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import re
from dataclasses import dataclass, field, fields
from importlib import import_module
from pathlib import Path
from typing import Any, Literal

from lit_gen.errors import LitGenError
from lit_gen.sweep.objectives import check_objectives, objectives_of
from lit_gen.typed_yaml import describe_type, nearest, one_line, parse_typed, read_mapping, unknown_key

DISTRIBUTION_KEYS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}
DEFAULT_SEED_KEYS = ["seed_everything", "data.init_args.shuffle_seed"]

__all__ = ["FaultPolicy", "Limits", "SweepSpec", "build_component", "load_spec"]


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
    path: Path  # the sweep file itself (not one of its keys)
    config: str | list[str] = field(metadata={"missing": "the base experiment, e.g. ../configs/experiments/x.yaml"})
    metric: str = field(metadata={"missing": "a key of the trial's metrics.json, e.g. val/nll_iw (or several: "
                                             "`metrics: [val/recon, val/kl]` with `directions`)"})
    space: dict[str, dict[str, Any]] = field(metadata={"missing": "dotted config paths mapped to distributions"})
    n_trials: int = field(metadata={"missing": "how many trials end COMPLETE or PRUNED"})
    name: str | None = None  # default: the file's stem
    direction: Literal["minimize", "maximize"] = "minimize"
    overrides: list[str] = field(default_factory=list)
    sampler: dict[str, Any] | None = None  # {class_path, init_args}; None: optuna's TPESampler
    pruner: dict[str, Any] | None = None  # {class_path, init_args}; None: no pruning
    limits: Limits = field(default_factory=Limits)
    faults: FaultPolicy = field(default_factory=FaultPolicy)
    seed: int | None = None
    seeds: list[int] | None = None
    seed_keys: list[str] = field(default_factory=lambda: list(DEFAULT_SEED_KEYS))
    storage: str | None = None
    directory: str | None = None  # the sweep directory; default runs/sweeps/<name> below the working directory
    enqueue: list[dict[str, Any]] = field(default_factory=list)  # values to try first (study.enqueue_trial)
    metrics: list[str] | None = None  # several objectives (objectives.py); `metric` is then the first of them
    directions: list[Literal["minimize", "maximize"]] | None = None

    @property
    def configs(self) -> list[Path]:
        """The base experiment config(s), resolved against the sweep file's folder."""
        listed = self.config if isinstance(self.config, list) else [self.config]
        return [(self.path.parent / c).resolve() for c in listed]

    @property
    def sweep_dir(self) -> Path:
        return (Path(self.directory) if self.directory else Path("runs") / "sweeps" / str(self.name)).resolve()

    @property
    def objectives(self) -> list[str]:  # the metrics the study optimises: `metric`, or several (`metrics`)
        return list(self.metrics or [self.metric])

    @property
    def objective_directions(self) -> list[str]:
        return list(self.directions or [self.direction])

    multi_objective = property(lambda self: len(self.objectives) > 1)

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
        seed = self.seed
        if salt is not None:
            digest = hashlib.sha256(f"{self.seed}/{salt}".encode()).digest()
            seed = int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
        return build_component("sampler", self.sampler, seed=seed, where=str(self.path))

    def build_pruner(self):
        return build_component("pruner", self.pruner, where=str(self.path))


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a sweep file. Every problem is a LitGenError naming the file, the key and the fix."""
    path = Path(path)
    if not path.is_file():
        raise LitGenError(f"sweep file {path} does not exist (the sweeps that ship are in sweeps/*.yaml)")
    raw = read_mapping(path, "sweep keys (name, config, metric, space, ...)")
    where = str(path)
    for kind in ("sampler", "pruner"):
        check_component(kind, raw.get(kind), where)  # the old {name: ...} form gets its fix before any type check
    raw = objectives_of(raw, where)  # `metrics` + `directions`: `metric` and `direction` become their first ones
    values = parse_typed(SweepSpec, raw, where, skip=frozenset({"path"}))
    spec = SweepSpec(path=path.resolve(), **{**values, "name": str(values["name"] or path.stem)})
    _check_values(spec, where)
    check_objectives(spec, where)
    spec.build_sampler(), spec.build_pruner()  # a wrong sampler or pruner argument fails now, not in a worker
    return spec


def _check_values(spec: SweepSpec, where: str) -> None:
    """What the types alone do not say: ranges, files that must exist, and secrets that must not be written down."""
    for config in spec.configs:
        if not config.is_file():
            raise LitGenError(f"{where}: config {config} does not exist (paths are relative to the sweep file)")
    if spec.n_trials < 1:
        raise LitGenError(f"{where}: n_trials={spec.n_trials!r} must be a whole number ≥ 1")
    if not spec.space:
        raise LitGenError(f"{where}: `space` must map dotted config paths to distributions")
    for key, dist in spec.space.items():
        _check_distribution(where, key, dist)
    if not all(o.startswith("--") for o in spec.overrides):
        raise LitGenError(f"{where}: `overrides` must be a list of command-line overrides like '--trainer.x=1'")
    if spec.seeds is not None and not spec.seeds:
        raise LitGenError(f"{where}: `seeds` must be a non-empty list of whole numbers, e.g. [0, 1, 2]")
    if spec.storage is not None:
        from lit_gen.run.storage import refuse_password

        refuse_password(spec.storage, where)
    for values in spec.enqueue:
        if set(values) - set(spec.space):
            raise LitGenError(f"{where}: each `enqueue` entry must map keys of `space` to values, got {values!r}")
    for group in (spec.limits, spec.faults):
        for item in fields(group):
            number = getattr(group, item.name)
            if number is not None and number < 0:
                name = "limits" if group is spec.limits else "faults"
                raise LitGenError(f"{where}: {name}.{item.name}={number!r} must be a non-negative number")


def _check_distribution(where: str, key: str, dist: dict[str, Any]) -> None:
    if dist.get("type") not in DISTRIBUTION_KEYS:
        raise LitGenError(f"{where}: space.{key} must be a mapping with type float, int or categorical")
    kind = dist["type"]
    for name in dist:
        if name not in DISTRIBUTION_KEYS[kind]:
            raise LitGenError(unknown_key(where, f"space.{key}.{name}", name, sorted(DISTRIBUTION_KEYS[kind])))
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


COMPONENT_KEYS = ["class_path", "init_args"]


def check_component(kind: str, component: Any, where: str) -> None:
    """`component` names a class as LightningCLI does: {class_path: ..., init_args: {...}} (or is None)."""
    if component is None:
        return
    if isinstance(component, dict) and "name" in component and "class_path" not in component:
        args = {k: v for k, v in component.items() if k != "name"}
        raise LitGenError(f"{where}: `{kind}: {{name: ...}}` is the old form; write `{kind}: {{class_path: "
                          f"{component['name']}, init_args: {args}}}`")
    if not isinstance(component, dict) or "class_path" not in component:
        raise LitGenError(f"{where}: `{kind}` must be {{class_path: <a class of optuna.{kind}s or an import path>, "
                          f"init_args: {{...}}}}, or null; got {component!r}")
    for key in component:
        if key not in COMPONENT_KEYS:
            raise LitGenError(unknown_key(where, f"{kind}.{key}", key, COMPONENT_KEYS))
    if not isinstance(component.get("init_args") or {}, dict):
        raise LitGenError(f"{where}: {kind}.init_args must map argument names to values")


def build_component(kind: str, component: dict[str, Any] | None, seed: int | None = None, where: str = "sweep"):
    """An Optuna sampler or pruner (`kind`) from its plain dict {class_path, init_args}: a class of optuna.samplers
    or optuna.pruners by its name, or any subclass of their base class by its import path (nested ones, like
    PatientPruner's `wrapped_pruner`, the same way). jsonargparse checks the arguments against the class's signature
    and builds it. `seed` goes to a class that takes one and was not given one. None: TPESampler, or no pruning."""
    import optuna
    from jsonargparse import ArgumentParser

    module, base = (optuna.samplers, optuna.samplers.BaseSampler) if kind == "sampler" else (
        optuna.pruners, optuna.pruners.BasePruner)
    if component is None:
        component = {"class_path": "TPESampler"} if kind == "sampler" else {"class_path": "NopPruner"}
    check_component(kind, component, where)
    name, init_args = str(component["class_path"]), dict(component.get("init_args") or {})
    cls = _resolve(module, base, kind, name, where)
    class_path = name if "." in name else f"{module.__name__}.{name}"
    accepted = inspect.signature(cls).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        for key in init_args:
            if key not in accepted:
                raise LitGenError(unknown_key(where, f"{kind}.init_args.{key}", key, list(accepted)))
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument(f"--{kind}", type=base)
    try:
        config = parser.parse_object({kind: {"class_path": class_path, "init_args": init_args}})
    except Exception as error:  # jsonargparse's ArgumentError: a value of the wrong type
        problem = _argument_error(one_line(str(error)), accepted)
        raise LitGenError(f"{where}: {kind} {cls.__name__}: {problem}") from None
    built_args = config[kind].get("init_args")  # None for a class that takes no arguments (NopPruner)
    if seed is not None and built_args is not None and "seed" in built_args and built_args.seed is None:
        built_args.seed = seed
    try:
        instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes  # renamed in 4.49
        return instantiate(config)[kind]
    except (TypeError, ValueError) as error:  # the class's own checks of its arguments
        raise LitGenError(f"{where}: {kind} {cls.__name__}({init_args}): {error}") from None


def _resolve(module, base: type, kind: str, name: str, where: str) -> type:
    """The class `name` names: a class of `module` by its name, or an import path (a user's own class)."""
    if "." in name:
        module_name, _, attribute = name.rpartition(".")
        try:
            cls = getattr(import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise LitGenError(f"{where}: {kind} {name!r} cannot be imported ({error}); give a class of "
                              f"optuna.{kind}s by its name or an import path Python can find") from None
    else:
        cls = getattr(module, name, None)
        if not inspect.isclass(cls):
            names = [n for n in dir(module) if inspect.isclass(getattr(module, n)) and not n.startswith("Base")]
            raise LitGenError(f"{where}: {kind} {name!r} is not in optuna.{kind}s ({nearest(name, names, 'classes')}), "
                              "nor an import path")
    if not (inspect.isclass(cls) and issubclass(cls, base)):
        raise LitGenError(f"{where}: {kind} {name!r} is not a subclass of optuna.{kind}s.{base.__name__}")
    return cls


def _argument_error(message: str, accepted) -> str:
    """jsonargparse's type message for an argument, as 'key=value must be <type>' where the key is known."""
    found = re.search(r'Parser key "([^"]+)": Expected .*?Got value: (.*)$', message)
    if found and found.group(1) in accepted:
        annotation = accepted[found.group(1)].annotation
        expected = annotation if isinstance(annotation, str) else describe_type(annotation)
        return f"{found.group(1)}={found.group(2)} must be {expected}"
    return message
