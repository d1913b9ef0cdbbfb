"""`lit-gen submit --cluster slurm/PROFILE.yaml [--job_name NAME] [--dry_run] fit --config ...`: one training run
as one SLURM job, DDP over the profile's `devices` × `nodes` ranks under srun.

The run directory (`--run_dir`) is `<logger save_dir>/<logger name>/slurm-<job id>`: a requeue keeps the job id, so
the requeued job finds the `hpc_ckpt_*.ckpt` saved there (it is also `trainer.default_root_dir`, where Lightning
looks for one under SLURM) and resumes from it, and the loggers go on writing into the same folder. The script and
the job's log sit beside it: `<name>.sbatch` and `slurm-<job id>.out`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lit_gen.errors import LitGenError
from lit_gen.slurm import commands
from lit_gen.slurm.profile import load_profile
from lit_gen.slurm.render import continued, launcher, q, render

SUBCOMMANDS = ("fit",)
USAGE = "lit-gen submit --cluster slurm/PROFILE.yaml [--job_name NAME] [--dry_run] fit --config CONFIG [overrides ...]"


def resolved_config(fit_args: list[str]) -> dict[str, Any]:
    """The run's full config, as `lit-gen fit ... --print_config` resolves it: a bad config fails here, at submit
    time, instead of after waiting in the queue."""
    from lit_gen.lightning_cli import check_fit_config

    try:
        return check_fit_config(fit_args)
    except LitGenError as error:
        raise LitGenError(f"the run's config does not parse: {error}") from None


def run_location(config: dict[str, Any], job_name: str | None) -> tuple[Path, str]:
    """(the folder that will hold the job's run directory, the job name): `<save_dir>/<name>` of the run's logger
    (`runs/vae_digits` for the digits experiment), or `runs/<job name>` when the logger names no folder."""
    logger = (config.get("trainer") or {}).get("logger")
    first = logger[0] if isinstance(logger, list) and logger else logger
    args = (first.get("init_args") or {}) if isinstance(first, dict) else {}
    name = args.get("name") or args.get("project")
    if args.get("save_dir") and name:
        return Path(str(args["save_dir"])) / str(name), job_name or str(name)
    name = job_name or "lit_gen"
    return Path("runs") / name, name


def render_run_script(profile, fit_args: list[str], parent: Path, job_name: str, script: Path) -> str:
    fit = ["lit-gen", "fit", *map(q, fit_args), *map(q, profile.trainer_overrides()), "--run_dir", '"$RUN_DIR"']
    ranks = profile.devices * profile.nodes
    body = [
        "# The run directory is named after the job id, which a requeue keeps: the requeued job resumes from the",
        "# hpc_ckpt_*.ckpt saved there (it is trainer.default_root_dir), and the loggers go on writing into it.",
        f'RUN_DIR={q(parent)}/slurm-"${{SLURM_JOB_ID}}"',
        continued(launcher(profile), fit),
    ]
    return render(
        profile,
        title=f"Training run {job_name}: DDP on {ranks} rank(s) ({profile.nodes} node(s) × {profile.devices}).",
        rendered_by="lit-gen submit",
        script=script.resolve(),
        job_name=job_name,
        output=(parent / "slurm-%j.out").resolve(),
        chdir=Path.cwd(),
        body=body,
    )


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    positions = [i for i, arg in enumerate(argv) if arg in SUBCOMMANDS]
    if not positions:
        raise LitGenError(f"nothing to submit: usage: {USAGE}")
    ours, fit_args = argv[: positions[0]], argv[positions[0] + 1:]
    parser = argparse.ArgumentParser(prog="lit-gen submit", usage=USAGE,
                                     description="Submit one training run as a SLURM job (DDP under srun).")
    parser.add_argument("--cluster", required=True, help="cluster profile (slurm/*.yaml)")
    parser.add_argument("--job_name", help="SLURM job name (default: the logger's name)")
    parser.add_argument("--dry_run", action="store_true", help="write and print the script, do not submit")
    return parser.parse_args(ours), fit_args


def main(argv: list[str]) -> None:
    if argv[:1] in (["-h"], ["--help"]):
        print(f"usage: {USAGE}\n\n{__doc__}")
        return
    args, fit_args = parse(argv)
    profile = load_profile(args.cluster)
    parent, job_name = run_location(resolved_config(fit_args), args.job_name)
    parent.mkdir(parents=True, exist_ok=True)  # sbatch opens the log file in it before the job starts
    script = parent / f"{job_name}.sbatch"
    text = render_run_script(profile, fit_args, parent, job_name, script)
    script.write_text(text)
    if args.dry_run:
        print(text, end="")
        print(f"\n# dry run: nothing submitted; the script is {script} (submit it with: sbatch {q(script)})")
        return
    job_id = commands.sbatch(script)
    print(f"Submitted job {job_id}: run directory {parent / f'slurm-{job_id}'}, log {parent / f'slurm-{job_id}.out'}, "
          f"script {script}\n(follow it with `squeue -j {job_id}`, stop it with `scancel {job_id}`)")
