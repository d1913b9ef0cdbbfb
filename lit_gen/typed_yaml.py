"""YAML files read into typed dataclasses (`sweeps/*.yaml`, `slurm/*.yaml`): a dataclass's fields are the file's
keys, jsonargparse checks every value against its field's type, and each mistake is one line naming the file and
the key.

jsonargparse's own messages span several lines and speak of parser groups; a user who typed `n_trails` wants the
key they meant, so unknown keys are found here first, each with difflib's nearest valid key.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from lit_gen.config_errors import nearest, plain_words
from lit_gen.errors import LitGenError

__all__ = ["nearest"]  # the CLI's and the typed files' one way to find the key a typo meant (lit_gen.config_errors)

GROUP = "file"  # the parser group the file's keys live in (jsonargparse names keys `file.<key>`)


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """The mapping a YAML file holds; `what` names its keys for the message when it holds something else."""
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise LitGenError(f"{path} is not valid YAML: {' '.join(str(error).split())}") from error
    if not isinstance(raw, dict):
        raise LitGenError(f"{path} must hold a mapping of {what}")
    return raw


def parse_typed(cls: type, raw: dict[str, Any], where: str, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The keyword arguments of the dataclass `cls` that the mapping `raw` gives, each checked against its field's
    type (nested dataclasses built, missing keys at their defaults). `skip`: fields that are not the file's to set."""
    from jsonargparse import ArgumentParser

    hints = typing.get_type_hints(cls)
    check_keys(cls, raw, where, skip)
    # a key left empty (`overrides:` with nothing under it) takes its default where null is not a value of its own
    defaults = {f.name for f in dataclasses.fields(cls)
                if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
    raw = {key: _as_text(value, hints[key]) for key, value in raw.items()
           if not (value is None and key in defaults and not _accepts_none(hints[key]))}
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(cls, GROUP, skip=set(skip))
    try:
        parsed = parser.parse_object({GROUP: copy.deepcopy(raw)})  # it may change nested values in place
    except Exception as error:  # jsonargparse's ArgumentError, or a TypeError from a type it cannot check
        raise LitGenError(type_error(where, error, hints, raw)) from None
    values = parsed[GROUP].as_dict()
    for key, value in values.items():
        nested = dataclass_in(hints[key])
        if nested is not None:
            values[key] = nested() if value is None else nested(**value)  # `limits: null`: the defaults
        elif key in raw and _holds_any(hints[key]):
            values[key] = raw[key]  # as YAML read it: jsonargparse would read a string like '1e-5' as a number
    return values


def check_keys(cls: type, raw: dict[str, Any], where: str, skip: frozenset[str] = frozenset(),
               prefix: str = "") -> None:
    """Every key of `raw` is a field of `cls` (and so on down nested dataclasses), else one line with the nearest."""
    hints = typing.get_type_hints(cls)
    valid = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    for key, value in raw.items():
        if key not in valid:
            raise LitGenError(unknown_key(where, f"{prefix}{key}", str(key), valid))
        nested = dataclass_in(hints[key])
        if nested is not None and isinstance(value, dict):
            check_keys(nested, value, where, prefix=f"{prefix}{key}.")
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in skip and f.name not in raw
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        field = next(f for f in dataclasses.fields(cls) if f.name == missing[0])
        hint = field.metadata.get("missing", "")
        raise LitGenError(f"{where}: `{prefix}{missing[0]}` is missing{': ' + hint if hint else ''}")


def unknown_key(where: str, shown: str, key: str, valid: list[str]) -> str:
    return f"{where}: unknown key {shown!r} ({nearest(key, valid, 'keys')})"


def type_error(where: str, error: Exception, hints: dict[str, Any], raw: dict[str, Any]) -> str:
    """jsonargparse's message about a value of the wrong type, as one line: the key, the value, the type."""
    text = str(error)
    found = re.search(rf'Parser key "{GROUP}\.([^"]+)"', text)
    if found:
        key = found.group(1)
        top = key.split(".")[0]
        value = _lookup(raw, key)
        expected = describe_type(_lookup_hint(hints, key))
        return f"{where}: {key}={value!r} must be {expected}" if top in hints else f"{where}: {key}: {one_line(text)}"
    return f"{where}: {one_line(text)}"


def one_line(text: str) -> str:
    """A jsonargparse message without its scaffolding (union listings, the value repeated), on one line."""
    noise = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:", "Given value type:",
             "Given value:", "- Expected a <class 'NoneType'>", "- Expected <class 'NoneType'>")
    kept = [plain_words(line.strip().removeprefix("- ")) for line in text.splitlines() if line.strip()
            and not line.strip().startswith(noise)]
    return " ".join(kept)


def describe_type(hint: Any) -> str:
    """A type hint in words a YAML writer reads: `int | None` → 'a whole number, or null'."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        named = [describe_type(a) for a in args if a is not type(None)]
        text = " or ".join(named)
        return f"{text}, or null" if type(None) in args else text
    if origin is Literal:
        return " or ".join(repr(a) for a in args)
    if origin in (list, tuple):
        return f"a list ({describe_type(args[0])} each)" if args else "a list"
    if origin is dict:
        return f"a mapping of {describe_type(args[0])} to {describe_type(args[1])}" if args else "a mapping"
    if hint is Any:
        return "any value"
    if hint is float:
        return "a number"
    if hint is int:
        return "a whole number"
    if hint is str:
        return "a string"
    if hint is Path:
        return "a path"
    if hint is bool:
        return "true or false"
    return getattr(hint, "__name__", str(hint))


def dataclass_in(hint: Any) -> type | None:
    """The dataclass a field holds (`Limits` for `Limits` or `Limits | None`), else None."""
    candidates = typing.get_args(hint) if typing.get_origin(hint) in (Union, types.UnionType) else (hint,)
    return next((c for c in candidates if dataclasses.is_dataclass(c) and isinstance(c, type)), None)


def _accepts_none(hint: Any) -> bool:
    return hint is Any or type(None) in typing.get_args(hint)


def _holds_any(hint: Any) -> bool:
    return hint is Any or any(_holds_any(a) for a in typing.get_args(hint))


def _as_text(value: Any, hint: Any) -> Any:
    """YAML reads `account: 12345` or `time: 30` as a number; a field that takes text but no number takes it as
    written."""
    accepted = typing.get_args(hint) if typing.get_origin(hint) in (Union, types.UnionType) else (hint,)
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if numeric and str in accepted and not {int, float} & set(accepted):
        return str(value)
    return value


def _lookup(raw: dict[str, Any], dotted: str) -> Any:
    value: Any = raw
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return value
        value = value[part]
    return value


def _lookup_hint(hints: dict[str, Any], dotted: str) -> Any:
    parts = dotted.split(".")
    hint = hints.get(parts[0], Any)
    for part in parts[1:]:
        nested = dataclass_in(hint)
        if nested is None:
            return hint
        hint = typing.get_type_hints(nested).get(part, Any)
    return hint
