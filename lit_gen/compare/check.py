"""Every compared model trained on the same data: the same data class, settings, split and seeds."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import yaml

from lit_gen.compare.entries import Entry
from lit_gen.errors import LitGenError

#: data settings that do not change which examples a split holds
NOT_DATA = {"batch_size", "eval_batch_size", "shuffle_seed", "data_dir", "download", "num_workers"}


def data_spec_of_run(run_dir: Path) -> dict[str, Any]:
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    spec = _normalise(config.get("data"))
    if spec is None:
        raise LitGenError(f"{run_dir}/config.yaml has no data section with a class_path: is it a lit_gen run?")
    return spec


def _data_spec_of_config(config_path: Path, fit_args: list[str]) -> dict[str, Any] | None:
    """The data a config will train on, with the class's defaults and `--data.init_args.KEY VALUE` overrides
    filled in; None when it cannot be told without running LightningCLI (the check after training decides)."""
    try:
        config = yaml.safe_load(config_path.read_text())
    except yaml.YAMLError as error:
        raise LitGenError(f"{config_path} is not valid YAML: {error}") from error
    data = config.get("data") if isinstance(config, dict) else None
    if isinstance(data, str) and (config_path.parent / data).is_file():  # `data: ../data/mixture_ring8.yaml`
        data = yaml.safe_load((config_path.parent / data).read_text())
    overrides = data_overrides(fit_args)
    if overrides is None or not isinstance(data, dict):
        return None
    return _normalise({**data, "init_args": {**(data.get("init_args") or {}), **overrides}})


def data_overrides(fit_args: list[str]) -> dict[str, Any] | None:
    """`--data.init_args.KEY VALUE` (or `=VALUE`) pairs among the fit arguments; None if they change the data
    in any other way (`--data FILE`, `--data.class_path …`)."""
    overrides: dict[str, Any] = {}
    prefix = "--data.init_args."
    for i, arg in enumerate(fit_args):
        if arg.startswith(prefix):
            key, has_value, value = arg[len(prefix):].partition("=")
            if not has_value:
                if i + 1 >= len(fit_args):
                    return None
                value = fit_args[i + 1]
            overrides[key] = yaml.safe_load(value)
        elif arg == "--data" or arg.startswith(("--data=", "--data.")):
            return None
    return overrides


def _normalise(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict) or "class_path" not in data:
        return None
    init_args = dict(data.get("init_args") or {})
    try:
        module_name, _, class_name = data["class_path"].rpartition(".")
        cls = getattr(importlib.import_module(module_name), class_name)
        defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
                    if p.default is not inspect.Parameter.empty}
    except (ImportError, AttributeError, ValueError, TypeError):
        return None
    init_args = {**defaults, **init_args}
    return {"class_path": data["class_path"], "init_args": init_args}


def _comparable(spec: dict[str, Any]) -> dict[str, Any]:
    return {"class_path": spec["class_path"],
            **{k: v for k, v in spec["init_args"].items() if k not in NOT_DATA}}


def check_same_data(entries: list[Entry], fit_args: list[str], final: bool) -> None:
    """Every model trained on the same examples and splits. Before training, configs whose data cannot be read
    without LightningCLI are left to the check after training (`final`), which reads every run's config.yaml."""
    specs = []
    for entry in entries:
        if entry.run_dir is not None:
            specs.append((entry, data_spec_of_run(entry.run_dir)))
        elif not final:
            spec = _data_spec_of_config(entry.config, fit_args)
            if spec is not None:
                specs.append((entry, spec))
    if len(specs) < 2:
        return
    first, reference = specs[0][0], _comparable(specs[0][1])
    for entry, spec in specs[1:]:
        other = _comparable(spec)
        if other != reference:
            keys = sorted(k for k in reference.keys() | other.keys() if reference.get(k) != other.get(k))
            what = "; ".join(f"{k}: {reference.get(k)!r} vs {other.get(k)!r}" for k in keys)
            raise LitGenError(
                f"{first.argument} and {entry.argument} use different data ({what}): compare needs every model "
                "trained on the same data set, split and seeds. Configs take the same data from arguments after "
                "`--` (e.g. `lit-gen compare A.yaml B.yaml -- --data.init_args.num_samples 532000`); a finished "
                "run must be retrained on the other's data"
            )


def build_datamodule(spec: dict[str, Any]):
    module_name, _, class_name = spec["class_path"].rpartition(".")
    try:
        datamodule = getattr(importlib.import_module(module_name), class_name)(**spec["init_args"])
    except (ImportError, AttributeError, TypeError, ValueError) as error:
        raise LitGenError(f"cannot build the data {spec['class_path']}({spec['init_args']}): {error}") from error
    datamodule.setup()
    return datamodule
