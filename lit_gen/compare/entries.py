"""What each `lit-gen compare` argument is: a finished run directory, or a config still to train."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lit_gen.checkpoints import resolve_checkpoint
from lit_gen.errors import LitGenError


@dataclass
class Entry:
    """One argument: a run directory, or a config that becomes one once trained."""

    argument: str
    label: str
    config: Path | None = None  # set for a config still to train
    run_dir: Path | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def entries_of(arguments: list[str]) -> list[Entry]:
    entries = []
    for argument in arguments:
        path = Path(argument)
        if not path.exists():
            raise LitGenError(f"{argument} does not exist: give a finished run directory (with config.yaml and "
                              "checkpoints/) or an experiment config (.yaml) to train")
        if path.is_dir():
            if not (path / "config.yaml").is_file():
                raise LitGenError(f"{argument} is not a lit_gen run directory (no config.yaml): give the folder "
                                  "`lit-gen fit` wrote, e.g. runs/<experiment>/version_0")
            resolve_checkpoint(path)  # a run without checkpoints fails now, not after training the others
            label = f"{path.resolve().parent.name}/{path.resolve().name}"
            entries.append(Entry(argument, label, run_dir=path))
        elif path.suffix in (".yaml", ".yml"):
            entries.append(Entry(argument, path.stem, config=path))
        else:
            raise LitGenError(f"{argument} is neither a run directory nor a config (.yaml)")
    seen: dict[str, int] = {}
    for entry in entries:  # labels name output folders and table rows: keep them unique
        seen[entry.label] = seen.get(entry.label, 0) + 1
        if seen[entry.label] > 1:
            entry.label = f"{entry.label}_{seen[entry.label]}"
    return entries


def next_version(root: Path) -> Path:
    taken = {p.name for p in root.glob("version_*")} if root.is_dir() else set()
    n = 0
    while f"version_{n}" in taken:
        n += 1
    return root / f"version_{n}"
