"""A sweep as a SLURM job array: W workers, each `lit-gen sweep run SPEC --workers 1` against the shared storage.

What the user gave `sweep submit` for the study (`--storage`, `--n_trials`) is written into every worker's command,
so the array fills the study the user named; a storage URL with a password is refused (it would sit in the script
and in the process list); `$LIT_GEN_STORAGE` reaches the workers through sbatch's environment instead.

The worker runs in the batch step; each trial it starts is `$LIT_GEN_TRIAL_LAUNCHER lit-gen fit ...
$LIT_GEN_TRIAL_OVERRIDES`, i.e. `devices` × `nodes` ranks under srun. Its worker id, `slurm-<array job>_<task>`,
survives a requeue, so after a time-limit warning or preemption (SIGUSR1 → hpc checkpoint → requeue) the restarted
worker takes back its own RUNNING trial and resumes it in the trial's run directory instead of losing it or letting
stale-trial detection run it twice.

Files, in the sweep directory: `slurm/sweep.sbatch` (the script), `slurm/worker-<array job>_<task>.out` (logs),
`slurm/jobs.json` (every job submitted for this sweep, so `status` and `cancel` find them).
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from lit_gen.errors import LitGenError
from lit_gen.slurm import commands
from lit_gen.slurm.profile import ClusterProfile
from lit_gen.slurm.render import continued, launcher, q, render

WORKER_ID = 'slurm-"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"'
JOBS_FILE = "jobs.json"
#: seconds `sweep status` waits for scontrol, which retries an unreachable controller for ~18 s (MessageTimeout=10)
STATUS_TIMEOUT = 5.0


def slurm_dir(sweep_dir: Path) -> Path:
    return Path(sweep_dir) / "slurm"


def script_path(sweep_dir: Path) -> Path:
    return slurm_dir(sweep_dir) / "sweep.sbatch"


def _study_name(spec_path: Path) -> str:
    try:
        raw = yaml.safe_load(Path(spec_path).read_text()) or {}
    except (OSError, yaml.YAMLError):
        raw = {}
    return str(raw.get("name") or Path(spec_path).stem) if isinstance(raw, dict) else Path(spec_path).stem


def worker_options(storage: str | None, n_trials: int | None) -> list[str]:
    """The `lit-gen sweep run` options every worker gets from `sweep submit`, quoted for the script.

    `storage` comes resolved by `lit-gen sweep submit` (`lit_gen.run.storage.resolve_storage_url`: absolute, so
    a journal path given relative to the user's folder is the same file for every worker)."""
    options = []
    if storage:
        if "://" in storage and urlsplit(storage).password is not None:  # never into a file or onto a command line
            raise LitGenError("--storage: the storage URL holds a password; give it through PGPASSWORD or "
                              "~/.pgpass, or put the whole URL in LIT_GEN_STORAGE (sbatch passes the environment on)")
        options += ["--storage", q(storage)]
    if n_trials is not None:
        if n_trials < 1:
            raise LitGenError(f"--n_trials {n_trials} must be at least 1")
        options += ["--n_trials", str(n_trials)]
    return options


def render_sweep_script(spec_path: Path, sweep_dir: Path, profile: ClusterProfile, workers: int,
                        storage: str | None = None, n_trials: int | None = None) -> str:
    if not isinstance(workers, int) or workers < 1:
        raise LitGenError(f"--workers {workers!r} must be a whole number ≥ 1")
    options = worker_options(storage, n_trials)
    spec_path, sweep_dir = Path(spec_path).resolve(), Path(sweep_dir).resolve()
    name = _study_name(spec_path)
    array = f"0-{workers - 1}"
    if profile.array_throttle is not None and profile.array_throttle < workers:
        array += f"%{profile.array_throttle}"
    ranks = f"{profile.devices} × {profile.nodes} node(s)" if profile.nodes > 1 else f"{profile.devices}"
    body = [
        f"# One sweep worker per array task ({workers} in all). It runs here, in the batch step, and starts each",
        f"# trial under srun as {ranks} ranks: LIT_GEN_TRIAL_LAUNCHER is put before the trial's `lit-gen fit`,",
        "# LIT_GEN_TRIAL_OVERRIDES after it. The worker id survives a requeue: a requeued worker takes back its own",
        "# running trial and resumes it from hpc_ckpt_*.ckpt in <sweep dir>/trials/trial-<n>/.",
        "# The storage is `--storage` when given, else $LIT_GEN_STORAGE, else the spec's (a journal file on a shared",
        "# filesystem, or PostgreSQL whose password comes from ~/.pgpass or the environment you submit from, never",
        "# from this file).",
        f"export LIT_GEN_WORKER_ID={WORKER_ID}",
        f"export LIT_GEN_TRIAL_LAUNCHER={q(shlex.join(launcher(profile)))}",
        f"export LIT_GEN_TRIAL_OVERRIDES={q(shlex.join(profile.trainer_overrides()))}",
        continued(["lit-gen", "sweep", "run", q(spec_path), "--workers", "1", *options]),
    ]
    return render(
        profile,
        title=f"Sweep {name}: {workers} worker(s) as a SLURM job array, each trial DDP on {ranks} rank(s).",
        rendered_by="lit-gen sweep submit",
        script=script_path(sweep_dir),
        job_name=f"sweep-{name}",
        output=slurm_dir(sweep_dir) / "worker-%A_%a.out",
        chdir=Path.cwd(),
        body=body,
        array=array,
    )


def submit_sweep(spec_path: Path, sweep_dir: Path, profile: ClusterProfile, workers: int,
                 dry_run: bool = False, storage: str | None = None, n_trials: int | None = None) -> list[str]:
    """Write `<sweep dir>/slurm/sweep.sbatch` and submit it (dry run: print it instead). Returns the job ids.
    `storage` and `n_trials` (None: the spec's) go to every worker."""
    text = render_sweep_script(spec_path, sweep_dir, profile, workers, storage, n_trials)
    path = script_path(Path(sweep_dir).resolve())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if dry_run:
        print(text, end="")
        print(f"\n# dry run: nothing submitted; the script is {path} (submit it with: sbatch {q(path)})")
        return []
    job_id = commands.sbatch(path)
    _record(path.parent, {"job_id": job_id, "workers": workers, "script": str(path),
                          "profile": str(profile.path or profile.name), "submitted": time.time(),
                          "storage": storage, "n_trials": n_trials})  # as given (a password was refused above)
    print(f"Submitted job array {job_id} ({workers} worker(s)): script {path}, "
          f"logs {path.parent}/worker-{job_id}_<task>.out")
    return [job_id]


def submitted_jobs(sweep_dir: Path) -> list[dict[str, Any]]:
    path = slurm_dir(sweep_dir) / JOBS_FILE
    if not path.is_file():
        return []
    return json.loads(path.read_text())["jobs"]


def _record(folder: Path, entry: dict[str, Any]) -> None:
    path = folder / JOBS_FILE
    jobs = json.loads(path.read_text())["jobs"] if path.is_file() else []
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"jobs": [*jobs, entry]}, indent=2) + "\n")
    tmp.replace(path)


