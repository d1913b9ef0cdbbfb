"""A config mistake in one line: what is wrong, where (the flag, or the file and the key in it), and the fix (the
nearest valid key, or the values allowed).

jsonargparse explains a mistake as a nest of union subtypes and class paths (13 lines for a negative σ); the facts
a user needs are in it — the key, the class whose parameter it is, the innermost complaint. `read_message` takes
them out; `locate` finds which flag or config file set the key; `nearest` finds the key a typo meant. The CLI
(`lit_gen.lightning_cli`) and the typed YAML files (sweeps, SLURM profiles: `lit_gen.typed_yaml`) both speak
through these, so every config error reads the same way.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: lines of a jsonargparse message that only hold its scaffolding
SCAFFOLDING = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:", "Given value type:",
               "Given value:", "Expected a <class 'NoneType'>", "Expected <class 'NoneType'>")
NOT_FOUND = object()


def nearest(name: str, valid: list[str], what: str) -> str:
    """'did you mean X?' with difflib's nearest valid name, or all of them where none is near."""
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    listed = sorted(valid)
    shown = ", ".join(listed[:12]) + (", …" if len(listed) > 12 else "")
    return f"the {what} are {shown}"


@dataclass
class Problem:
    """One mistake as jsonargparse reported it: the dotted key (`model.init_args.latnet_dim`), the innermost
    complaint, and for an unknown key its name and the class (if any) that does not take it."""

    key: str = ""
    complaint: str = ""
    unknown: str | None = None
    class_path: str | None = None
    classes: list[str] = field(default_factory=list)


def read_message(message: str) -> Problem:
    """The key and the innermost complaint of a jsonargparse error message."""
    problem = Problem()
    keys: list[str] = []
    complaints: list[str] = []
    for raw in message.splitlines():
        line = raw.strip().removeprefix("- ").strip()
        if not line or line.startswith(SCAFFOLDING):
            continue
        parser_key = re.match(r'Parser key "([^"]+)":?\s*(.*)', line)
        class_path = re.match(r"Problem with given class_path '([^']+)':", line)
        if parser_key:
            keys.append(parser_key.group(1))
            if parser_key.group(2):
                complaints.append(parser_key.group(2))
        elif class_path:
            keys.append("init_args")
            problem.classes.append(class_path.group(1))
        else:
            complaints.append(line)
    unknown = None
    for text in complaints:
        found = (re.search(r"Option '([^']+)' is not accepted", text)
                 or re.search(r"does not accept option '([^']+)'", text)
                 or re.search(r"[Uu]nrecognized arguments?: (--?\S+)", text)
                 or re.search(r"No action for key \"([^\"]+)\"", text))
        if found:
            unknown = found.group(1).lstrip("-")
            break
    if unknown is not None:
        keys.append(unknown)
        problem.unknown = unknown.split(".")[-1]
        problem.complaint = "unknown key"
    else:
        problem.complaint = plain_words(complaints[-1]) if complaints else message.strip()
    problem.key = ".".join(keys)
    problem.class_path = problem.classes[-1] if problem.classes else None
    return problem


def plain_words(text: str) -> str:
    """A complaint in a user's words: `Not of type PositiveFloat: -0.1 does not conform to restriction v>0` →
    'must be > 0'."""
    restriction = re.search(r"Not of type (\w+): .* does not conform to restriction v\s*([<>=!]+)\s*(\S+)", text)
    if restriction:
        return f"must be {restriction.group(2)} {restriction.group(3)}"
    missing = re.search(r"module '([\w.]+)' has no attribute '(\w+)'", text)
    if missing:
        module = importlib.import_module(missing.group(1))
        names = [name for name in dir(module) if inspect.isclass(getattr(module, name)) and not name.startswith("_")]
        return f"{missing.group(1)} has no class {missing.group(2)!r}: {nearest(missing.group(2), names, 'classes')}"
    expected = re.fullmatch(r"Expected an? <class '(\w+)'>", text)
    if expected:
        return f"expected {WORDS.get(expected.group(1), expected.group(1))}"
    return text


