"""`lit-gen compare`: models trained on the same data, side by side in one table and one figure.

One module per job: `command` (arguments, the order of the jobs), `entries` (what each argument is), `check` (every
model on the same data), `train` (a config becomes a run), `evaluate` (one model's numbers), `likelihood` (which
likelihoods share a column), `report` (the table, the figure, compare.json). The usage is in
`lit_gen.compare.command`.
"""

from lit_gen.compare.check import data_overrides as _data_overrides  # the name tests/test_compare.py imports
from lit_gen.compare.command import main
from lit_gen.compare.entries import Entry
from lit_gen.compare.report import markdown_table

__all__ = ["Entry", "_data_overrides", "main", "markdown_table"]
