"""`lit-gen sweep report`: PNG plots of a study, and its trials as CSV.

- `history.png`: the metric of every finished trial in order, and the best so far (Optuna's own plot);
- `importances.png`: how much each swept value explains the metric (Optuna's fANOVA importances);
- `slice.png`: the metric against each swept value;
- `tradeoff_<param>.png`: for a swept decoder σ, the best checkpoints' recon and KL against σ — the balance σ sets
  (small σ: sharp reconstructions, a large KL and a poor prior match);
- `rate_distortion.png`, `front_samples.png`: a sweep of several objectives, its Pareto front (front_report.py);
- `trials.csv`: one row per trial: number, state, value(s), attempts, epochs, run directory.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

from lit_gen.errors import LitGenError
from lit_gen.sweep.results import trial_rows
from lit_gen.sweep.spec import SweepSpec


def write_report(study, spec: SweepSpec, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ov
    from optuna.trial import TrialState

    out_dir.mkdir(parents=True, exist_ok=True)
    written = [_write_csv(study, spec, out_dir / "trials.csv")]
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not complete:
        raise LitGenError(f"sweep {spec.name} has no COMPLETE trial yet; trials.csv is in {out_dir}")
    # a study of several objectives: Optuna's single-objective plots of the first one
    first = {"target": (lambda t: t.values[0]) if spec.multi_objective else None, "target_name": spec.metric}
    plots = {"history.png": lambda: ov.plot_optimization_history(study, **first),
             "slice.png": lambda: ov.plot_slice(study, **first)}
    if len(complete) >= 2 and len(spec.space) >= 1:
        plots["importances.png"] = lambda: ov.plot_param_importances(study, **first)
    for name, make in plots.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            try:
                axes = make()
            except (ValueError, RuntimeError) as error:  # e.g. importances with a single distinct value
                print(f"  {name}: skipped ({error})")
                continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        figure.set_size_inches(max(6.0, figure.get_size_inches()[0]), 4.5)
        figure.tight_layout()
        figure.savefig(out_dir / name, dpi=110)
        plt.close(figure)
        written.append(out_dir / name)
    if spec.multi_objective:
        from lit_gen.sweep.front_report import write_front_figures

        written += write_front_figures(study, spec, out_dir)
    for path in spec.space:
        if path.endswith("sigma"):
            written.append(_tradeoff_plot(complete, path, out_dir / f"tradeoff_{path.split('.')[-1]}.png", plt))
    return written


def _tradeoff_plot(trials, path: str, out: Path, plt) -> Path:
    points = sorted((t.params[path], t.user_attrs.get("metrics", {})) for t in trials if path in t.params)
    sigma = [p for p, _ in points]
    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    for key, colour in (("val/recon", "tab:blue"), ("val/kl", "tab:red")):
        values = [m.get(key) for _, m in points]
        if any(v is not None for v in values):
            axis.plot(sigma, values, "o-", color=colour, label=f"{key} (nats)")
    axis.set_xscale("log")
    axis.set_xlabel(f"decoder σ ({path})")
    axis.set_ylabel("nats per example")
    axis.set_title("What σ trades: reconstruction against KL (best checkpoint of each trial)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def _write_csv(study, spec: SweepSpec, out: Path) -> Path:
    rows = trial_rows(study, spec.faults.max_retries)
    params = list(spec.space)
    with open(out, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["number", "root_number", "attempt", "state", *spec.objectives, "value_se", *params,
                         "epochs_reported", "duration_s", "failure", "run_dir"])
        for r in rows:
            attrs = r["user_attrs"]
            writer.writerow([r["number"], r["root_number"], r["attempt"], r["state"],
                             *(r["values"] or [None] * len(spec.objectives)),
                             attrs.get("value_se"), *[r["params"].get(p) for p in params], r["epochs_reported"],
                             round(r["duration"], 1) if r["duration"] is not None else None,
                             r["failure"] or attrs.get("pruned") or attrs.get("diverged"),
                             attrs.get("run_dir")])
    return out
