"""SLURM's client commands, as lit_gen uses them: submit (sbatch), look (scontrol, squeue), cancel (scancel).

Job states come from the controller's memory (`scontrol show job`), which works with accounting off; a job the
controller has forgotten (finished more than MinJobAge ago) is reported as finished, or with its final state from
`sacct` where accounting is on.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from lit_gen.errors import LitGenError

#: states after which a job does nothing more (it may still be listed for MinJobAge seconds)
FINAL_STATES = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY",
                "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT", "FINISHED"}
NOT_LISTED = "FINISHED"  # the controller no longer knows the job: it ended at least MinJobAge seconds ago
#: what SLURM's clients print when there is no controller to ask (down, unreachable, or no slurm.conf at all)
UNREACHABLE = ("Unable to contact slurm controller", "Could not establish a configuration source",
               "Unable to process configuration file",
               "Socket timed out", "Connection refused", "Zero Bytes were transmitted")


class SlurmUnavailable(LitGenError):
    """SLURM cannot be asked from here: its client is not installed, or its controller does not answer."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # the cause alone, for a caller that carries on without SLURM (`sweep status`)


def _run(command: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    if shutil.which(command[0]) is None:
        raise SlurmUnavailable(f"`{command[0]}` is not on the PATH: run this on a SLURM login node "
                               "(or use --dry_run to only write the script)", f"`{command[0]}` is not on the PATH")
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SlurmUnavailable(f"`{' '.join(command)}` did not answer in {timeout:.0f} s: is slurmctld up?",
                               f"the SLURM controller did not answer `{command[0]}` within {timeout:.0f} s") from None


def sbatch(script: Path, test_only: bool = False) -> str:
    """Submit a script; return its job id (with --test-only: sbatch's estimate, nothing submitted)."""
    command = ["sbatch", "--test-only", str(script)] if test_only else ["sbatch", "--parsable", str(script)]
    result = _run(command)
    if result.returncode != 0:
        raise LitGenError(f"sbatch refused {script}: {(result.stderr or result.stdout).strip()}")
    if test_only:
        return (result.stderr + result.stdout).strip()
    return result.stdout.strip().split(";")[0]  # "<id>" or "<id>;<cluster>"


def scancel(job_ids: list[str], signal: str | None = None) -> None:
    if not job_ids:
        return
    command = ["scancel", *([f"--signal={signal}"] if signal else []), *job_ids]
    result = _run(command)
    if result.returncode != 0:
        raise LitGenError(f"scancel failed: {(result.stderr or result.stdout).strip()}")


def _fields(line: str) -> dict[str, str]:
    # `scontrol show job -o`: `Key=value` pairs separated by spaces; a value may itself hold spaces (a job name)
    parts = re.split(r" (?=[A-Za-z][A-Za-z0-9/:_]*=)", line.strip())
    return dict(part.split("=", 1) for part in parts if "=" in part)


def show_job(job_id: str, timeout: float = 60) -> list[dict[str, str]] | None:
    """Every record the controller holds for a job (one per array task), or None when it no longer knows it.
    Raises SlurmUnavailable when there is no controller to ask."""
    result = _run(["scontrol", "show", "job", "--oneliner", str(job_id)], timeout)
    if result.returncode != 0:
        if "Invalid job id" in result.stderr:
            return None
        message = result.stderr.strip()
        if any(text in message for text in UNREACHABLE):
            last = message.splitlines()[-1].removeprefix("scontrol: ")
            raise SlurmUnavailable(f"scontrol show job {job_id}: {last}",
                                   f"the SLURM controller cannot be reached (scontrol: {last})")
        raise LitGenError(f"scontrol show job {job_id}: {message}")
    return [_fields(line) for line in result.stdout.splitlines() if line.strip()]


def _sacct_states(job_id: str) -> list[dict[str, Any]]:
    if shutil.which("sacct") is None:
        return []
    try:
        result = subprocess.run(["sacct", "--jobs", str(job_id), "--allocations", "--noheader", "--parsable2",
                                 "--format=JobID,State,NodeList,Elapsed"], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:  # only a fallback: the job is then shown as no longer listed
        return []
    if result.returncode != 0:  # accounting off: "Slurm accounting storage is disabled"
        return []
    rows = []
    for line in result.stdout.splitlines():
        job, state, node, elapsed = (line.split("|") + ["", "", "", ""])[:4]
        array_job, _, task = job.partition("_")
        rows.append({"job_id": job, "array_job_id": array_job, "array_task": task or None,
                     "state": state.split()[0] if state else NOT_LISTED, "reason": "from sacct",
                     "node": node if node not in ("None assigned", "") else "", "elapsed": elapsed, "restarts": None})
    return rows


def job_rows(job_id: str, timeout: float = 60) -> list[dict[str, Any]]:
    """One row per array task (or one for a plain job): job id, array task, state, reason, node, elapsed, restarts."""
    records = show_job(job_id, timeout)
    if records is None:
        return _sacct_states(job_id) or [{
            "job_id": str(job_id), "array_job_id": str(job_id), "array_task": None, "state": NOT_LISTED,
            "reason": "no longer listed by SLURM (ended; accounting off or not queried)", "node": "", "elapsed": "",
            "restarts": None}]
    rows = []
    for record in records:
        array_job = record.get("ArrayJobId")
        task = record.get("ArrayTaskId")
        ident = f"{array_job}_{task}" if array_job and task else record.get("JobId", str(job_id))
        reason = record.get("Reason", "")
        node = record.get("NodeList", "")
        rows.append({
            "job_id": ident,
            "array_job_id": array_job or record.get("JobId", str(job_id)),
            "array_task": task,
            "state": record.get("JobState", "UNKNOWN"),
            "reason": "" if reason == "None" else reason,
            "node": "" if node == "(null)" else node,
            "elapsed": record.get("RunTime", ""),
            "restarts": int(record["Restarts"]) if record.get("Restarts", "").isdigit() else None,
        })
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    """A plain table of job rows, for `lit-gen sweep status` and `lit-gen submit`."""
    header = ["job", "state", "elapsed", "node", "restarts", "reason"]
    table = [header] + [[str(r["job_id"]), str(r["state"]), str(r["elapsed"]), str(r["node"]),
                         "" if r.get("restarts") is None else str(r["restarts"]), str(r["reason"])] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                     for line in table)
