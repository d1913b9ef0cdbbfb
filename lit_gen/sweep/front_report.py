"""`lit-gen sweep report` for a sweep of several objectives: its Pareto front, seen rather than read.

- `rate_distortion.png`: every COMPLETE trial in the rate–distortion plane (Alemi et al., 2018, "Fixing a Broken
  ELBO"): the rate (KL to the prior, nats) across, the distortion (reconstruction, nats) up, coloured by the decoder
  σ (or the first swept value); the Pareto front joined; lines of equal ELBO (recon + KL = const, slope −1); the
  β = 1 trial starred when the sweep varies β;
- `front_samples.png`: prior samples of a few Pareto trials along the front (their best checkpoints, through
  `lit_gen.load` and the model's `sample`), one row each, so the trade-off shows in the images.
"""

from __future__ import annotations

import math
from pathlib import Path

from lit_gen.sweep.objectives import pareto_trials
from lit_gen.sweep.results import best_run_dir, short_value
from lit_gen.sweep.spec import SweepSpec

SAMPLE_ROWS = 4  # Pareto trials shown, spread along the front
SAMPLES_PER_ROW = 10
SAMPLE_SEED = 0


def plane_axes(spec: SweepSpec) -> tuple[int, int]:
    """Which objectives go across (the rate: a KL) and up (the distortion: a reconstruction); without such names,
    the second objective across and the first up."""
    names = [m.rsplit("/", 1)[-1].lower() for m in spec.objectives]
    across = next((i for i, n in enumerate(names) if "kl" in n or "rate" in n), 1)
    up = next((i for i, n in enumerate(names) if i != across and ("recon" in n or "distortion" in n)),
              0 if across != 0 else 1)
    return across, up


def colour_param(spec: SweepSpec) -> str:
    """The swept value the points are coloured by: the decoder σ, else the first one."""
    return next((p for p in spec.space if p.endswith("sigma")), next(iter(spec.space)))


def write_front_figures(study, spec: SweepSpec, out_dir: Path) -> list[Path]:
    written = [rate_distortion_plot(study, spec, out_dir / "rate_distortion.png")]
    samples = front_samples_plot(study, spec, out_dir / "front_samples.png")
    return written + ([samples] if samples is not None else [])


