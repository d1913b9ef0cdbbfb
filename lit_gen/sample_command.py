"""`lit-gen sample`: draw from a trained model into a PNG (an image grid, or a scatter for 2D data)."""

from __future__ import annotations

import argparse
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lit-gen sample", description=__doc__)
    p.add_argument("--ckpt_path", required=True, help="checkpoint file or run directory")
    p.add_argument("--num", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", default="samples.png", help="output PNG (default samples.png)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the draw (default 0)")
    return p


def main(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    if args.num < 1:
        parser().error(f"--num {args.num}: need at least one sample")
    import torch  # here, not at the top: `lit-gen sample --help` answers without loading torch

    from lit_gen.loading import load
    from lit_gen.plotting import save_samples

    model = load(args.ckpt_path)
    torch.manual_seed(args.seed)
    with torch.no_grad():
        samples = model.sample(args.num)
    out = save_samples(samples, Path(args.out))
    print(f"{args.num} samples written to {out}")
