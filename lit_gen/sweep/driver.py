"""`lit-gen sweep run`: open (or create) the study, check the config once, run N workers until it is done.

The driver owns the study: values are sampled here, once, outside any DDP ranks, and each trial is an ordinary
`lit-gen fit` with those values as overrides. Running the same spec again continues the study (a larger
`--n_trials` extends it); another machine joins by running it against the same storage.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import sys
import threading

from lit_gen.errors import LitGenError
from lit_gen.run.storage import masked, open_storage, resolve_storage_url
from lit_gen.sweep.faults import rdb_heartbeat
from lit_gen.sweep.fit_run import fit_arguments
from lit_gen.sweep.launch import make_launcher
from lit_gen.sweep.results import best_lines
from lit_gen.sweep.slots import slot_counts
from lit_gen.sweep.spec import SweepSpec
from lit_gen.sweep.worker import SweepContext, SweepStopped, Worker, default_worker_id

WORKER_ID_ENV = "LIT_GEN_WORKER_ID"
TRIAL_OVERRIDES_ENV = "LIT_GEN_TRIAL_OVERRIDES"


def open_study(spec: SweepSpec, storage: str | None = None, workers: int = 1, create: bool = True,
               worker_id: str | None = None):
    """The sweep's Optuna study, and its storage URL (see `open_study_and_storage`)."""
    study, _, url = open_study_and_storage(spec, storage, workers, create, worker_id)
    return study, url


