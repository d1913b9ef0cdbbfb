"""`lit-gen sweep`: run a sweep, and look at it.

    lit-gen sweep run SPEC [--workers N] [--n_trials N] [--storage URL]
    lit-gen sweep status SPEC
    lit-gen sweep best SPEC [--export best.yaml]
    lit-gen sweep report SPEC [--out DIR] [--wandb]
    lit-gen sweep submit SPEC --cluster slurm/PROFILE.yaml [--workers W] [--n_trials N] [--storage URL] [--dry_run]
    lit-gen sweep cancel SPEC
"""

from __future__ import annotations

import argparse
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lit-gen sweep", description="Optuna sweeps of lit_gen experiments.")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument("spec", type=Path, help="the sweep file (sweeps/*.yaml)")
        sub.add_argument("--storage", default=None,
                         help="study storage URL instead of the sweep file's (no password: use PGPASSWORD, "
                              "~/.pgpass or $LIT_GEN_STORAGE)")
        sub.add_argument("--n_trials", type=int, default=None, help="trials to finish (default: the sweep file's)")
        return sub

    run = command("run", "run workers until the study has n_trials COMPLETE + PRUNED trials")
    run.add_argument("--workers", type=int, default=1, help="parallel trials on this machine (default 1)")
    run.add_argument("--launcher", choices=["auto", "forkserver", "subprocess"], default="auto",
                     help="how trial processes start: a preloaded fork server (local default) or a new Python "
                          "process (default under $LIT_GEN_TRIAL_LAUNCHER, e.g. srun)")
    command("status", "trials by state, the best trial, running trials and their age, SLURM jobs")
    best = command("best", "the best trial, and optionally its config")
    best.add_argument("--export", type=Path, default=None, help="write a config that `lit-gen fit --config` re-runs")
    report = command("report", "PNG plots and a CSV of the trials")
    report.add_argument("--out", type=Path, default=None, help="folder (default: <sweep dir>/report)")
    report.add_argument("--wandb", action="store_true", help="also write a W&B summary run with a table of trials")
    submit = command("submit", "submit the sweep's workers as a SLURM job array (--storage and --n_trials go to "
                               "every worker)")
    submit.add_argument("--cluster", type=Path, required=True, help="cluster profile (slurm/*.yaml)")
    submit.add_argument("--workers", type=int, default=1, help="array tasks, each one worker (default 1)")
    submit.add_argument("--dry_run", action="store_true", help="print the sbatch script instead of submitting it")
    command("cancel", "cancel the sweep's SLURM jobs")
    return parser


def main(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    from lit_gen.sweep.spec import load_spec  # here: `lit-gen sweep --help` answers without YAML or jsonargparse

    spec = load_spec(args.spec)
    n_trials = args.n_trials or spec.n_trials
    if args.command == "run":
        from lit_gen.sweep.driver import run_sweep

        code = run_sweep(spec, n_trials=args.n_trials, workers=args.workers, storage=args.storage,
                         launcher_kind=args.launcher)
        raise SystemExit(code)
    if args.command in ("submit", "cancel"):
        from lit_gen.slurm import sweep_jobs

        if args.command == "submit":
            from lit_gen.run.storage import resolve_storage_url
            from lit_gen.slurm.profile import load_profile

            # what `sweep run` would use for --storage (absolute; a password refused), written into every worker
            storage = resolve_storage_url(None, args.storage, spec.sweep_dir) if args.storage else None
            sweep_jobs.submit_sweep(spec.path, spec.sweep_dir, load_profile(args.cluster), args.workers, args.dry_run,
                                    storage=storage, n_trials=args.n_trials)
        else:
            cancelled = sweep_jobs.cancel_sweep(spec.sweep_dir)
            print(f"cancelled {len(cancelled)} job(s): {' '.join(cancelled)}" if cancelled else "no jobs to cancel")
        return

    from lit_gen.sweep.driver import open_study

    study, _ = open_study(spec, args.storage, create=False)
    if args.command == "status":
        from lit_gen.sweep.results import status_text

        print(status_text(study, spec, n_trials))
        if (spec.sweep_dir / "slurm" / "jobs.json").is_file():
            from lit_gen.slurm.commands import format_rows
            from lit_gen.slurm.sweep_jobs import job_states

            print("SLURM jobs:\n" + format_rows(job_states(spec.sweep_dir)))
    elif args.command == "best":
        from lit_gen.sweep.driver import print_best

        print_best(study, spec)
        if args.export:
            from lit_gen.sweep.results import export_best

            print(f"wrote {export_best(study, spec, args.export)}")
    elif args.command == "report":
        from lit_gen.sweep.report import write_report

        out = args.out or spec.sweep_dir / "report"
        for path in write_report(study, spec, out):
            print(f"wrote {path}")
        if args.wandb:
            from lit_gen.sweep.results import trial_rows
            from lit_gen.sweep.wandb_report import write_sweep_summary_run

            run = write_sweep_summary_run(spec.name, trial_rows(study), out, None, None)
            print(f"W&B summary run in {run}")
            if run.name.startswith("offline-run-"):
                print(f"upload it with: wandb sync {run}")
