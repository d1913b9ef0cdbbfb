"""Reads the records of an offline W&B run file (`run-<id>.wandb`) back, with no account and no network.

wandb 0.31 ships no reader for its own file, so this is one: a 7-byte header (`:W&B`, a 2-byte magic, a 1-byte
version), then LevelDB-log framing — 32 KiB blocks; in each, chunks with a 7-byte header (crc32: 4, length: 2,
type: 1 — FULL=1, FIRST=2, MIDDLE=3, LAST=4); a block tail too short for a header is zero padding — around
serialized `wandb.proto.wandb_internal_pb2.Record`s.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

HEADER, BLOCK, CHUNK_HEADER = 7, 32 * 1024, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_records(path: str | Path) -> list:
    """Every record of one `run-<id>.wandb` file, in order, as `wandb_internal_pb2.Record` messages."""
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    records, pending, pos = [], b"", HEADER
    while pos + CHUNK_HEADER <= len(data):
        if BLOCK - pos % BLOCK < CHUNK_HEADER:  # zero padding at the end of a block
            pos += BLOCK - pos % BLOCK
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + CHUNK_HEADER])
        if kind == 0 and length == 0:  # zeroed rest of a block (e.g. a file cut off at a block's end)
            pos += BLOCK - pos % BLOCK
            continue
        chunk = data[pos + CHUNK_HEADER : pos + CHUNK_HEADER + length]
        pos += CHUNK_HEADER + length
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def _put(target: dict[str, Any], item) -> None:
    # `key` for a top-level entry; `nested_key` for a path: ["val/elbo"], or ["images/samples", "path"] for a
    # field of an image (metric names keep their slashes)
    path = [item.key] if item.key else list(item.nested_key)
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = json.loads(item.value_json)


def _apply(items) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in items:
        _put(result, item)
    return result


def history(records) -> list[dict[str, Any]]:
    """The logged rows (`run.log`), in order."""
    return [_apply(r.history.item) for r in records if r.WhichOneof("record_type") == "history"]


def config(records) -> dict[str, Any]:
    """The run's config: the one `wandb.init` was given, then every update."""
    result: dict[str, Any] = {}
    for r in records:
        kind = r.WhichOneof("record_type")
        for item in r.run.config.update if kind == "run" else r.config.update if kind == "config" else []:
            _put(result, item)
    return result


def summary(records) -> dict[str, Any]:
    """The run's summary as it stands at the end of the file."""
    result: dict[str, Any] = {}
    for r in records:
        if r.WhichOneof("record_type") == "summary":
            for item in r.summary.update:
                _put(result, item)
    return result


def files(records) -> list[str]:
    """Paths of the files the run saved (media of logged images and tables among them), relative to `files/`."""
    return [f.path for r in records if r.WhichOneof("record_type") == "files" for f in r.files.files]


def run_info(records):
    """The run record: run_id, run_group, display_name, job_type, tags, project, ..."""
    return next(r.run for r in records if r.WhichOneof("record_type") == "run")


def run_files(folder: str | Path) -> list[Path]:
    """The `run-<id>.wandb` files below a folder, oldest first: a run resumed offline adds one folder per process."""
    return sorted(Path(folder).rglob("run-*.wandb"), key=lambda path: path.parent.name.split("run-", 1)[1])