def open_study_and_storage(spec: SweepSpec, storage: str | None = None, workers: int = 1, create: bool = True,
                           worker_id: str | None = None):
    """The sweep's Optuna study, the storage object it was opened with, and the storage URL.

    The sampler is seeded with the sweep's `seed` when this driver is the study's only one (a new study and no
    worker id): then the sampled values are reproducible. A driver with a worker id (SLURM array tasks, which
    start together) or one that joins a study with trials salts the seed with its identity, so that two worker
    processes never draw the same sequence of values."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = resolve_storage_url(spec.storage, storage, spec.sweep_dir)
    backend = open_storage(url, workers, rdb_heartbeat(spec.faults))
    if not create:
        try:
            return optuna.load_study(study_name=spec.name, storage=backend, sampler=spec.build_sampler(),
                                     pruner=spec.build_pruner()), backend, url
        except KeyError:
            raise LitGenError(f"no study {spec.name!r} in {masked(url)} yet: start it with `lit-gen sweep run "
                              f"{spec.path}`") from None
    study = optuna.create_study(study_name=spec.name, storage=backend, sampler=spec.build_sampler(),
                                pruner=spec.build_pruner(), directions=spec.objective_directions,
                                load_if_exists=True)
    if worker_id is not None or study.get_trials(deepcopy=False):
        study.sampler = spec.build_sampler(salt=worker_id or default_worker_id())
    found = [d.name.lower() for d in study.directions]
    if found != spec.objective_directions:
        raise LitGenError(f"study {spec.name!r} in {masked(url)} was created to {', '.join(found)}, the sweep file "
                          f"says {', '.join(spec.objective_directions)}: give the sweep another `name`")
    return study, backend, url


def run_sweep(spec: SweepSpec, n_trials: int | None = None, workers: int = 1, storage: str | None = None,
              launcher_kind: str = "auto") -> int:
    """Run workers until the study has `n_trials` COMPLETE + PRUNED trials. Returns the process exit code."""
    if workers < 1:
        raise LitGenError(f"--workers {workers}: at least 1")
    n_trials = n_trials or spec.n_trials
    spec.sweep_dir.mkdir(parents=True, exist_ok=True)
    study, backend, url = open_study_and_storage(spec, storage, workers,
                                                 worker_id=os.environ.get(WORKER_ID_ENV) or None)
    shutil.copyfile(spec.path, spec.sweep_dir / "sweep.yaml")  # what the trials ran with
    if not study.trials:
        for values in spec.enqueue:
            study.enqueue_trial(values)
    launcher = make_launcher(launcher_kind)
    print(f"sweep {spec.name}: {n_trials} trials, {workers} worker(s), storage {masked(url)}, "
          f"runs in {spec.sweep_dir}", flush=True)
    check_config(spec)

    stop = threading.Event()
    on_slurm = bool(os.environ.get(WORKER_ID_ENV)) and bool(os.environ.get("SLURM_JOB_ID"))
    context = SweepContext(
        spec=spec, n_trials=n_trials, study=study, storage=backend, storage_url=url, launcher=launcher,
        threads=_threads_per_trial(workers), stop=stop, requeue_mode=on_slurm,
        extra_args=tuple(shlex.split(os.environ.get(TRIAL_OVERRIDES_ENV, ""))),
    )
    base_id = os.environ.get(WORKER_ID_ENV) or default_worker_id()
    workers_here = [Worker(context, base_id if workers == 1 else f"{base_id}/{i}") for i in range(workers)]
    for worker in workers_here:  # before any worker looks for stale trials: see Worker.keep_own_trials_alive
        worker.keep_own_trials_alive()
    errors: list[BaseException] = []

    def work(worker: Worker) -> None:
        try:
            worker.run()
        except BaseException as error:  # noqa: BLE001 — reported by the main thread
            errors.append(error)
            stop.set()

    stopped_by: list[int] = []

    def on_signal(number, _frame) -> None:
        stopped_by.append(number)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        threads = [threading.Thread(target=work, args=(worker,), daemon=True) for worker in workers_here]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(0.5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    done = slot_counts(study.get_trials(deepcopy=False), spec.faults.max_retries).done
    if stopped_by:
        how = ("handed on as retries, or left RUNNING for this job's requeue when they asked for one" if on_slurm
               else "handed on as retries")
        print(f"sweep {spec.name}: stopped by signal {stopped_by[0]}; {done}/{n_trials} trials done, unfinished "
              f"trials {how}; run the same command again to continue", file=sys.stderr, flush=True)
        return 128 + stopped_by[0]
    if errors:
        error = errors[0]
        if isinstance(error, (SweepStopped, LitGenError)):
            raise error
        raise LitGenError(f"a sweep worker failed: {type(error).__name__}: {error}") from error
    print_best(study, spec)
    return 0


def check_config(spec: SweepSpec) -> None:
    """Parse one trial's full command line before any trial starts: a wrong key or value in the space or the
    overrides then stops the sweep with the parser's own message, instead of crashing every trial."""
    from lit_gen.lightning_cli import check_fit_config

    params = dict(spec.enqueue[0]) if spec.enqueue else {}
    for path, dist in spec.space.items():
        params.setdefault(path, dist["choices"][0] if dist["type"] == "categorical" else dist["low"])
    seed = spec.seeds[0] if spec.seeds else None
    args = fit_arguments(spec, params, seed, spec.sweep_dir / "config_check", None, [])
    try:
        check_fit_config(args[1:])  # without the leading "fit"
    except LitGenError as error:
        raise LitGenError(f"the sweep's trials would not start ({spec.path}): {error}") from None


def print_best(study, spec: SweepSpec) -> None:
    """The end of `sweep run` (and `sweep best`): the best trial by the number that produced it, and what next."""
    lines = best_lines(study, spec)
    if spec.multi_objective and not lines[0].startswith("Pareto front: none"):
        lines.append(f"  export each: lit-gen sweep best {spec.path} --export front/ (or --pick 'METRIC<=BOUND' "
                     "--export pick.yaml)")
    elif lines[0].startswith("best trial"):
        lines.append(f"  train it in full: lit-gen sweep best {spec.path} --export best.yaml --full && "
                     "lit-gen fit --config best.yaml")
    print("\n".join(lines), flush=True)


def _threads_per_trial(workers: int) -> int:
    cpus = int(os.environ.get("SLURM_CPUS_PER_TASK", 0)) or len(os.sched_getaffinity(0))
    return max(1, cpus // workers)
