"""`lit-gen compare`: models trained on the same data, side by side in one table and one figure.

One module per job: `command` (arguments, the order of the jobs), `entries` (what each argument is), `check` (every
model on the same data), `train` (a config becomes a run), `evaluate` (one model's numbers), `likelihood` (which
likelihoods share a column), `report` (the table, the figure, compare.json). The usage is in
`lit_gen.compare.command`.
"""

import importlib

#: the names this package offers, each imported on first use (PEP 562): `lit-gen compare --help` reads only `command`
_LAZY = {
    "_data_overrides": ("lit_gen.compare.check", "data_overrides"),  # the name tests/test_compare.py imports
    "main": ("lit_gen.compare.command", "main"),
    "Entry": ("lit_gen.compare.entries", "Entry"),
    "markdown_table": ("lit_gen.compare.report", "markdown_table"),
}

__all__ = ["Entry", "_data_overrides", "main", "markdown_table"]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'lit_gen.compare' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    return getattr(importlib.import_module(module_name), attribute)