WORDS = {"int": "a whole number", "float": "a number", "str": "a string", "bool": "true or false",
         "dict": "a mapping", "list": "a list"}


def parameters_of(class_path: str) -> list[str]:
    """The keyword parameters a class takes (its own and, where it passes `**kwargs` on, its bases')."""
    module_name, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError):
        return []
    names: list[str] = []
    for klass in inspect.getmro(cls) if inspect.isclass(cls) else [cls]:
        try:
            parameters = inspect.signature(klass.__init__ if inspect.isclass(klass) else klass).parameters.values()
        except (TypeError, ValueError):
            break
        names += [p.name for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    return list(dict.fromkeys(names))


def locate(key: str, command_line: list[str]) -> tuple[str | None, Any]:
    """Where `key` was set, as a user would look for it: `--model.init_args.sigma` on the command line, or
    `configs/model/vae_mlp.yaml: init_args.sigma` in a config file (followed through the files a config names,
    like `model: ../model/vae_mlp.yaml`), and the value given there. The last setting wins, as in the parser."""
    parts = key.split(".")
    where: str | None = None
    value: Any = NOT_FOUND
    for i, arg in enumerate(command_line):
        if not arg.startswith("-"):
            continue
        flag, _, inline = arg.lstrip("-").partition("=")
        given = inline if "=" in arg else (command_line[i + 1] if i + 1 < len(command_line) else None)
        if flag in ("config", "c") and given:
            found = _in_file(Path(given), parts)
        elif flag.split(".") == parts or flag.split(".") == [p for p in parts if p != "init_args"]:
            found = (f"--{flag}", given)
        elif parts[: len(flag.split("."))] == flag.split(".") and given and given.endswith((".yaml", ".yml")):
            found = _in_file(Path(given), parts[len(flag.split(".")):])  # `--model configs/model/x.yaml`
        else:
            found = None
        if found is not None:
            where, value = found
    return where, value


def _in_file(path: Path, parts: list[str], depth: int = 0) -> tuple[str, Any] | None:
    import yaml

    try:
        node: Any = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    for j, part in enumerate(parts):
        if isinstance(node, str) and node.endswith((".yaml", ".yml")) and depth < 5:
            return _in_file(path.parent / node, parts[j:], depth + 1)
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif part == "init_args" and isinstance(node, dict):
            continue  # a config may give a class's arguments without `init_args`
        else:
            return None
    return f"{path}: {'.'.join(parts)}", node


def explain(message: str, command_line: list[str], valid_keys: list[str] = (), help_hint: str = "") -> str:
    """jsonargparse's `message` about a command line, as at most three short lines: where and what (with the value
    given), then the fix."""
    problem = read_message(message)
    where, value = locate(problem.key, command_line) if problem.key else (None, NOT_FOUND)
    place = where or (f"--{problem.key}" if problem.key else "the configuration")
    if problem.unknown is not None:
        owner = f" of {problem.class_path}" if problem.class_path else ""
        if problem.class_path:
            choices = parameters_of(problem.class_path)
            unknown = problem.unknown
        else:  # a key of the command itself (trainer.*, checkpoint.*, …): compare whole dotted keys
            choices, unknown = list(valid_keys), problem.key
        fix = nearest(unknown, choices, "keys") if choices else help_hint
        return f"{place}: unknown key {unknown!r}{owner}: {fix}"
    if where is None or value is NOT_FOUND:
        shown = ""
    elif where.startswith("--"):  # as typed: `--trainer.max_epochs many`
        shown = "" if value is None else f" {value}"
    else:  # as the file holds it: `configs/x.yaml: init_args.sigma = -0.1`
        shown = f" = {value!r}"
    lines = [f"{place}{shown}: {problem.complaint}"]
    if help_hint and not any(fix in problem.complaint for fix in ("must be", "expected", "did you mean")):
        lines.append(help_hint)
    return "\n".join(lines)
