"""`lit-gen sweep report`: PNG plots of a study, and its trials as CSV.

- `history.png`: the metric of every finished trial in order, and the best so far (Optuna's own plot);
- `importances.png`: how much each swept value explains the metric (Optuna's fANOVA importances);
- `slice.png`: the metric against each swept value;
- `tradeoff_<param>.png`: for a swept decoder σ, every trial's best checkpoint: recon, KL, their sum and nll_iw against
  σ — the balance σ sets
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
        with warnings.catch_warnings():
            # the slice plot's trial-number colour bar is an Axes tight_layout leaves where it is, as it should
            warnings.filterwarnings("ignore", "This figure includes Axes that are not compatible with tight_layout")
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


#: the series of the σ trade-off: (metric key, label, colour, marker); recon + KL = −ELBO is drawn as well
TRADEOFF_SERIES = (("val/recon", "recon (−E log p(x|z))", "tab:blue", "o"),
                   ("val/kl", "KL(q(z|x) ‖ p(z))", "tab:red", "s"),
                   ("val/nll_iw", "nll_iw (−log p(x), IWAE)", "tab:green", "D"))


def _tradeoff_plot(trials, path: str, out: Path, plt) -> Path:
    """Every trial's best checkpoint as a point per series against σ on a log axis (a few plain ticks), each
    series' line through the mean at each σ, and recon + KL (−ELBO) stacked on top: the split reads at a glance."""
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

    points = [(float(t.params[path]), t.user_attrs.get("metrics") or {}) for t in trials if path in t.params]
    points.sort(key=lambda point: point[0])  # by σ alone: two trials may share one σ
    figure, axis = plt.subplots(figsize=(7.5, 4.8), layout="constrained")
    for key, label, colour, marker in TRADEOFF_SERIES:
        pairs = [(sigma, m[key]) for sigma, m in points if m.get(key) is not None]
        _series(axis, pairs, label, colour, marker)
    total = [(sigma, m["val/recon"] + m["val/kl"]) for sigma, m in points
             if m.get("val/recon") is not None and m.get("val/kl") is not None]
    _series(axis, total, "recon + KL (−ELBO)", "black", "_", linestyle="--")
    axis.set_xscale("log")
    axis.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=8))
    axis.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.set_xlabel(f"decoder σ ({path}, log scale)")
    axis.set_ylabel("nats per example (validation)")
    axis.set_title(f"What σ trades: reconstruction against KL — {len(points)} trial{'s' * (len(points) != 1)}, "
                   "best checkpoint each",
                   fontsize=10)
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def _series(axis, pairs: list[tuple[float, float]], label: str, colour: str, marker: str, linestyle: str = "-"):
    """Every point, and a line through the mean at each distinct σ."""
    if not pairs:
        return
    axis.scatter([s for s, _ in pairs], [v for _, v in pairs], color=colour, marker=marker, s=22, zorder=3)
    means: dict[float, list[float]] = {}
    for sigma, value in pairs:
        means.setdefault(sigma, []).append(value)
    axis.plot(list(means), [sum(v) / len(v) for v in means.values()], color=colour, linestyle=linestyle,
              marker=marker, markersize=0, label=label)


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