def job_states(sweep_dir: Path, timeout: float = 60) -> list[dict[str, Any]]:
    """One row per array task of every job submitted for the sweep: job_id ('<array job>_<task>'), array_job_id,
    array_task, state, reason, node, elapsed, restarts. A job SLURM no longer lists has state 'FINISHED'.
    Raises commands.SlurmUnavailable at the first job it cannot ask about (the others would wait as long)."""
    rows: list[dict[str, Any]] = []
    for job in submitted_jobs(sweep_dir):
        rows += commands.job_rows(job["job_id"], timeout)
    return rows


def jobs_text(sweep_dir: Path, timeout: float = STATUS_TIMEOUT) -> str:
    """The sweep's SLURM jobs as a table, for `lit-gen sweep status`; one line instead when SLURM cannot be asked
    from here (a laptop, a login node during maintenance), since the study itself is read from its storage."""
    try:
        return "SLURM jobs:\n" + commands.format_rows(job_states(sweep_dir, timeout))
    except commands.SlurmUnavailable as error:
        return f"SLURM jobs: not shown, {error.reason}; the trials above come from the study's storage"


def cancel_sweep(sweep_dir: Path) -> list[str]:
    """scancel every job of the sweep that has not ended; returns the ids cancelled. The trials they were running
    stay RUNNING in the storage until a worker's stale-trial check fails them (or a new worker of the same id
    takes them back)."""
    active = []
    for job in submitted_jobs(sweep_dir):
        states = {row["state"] for row in commands.job_rows(job["job_id"])}
        if states - commands.FINAL_STATES:
            active.append(str(job["job_id"]))
    commands.scancel(active)
    return active
