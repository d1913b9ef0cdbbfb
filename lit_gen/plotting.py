"""Pictures of samples: image grids, and 2D scatters over the data's exact density."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor


def save_image_grid(images: Tensor, path: str | Path, nrow: int = 8, min_pixels: int = 32) -> Path:
    """Images (N, C, H, W) with intensities in [0, 1] as one PNG; tiny images are enlarged (nearest) to be seen."""
    from torchvision.utils import save_image

    images = images.detach().float().cpu().clamp(0, 1)
    if images.shape[-1] < min_pixels:
        scale = -(-min_pixels // images.shape[-1])
        images = torch.nn.functional.interpolate(images, scale_factor=scale, mode="nearest")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images, path, nrow=nrow, padding=2, pad_value=1.0)
    return path


def save_scatter_over_density(
    samples: Tensor, path: str | Path, log_density: Callable[[Tensor], Tensor] | None = None,
    title: str = "samples over the data density", extent: float | None = None,
) -> Path:
    """2D samples as dots over the contour of the data's log-density."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = samples.detach().float().cpu()
    reach = extent or float(points.abs().max().clamp(min=1.0)) * 1.15
    fig, ax = plt.subplots(figsize=(5, 5))
    if log_density is not None:
        axis = torch.linspace(-reach, reach, 300)
        xs, ys = torch.meshgrid(axis, axis, indexing="xy")
        density = log_density(torch.stack([xs.flatten(), ys.flatten()], 1)).exp().view(300, 300)
        ax.contourf(xs.numpy(), ys.numpy(), density.numpy(), levels=20, cmap="Blues")
    ax.scatter(points[:, 0], points[:, 1], s=2, c="tab:red", alpha=0.5, linewidths=0)
    ax.set(xlim=(-reach, reach), ylim=(-reach, reach), aspect="equal", title=title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def save_samples(samples: Tensor, path: str | Path, log_density: Callable[[Tensor], Tensor] | None = None) -> Path:
    """A grid for images, a scatter for 2D points."""
    if samples.ndim == 2 and samples.shape[1] == 2:
        return save_scatter_over_density(samples, path, log_density)
    return save_image_grid(samples, path)


def save_discriminator_figure(
    grid_points: Tensor, d: Tensor, d_star: Tensor, path: str | Path, data: Tensor, generated: Tensor,
    error: float | None = None, log_p_data: Tensor | None = None, log_p_g: Tensor | None = None,
    negligible: float = 1e-3,
) -> Path:
    """The learned D(x), the optimal D*(x) and D − D* on a square grid of points (values (n·n,) over
    `grid_points`). D and D* share one colour scale centred on ½, spanning the values they take where there is
    mass and stretched near ½ (`_stretched_near_centre`): near equilibrium D sits close to ½, and a linear [0, 1]
    scale would show a blank panel. Where p_data + p_g is below `negligible` of its maximum, D* is a ratio of two
    tiny KDE tails (noise), so every panel greys it out as "no data"; the data density's contours are on each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    side = int(round(len(grid_points) ** 0.5))
    as_map = lambda values: values.detach().float().cpu().view(side, side).numpy()  # noqa: E731
    xs, ys = as_map(grid_points[:, 0]), as_map(grid_points[:, 1])
    d_map, d_star_map = as_map(d), as_map(d_star)
    mask = np.zeros_like(d_map, dtype=bool)
    if log_p_data is not None and log_p_g is not None:
        mixture = torch.logaddexp(log_p_data.float(), log_p_g.float()).cpu()
        mask = as_map(mixture < mixture.max() + float(np.log(negligible))) > 0.5
    shown = ~mask if (~mask).any() else np.ones_like(mask)
    spread = np.abs(np.concatenate([d_map[shown], d_star_map[shown]]) - 0.5)
    half = float(np.clip(np.quantile(spread, 0.98), 0.05, 0.5))  # at least ±0.05: noise-level D is not a pattern
    difference = d_map - d_star_map
    half_diff = float(np.clip(np.quantile(np.abs(difference[shown]), 0.98), 0.05, 1.0))
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.85")
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.8), sharex=True, sharey=True, layout="constrained")
    panels = [("learned D(x)", d_map, 0.5 - half, 0.5 + half),
              ("optimal D*(x) = p_data / (p_data + p_g)", d_star_map, 0.5 - half, 0.5 + half),
              ("D(x) − D*(x)", difference, -half_diff, half_diff)]
    for ax, (title, values, low, high) in zip(axes, panels, strict=True):
        mesh = ax.pcolormesh(xs, ys, np.ma.masked_array(values, mask), norm=_stretched_near_centre(low, high),
                             cmap=cmap, shading="auto")
        if log_p_data is not None:
            density = as_map(log_p_data.exp())
            ax.contour(xs, ys, density, levels=density.max() * np.array([0.05, 0.5]), colors="black",
                       linewidths=0.7)
        if title.startswith("learned"):
            kept = values[shown]
            ax.text(0.02, 0.98, f"D here: {kept.min():.2f} to {kept.max():.2f}", transform=ax.transAxes, fontsize=8,
                    va="top", bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0})
        ax.scatter(generated[:300, 0], generated[:300, 1], s=2, c="tab:green", alpha=0.7, linewidths=0)
        ax.set(title=title, aspect="equal", xlim=(xs.min(), xs.max()), ylim=(ys.min(), ys.max()))
        if title.startswith("optimal"):
            fig.colorbar(mesh, ax=axes[:2], shrink=0.85, label="D (red: says data, blue: says generated)")
        elif title.startswith("D(x)"):
            fig.colorbar(mesh, ax=axes[2], shrink=0.85, label="D − D*")
    axes[0].plot([], [], color="black", linewidth=0.7, label="p_data contours")
    axes[0].scatter([], [], s=8, c="tab:green", label="G(z) samples")
    axes[0].fill_between([], [], color="0.85", label="no data (p_data + p_g ≈ 0)")
    axes[0].legend(loc="lower left", fontsize=7, framealpha=0.9)
    if error is not None:
        fig.suptitle(f"mean |D − D*| under (p_data + p_g)/2 = {error:.3f}")
    return _save(fig, path)


def _stretched_near_centre(low: float, high: float):
    """A colour norm on [low, high] that spends more colour near the centre (a square root of the distance to it):
    a D within ±0.05 of ½ still shows, beside a D* that reaches 0 and 1, on one scale."""
    import numpy as np
    from matplotlib.colors import FuncNorm

    centre, half = (low + high) / 2, (high - low) / 2
    forward = lambda v: np.sign(v - centre) * np.sqrt(np.abs(v - centre) / half)  # noqa: E731
    inverse = lambda u: centre + np.sign(u) * np.square(u) * half  # noqa: E731
    return FuncNorm((forward, inverse), vmin=low, vmax=high)


def save_reconstruction_grid(originals: Tensor, reconstructions: Tensor, path: str | Path, per_row: int = 8,
                             min_pixels: int = 32) -> Path:
    """Rows of originals, each above the row of their reconstructions, with each row labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from torchvision.utils import make_grid

    rows = []
    for start in range(0, len(originals), per_row):
        rows += [("original", originals[start:start + per_row]),
                 ("reconstruction", reconstructions[start:start + per_row])]
    images = [_enlarged(block, min_pixels) for _, block in rows]
    blocks = [make_grid(block, nrow=per_row, padding=2, pad_value=1.0) for block in images]
    width = max(block.shape[-1] for block in blocks)
    # a wider white gap below each reconstruction row keeps each pair of rows together
    blocks = [torch.nn.functional.pad(block, (0, width - block.shape[-1], 0, 6 * (index % 2)), value=1.0)
              for index, block in enumerate(blocks)]
    picture = torch.cat(blocks, dim=1).permute(1, 2, 0).numpy()
    fig, ax = plt.subplots(figsize=(2 + picture.shape[1] / 60, 0.3 + picture.shape[0] / 60), layout="constrained")
    ax.imshow(picture, interpolation="nearest")
    heights = torch.tensor([0] + [block.shape[1] for block in blocks]).cumsum(0)
    ax.set_yticks(((heights[:-1] + heights[1:]) / 2).tolist(), [label for label, _ in rows], fontsize=8)
    ax.set_xticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("each original above its reconstruction", fontsize=9)
    return _save(fig, path)


def _enlarged(images: Tensor, min_pixels: int) -> Tensor:
    images = images.detach().float().cpu().clamp(0, 1)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    if images.shape[-1] < min_pixels:
        scale = -(-min_pixels // images.shape[-1])
        images = torch.nn.functional.interpolate(images, scale_factor=scale, mode="nearest")
    return images


def _save(fig, path: str | Path) -> Path:
    """A fixed-size PNG (no `bbox_inches="tight"`: constrained layout keeps titles and labels inside)."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_comparison_figure(
    panels: list[tuple[str, Tensor]], path: str | Path, log_density: Callable[[Tensor], Tensor] | None = None,
    max_points: int = 2500,
) -> Path:
    """One panel per (title, samples): 2D points as dots over the contour of the data's density, all panels on the
    same axes limits (so spreads compare at a glance); images (N, C, H, W) in [0, 1] as a grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from torchvision.utils import make_grid

    samples = [s.detach().float().cpu() for _, s in panels]
    two_d = all(s.ndim == 2 and s.shape[1] == 2 for s in samples)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.6), squeeze=False)
    if two_d:
        finite = torch.cat([s[:max_points][torch.isfinite(s[:max_points]).all(1)] for s in samples])
        # a robust reach: a few wild samples should not shrink every panel's picture of the data
        reach = float(finite.abs().quantile(0.995).clamp(min=1.0)) * 1.15 if len(finite) else 1.0
        axis = torch.linspace(-reach, reach, 300)
        xs, ys = torch.meshgrid(axis, axis, indexing="xy")
        density = None
        if log_density is not None:
            density = log_density(torch.stack([xs.flatten(), ys.flatten()], 1)).exp().view(300, 300).float()
    for ax, (title, _), points in zip(axes[0], panels, samples, strict=True):
        if two_d:
            if density is not None:
                ax.contourf(xs.numpy(), ys.numpy(), density.numpy(), levels=20, cmap="Blues")
            shown = points[:max_points]
            ax.scatter(shown[:, 0], shown[:, 1], s=2, c="tab:red", alpha=0.5, linewidths=0)
            ax.set(xlim=(-reach, reach), ylim=(-reach, reach), aspect="equal")
        else:
            grid = make_grid(points[:64].clamp(0, 1), nrow=8, padding=2, pad_value=1.0)
            ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.axis("off")
        ax.set_title(title, fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