def rate_distortion_plot(study, spec: SweepSpec, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.ticker import ScalarFormatter
    from optuna.trial import TrialState

    across, up = plane_axes(spec)
    trials = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    front = sorted(pareto_trials(study), key=lambda t: t.values[across])
    x_lim, y_lim = view_limits([t.values[across] for t in front], [t.values[up] for t in front],
                               [t.values[across] for t in trials], [t.values[up] for t in trials])
    above = [t for t in trials if t.values[up] > y_lim[1]]  # far worse than the front: at the edge, marked ▲
    param = colour_param(spec)
    shade = [t.params.get(param) for t in trials]
    figure, axis = plt.subplots(figsize=(7.5, 5.5))
    x = [t.values[across] for t in trials]
    y = [min(t.values[up], y_lim[1]) for t in trials]
    markers = ["^" if t in above else "o" for t in trials]
    if all(isinstance(v, (int, float)) for v in shade):
        log = min(shade) > 0 and spec.space[param].get("log")
        norm = (LogNorm if log else Normalize)(vmin=min(shade), vmax=max(shade) + (max(shade) == min(shade)))
        for marker in set(markers):
            chosen = [i for i, m in enumerate(markers) if m == marker]
            points = axis.scatter([x[i] for i in chosen], [y[i] for i in chosen], c=[shade[i] for i in chosen],
                                  cmap="viridis", norm=norm, s=40, marker=marker, zorder=3, edgecolors="none")
        bar = figure.colorbar(points, ax=axis, label=f"{param.rsplit('.', 1)[-1]} ({param})")
        bar.ax.yaxis.set_major_formatter(ScalarFormatter()), bar.ax.yaxis.set_minor_formatter(ScalarFormatter())
    else:
        axis.scatter(x, y, s=40, zorder=3, label="COMPLETE trials")
    if above:
        axis.scatter([], [], marker="^", color="grey", label=f"{len(above)} trial(s) above the scale (▲ at the edge)")
    axis.plot([t.values[across] for t in front], [t.values[up] for t in front], "-", color="tab:red", lw=1.5,
              zorder=2, label=f"Pareto front ({len(front)} trials)")
    axis.scatter([t.values[across] for t in front], [t.values[up] for t in front], s=100, facecolors="none",
                 edgecolors="tab:red", zorder=4)
    if _are_recon_and_kl(spec, across, up):
        _equal_elbo_lines(axis, x_lim, y_lim)
    beta = next((p for p in spec.space if p.endswith(".beta") or p == "beta"), None)
    if beta is not None:
        unit = min(trials, key=lambda t: abs(math.log(max(float(t.params[beta]), 1e-12))))
        axis.scatter([unit.values[across]], [min(unit.values[up], y_lim[1])], marker="*", s=260, color="gold",
                     edgecolors="k", zorder=5,
                     label=f"β = {short_value(unit.params[beta])} (closest to 1): trial {unit.number}")
    axis.set_xlim(*x_lim), axis.set_ylim(*y_lim)
    axis.set_xlabel(f"rate: {spec.objectives[across]} (nats)")
    axis.set_ylabel(f"distortion: {spec.objectives[up]} (nats)")
    axis.set_title(f"{spec.name}: {len(trials)} trials in the rate–distortion plane")
    axis.legend(fontsize=8, loc="best")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def view_limits(front_x, front_y, all_x, all_y) -> tuple[tuple[float, float], tuple[float, float]]:
    """The box drawn: every trial across; up, the front and the trials within twice its height above it (a
    trial far above, e.g. a tiny σ with a tiny latent space, would squash the front into a line)."""
    low, high = min(front_y), max(front_y)
    ceiling = high + 2 * max(high - low, 1.0)
    shown = [v for v in all_y if v <= ceiling]
    y_low, y_high = min(shown), max(shown)
    x_low, x_high = min(all_x), max(all_x)
    pad_x, pad_y = 0.06 * max(x_high - x_low, 1e-3), 0.06 * max(y_high - y_low, 1e-3)
    return (x_low - pad_x, x_high + pad_x), (y_low - pad_y, y_high + pad_y)


def _are_recon_and_kl(spec: SweepSpec, across: int, up: int) -> bool:
    """Equal-ELBO lines mean something only when the two axes are the ELBO's two terms, in the same units."""
    names = [m.rsplit("/", 1)[-1].lower() for m in spec.objectives]
    return "kl" in names[across] and "recon" in names[up]


def _equal_elbo_lines(axis, x_lim: tuple[float, float], y_lim: tuple[float, float], count: int = 6) -> None:
    """recon + KL = c (the ELBO constant): lines of slope −1, `count` values of c evenly across the box."""
    import numpy as np

    across = np.linspace(*x_lim, 50)
    for index, c in enumerate(np.linspace(x_lim[0] + y_lim[0], x_lim[1] + y_lim[1], count + 2)[1:-1]):
        axis.plot(across, c - across, "--", color="grey", lw=0.8, zorder=1,
                  label="equal ELBO: recon + KL = const" if index == 0 else None)
        inside = across[(c - across >= y_lim[0]) & (c - across <= y_lim[1])]  # label the line where it is seen
        if len(inside):
            middle = inside[len(inside) // 2]
            axis.annotate(f"−ELBO {c:.3g}", (middle, c - middle), fontsize=7, color="grey", rotation=-25)


def front_samples_plot(study, spec: SweepSpec, out: Path) -> Path | None:
    """Prior samples of up to SAMPLE_ROWS Pareto trials spread along the front; None when no checkpoint is here."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from lit_gen.loading import load  # what `lit_gen.load` calls

    across, up = plane_axes(spec)
    front = sorted(pareto_trials(study), key=lambda t: t.values[across])
    if len(front) > SAMPLE_ROWS:
        step = (len(front) - 1) / (SAMPLE_ROWS - 1)
        front = [front[round(i * step)] for i in range(SAMPLE_ROWS)]
    rows = []
    for trial in front:
        run_dir = best_run_dir(trial)
        if run_dir is None or not (Path(run_dir) / "checkpoints").is_dir():
            continue
        model = load(run_dir)
        torch.manual_seed(SAMPLE_SEED)  # the same prior draws for every row
        with torch.no_grad():
            images = model.sample(SAMPLES_PER_ROW).reshape(SAMPLES_PER_ROW, *model.data_shape).clamp(0, 1)
        rows.append((trial, images))
    if not rows:
        print(f"  {out.name}: skipped (no checkpoint of a Pareto trial on this machine)")
        return None
    figure, axes = plt.subplots(len(rows), SAMPLES_PER_ROW, figsize=(SAMPLES_PER_ROW * 0.9, len(rows) * 1.1 + 0.4),
                                squeeze=False)
    param = colour_param(spec)
    for (trial, images), row in zip(rows, axes, strict=True):
        for image, axis in zip(images, row, strict=True):
            picture = image[0] if image.shape[0] == 1 else image.permute(1, 2, 0)
            axis.imshow(picture.numpy(), cmap="gray", vmin=0, vmax=1)
            axis.set_xticks([]), axis.set_yticks([])
        rate = f"{spec.objectives[across].rsplit('/', 1)[-1]} {trial.values[across]:.3g}"
        row[0].set_ylabel(f"trial {trial.number}\n{param.rsplit('.', 1)[-1]}={short_value(trial.params.get(param))}"
                          f"\n{rate}", fontsize=7, rotation=0, ha="right", va="center")
    figure.suptitle("Prior samples along the Pareto front (top: lowest rate)", fontsize=9)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
