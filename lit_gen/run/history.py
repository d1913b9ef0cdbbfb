"""A resumed run's `metrics.csv` keeps the whole curve: the rows of earlier attempts, each epoch once.

Lightning's CSV logger deletes an existing `metrics.csv` when a run starts logging again in the same directory, and a
run resumed into a new directory starts an empty one. Whichever way a run resumes (a sweep trial retried after its
worker died, `--ckpt_path last`, a SLURM requeue from `hpc_ckpt_<n>.ckpt`), the rows logged before its checkpoint
are carried over: held in `metrics.resumed.csv` before the logger starts, then logged again into the new file up to
the point the checkpoint restored. Rows the earlier attempt logged after its checkpoint are dropped, since the
resumed run trains those epochs again.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

LOG_FILE = "metrics.csv"
HELD_FILE = "metrics.resumed.csv"


def run_dir_of_checkpoint(checkpoint: Path) -> Path:
    """The run directory a checkpoint belongs to: `<run>/checkpoints/*.ckpt` or `<run>/hpc_ckpt_<n>.ckpt`."""
    checkpoint = Path(checkpoint).resolve()
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent


def hold_earlier_rows(source_dir: Path, run_dir: Path) -> None:
    """Keep `source_dir/metrics.csv` as `run_dir/metrics.resumed.csv`, out of the logger's way.

    In the same directory the file is moved (the logger would delete it); a held file already there (an attempt that
    died between holding and logging its rows) goes first. From another directory the file is copied."""
    source, held = Path(source_dir) / LOG_FILE, Path(run_dir) / HELD_FILE
    if not source.is_file():
        return
    if Path(source_dir).resolve() != Path(run_dir).resolve():
        shutil.copyfile(source, held)
        return
    rows = read_rows(held) + read_rows(source) if held.is_file() else read_rows(source)
    write_rows(held, rows)
    source.unlink()


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    keys = list(dict.fromkeys(key for row in rows for key in row))
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def rows_before(rows: list[dict[str, str]], epoch: int, step: int) -> list[tuple[int, dict[str, float]]]:
    """(step, metrics) of the rows logged before the point a checkpoint restored: every row of an earlier epoch,
    and the step-level rows of the restored epoch before its step. The `epoch` column stays among the metrics."""
    kept = []
    for row in rows:
        values = {key: float(value) for key, value in row.items() if key != "step" and value not in ("", None)}
        row_step = int(float(row["step"])) if row.get("step") not in ("", None) else 0
        row_epoch = int(values["epoch"]) if "epoch" in values else 0
        if row_epoch < epoch or (row_epoch == epoch and row_step < step):
            if "epoch" in values:
                values["epoch"] = row_epoch  # as Lightning logs it: a whole number
            kept.append((row_step, values))
    return kept
