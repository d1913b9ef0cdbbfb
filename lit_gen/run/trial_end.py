"""How a sweep trial's fit ended, told by the fit itself: one small JSON file its driver reads.

The trial process writes `trial_end.json` in its run directory as its last act: the state (`complete`, `pruned`,
`diverged`, `failed`), the value of the sweep's metric (for `complete` and `pruned`) and, for a sweep of several
objectives, the value of each in `values` (`value` is the first), the reason in one line, and
the seconds its work took (trainer start to the end of the final evaluation). A process that dies without writing
it (SIGKILL, a lost node, a segfault) leaves none: the driver then knows only the exit code, and shows the end of
the trial's log to the person reading the failure.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

FILENAME = "trial_end.json"
STATES = ("complete", "pruned", "diverged", "failed")


@dataclass(frozen=True)
class TrialEnd:
    state: str  # one of STATES
    value: float | None = None  # the sweep's metric: the final evaluation's (complete), the last reported (pruned)
    reason: str = ""  # one line: why it was pruned, diverged or failed
    seconds: float | None = None  # the work: trainer start to the end of the final evaluation
    epoch: int | None = None  # the epoch the fit ended in
    values: list[float] | None = None  # every objective of a multi-objective sweep, in the sweep's order

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"trial end state {self.state!r}: one of {', '.join(STATES)}")


def write_trial_end(folder: Path, end: TrialEnd) -> None:
    """Write the record atomically (a reader never sees half a file). Rank 0 only."""
    content = asdict(end)
    content["value"] = _json_number(content["value"])
    if content["values"] is not None:
        content["values"] = [_json_number(v) for v in content["values"]]
    path = Path(folder) / FILENAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(content, indent=2) + "\n")
    tmp.replace(path)


def read_trial_end(folder: Path) -> TrialEnd | None:
    """The record of the fit that last ran in `folder`, or None when it left none."""
    path = Path(folder) / FILENAME
    if not path.is_file():
        return None
    content = json.loads(path.read_text())
    if isinstance(content.get("value"), str):
        content["value"] = float(content["value"])
    if content.get("values") is not None:
        content["values"] = [float(v) for v in content["values"]]
    return TrialEnd(**content)


def _json_number(value: float | None) -> float | str | None:
    """JSON has no NaN or infinity: those are written as text ("nan", "inf") and read back as floats."""
    return str(value) if value is not None and not math.isfinite(value) else value


def clear_trial_end(folder: Path) -> None:
    """Remove an earlier attempt's record before a new attempt runs in the same directory."""
    (Path(folder) / FILENAME).unlink(missing_ok=True)
