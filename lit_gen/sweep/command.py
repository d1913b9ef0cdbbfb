"""`lit-gen sweep`: run a sweep, and look at it.

    lit-gen sweep run SPEC [--workers N] [--n_trials N] [--storage URL]
    lit-gen sweep status SPEC
    lit-gen sweep best SPEC [--export best.yaml|DIR [--full]] [--pick 'val/kl<=20']
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
    command("status", "slots by state (retried attempts listed under their slot), the best trial, running trials "
                      "and their age, SLURM jobs (one line when the controller cannot be reached)")
    best = command("best", "the best trial, and optionally its config")
    best.add_argument("--export", type=Path, default=None, metavar="OUT.yaml",
                      help="write the best trial's config for `lit-gen fit --config OUT.yaml`, as the trial ran "
                           "(its values and the sweep's limits: it reproduces the trial's numbers); for a sweep of "
                           "several metrics, a folder: one config per Pareto trial. The pruning hook is never in it")
    best.add_argument("--full", action="store_true",
                      help="with --export: full training with the trial's values instead: the sweep's trial limits "
                           "(limits.max_epochs, limits.wall_time) removed and the experiment's own "
                           "trainer.max_epochs/max_time back; the sweep's fixed overrides stay")
    best.add_argument("--pick", default=None, metavar="'METRIC<=BOUND'",
                      help="the trial best in the first objective among those that satisfy a constraint on an "
                           "objective or another metric of their metrics.json, e.g. 'val/kl<=20' (with --export: "
                           "its config). Without it, a sweep of several metrics shows its Pareto front and "
                           "--export DIR writes one config per Pareto trial")
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "full", False) and args.export is None:
        parser.error("--full goes with --export OUT.yaml")
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

        print(status_text(study, spec, n_trials), flush=True)  # before SLURM is asked, which may keep us waiting
        if (spec.sweep_dir / "slurm" / "jobs.json").is_file():
            from lit_gen.slurm.sweep_jobs import jobs_text

            print(jobs_text(spec.sweep_dir))
    elif args.command == "best":
        from lit_gen.sweep import export
        from lit_gen.sweep.driver import print_best

        if args.pick:
            from lit_gen.sweep.objectives import pick, values_text
            from lit_gen.sweep.slots import trial_label

            chosen = pick(study, spec, args.pick)
            print(f"picked {trial_label(chosen)} ({args.pick}, best {spec.metric}): {values_text(spec, chosen.values)}")
            if args.export:
                what = f"{trial_label(chosen)} (picked: {args.pick})"
                print(export.export_trial(spec, chosen, args.export, args.full, what,
                                          f"{spec.name}-trial-{chosen.number}").summary())
            return
        print_best(study, spec)
        if args.export and spec.multi_objective:
            for exported in export.export_front(study, spec, args.export, full=args.full):
                print(exported.summary())
        elif args.export:
            print(export.export_best(study, spec, args.export, full=args.full).summary())
    elif args.command == "report":
        from lit_gen.sweep.report import write_report

        out = args.out or spec.sweep_dir / "report"
        for path in write_report(study, spec, out):
            print(f"wrote {path}")
        if args.wandb:
            from lit_gen.sweep.results import trial_rows
            from lit_gen.sweep.wandb_report import write_sweep_summary_run

            front = None
            if spec.multi_objective:
                from lit_gen.sweep.objectives import pareto_trials
                from lit_gen.sweep.wandb_report import pareto_summary

                front = pareto_summary(pareto_trials(study), spec.objectives)
            run = write_sweep_summary_run(spec.name, trial_rows(study), out, None, None, spec.objectives, front)
            print(f"W&B summary run in {run}")
            if run.name.startswith("offline-run-"):
                print(f"upload it with: wandb sync {run}")
