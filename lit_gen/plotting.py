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
    error: float | None = None,
) -> Path:
    """The learned D(x) beside the optimal D*(x) on a square grid (values (n·n,) over `grid_points`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    side = int(round(len(grid_points) ** 0.5))
    xs, ys = grid_points[:, 0].view(side, side).numpy(), grid_points[:, 1].view(side, side).numpy()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharex=True, sharey=True)
    titles = ["learned D(x)", "optimal D*(x) = p_data / (p_data + p_g)"]
    for ax, values, title in zip(axes, (d, d_star), titles, strict=True):
        mesh = ax.pcolormesh(xs, ys, values.view(side, side).float().numpy(), vmin=0, vmax=1, cmap="RdBu_r",
                             shading="auto")
        ax.scatter(data[:500, 0], data[:500, 1], s=1, c="black", alpha=0.4, linewidths=0, label="data")
        ax.scatter(generated[:500, 0], generated[:500, 1], s=1, c="gold", alpha=0.6, linewidths=0, label="G(z)")
        ax.set(title=title, aspect="equal")
    axes[0].legend(loc="upper right", markerscale=6, fontsize=7)
    fig.colorbar(mesh, ax=axes, shrink=0.85)
    if error is not None:
        fig.suptitle(f"mean |D − D*| under (p_data + p_g)/2 = {error:.3f}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
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
