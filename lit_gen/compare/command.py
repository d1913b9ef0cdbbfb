"""`lit-gen compare`: models trained on the same data, side by side in one table and one figure.

    lit-gen compare runs/vae_mixture/version_0 runs/gan_ring8/version_0
    lit-gen compare configs/experiments/vae_mixture.yaml configs/experiments/gan_ring8.yaml -- --trainer.max_epochs 2 \
        --data.init_args.num_samples 532000 --data.init_args.val_size 10000 --data.init_args.test_size 10000
    lit-gen compare RUN_DIR CONFIG --out_dir runs/compare/ring8 --split val

Each argument is a finished run directory (its model is loaded) or an experiment config, which is first trained
by `lit-gen fit` into <out_dir>/runs/<name> (arguments after `--` go to every such `lit-gen fit`). Every model must
have been trained on the same data (the same data class, settings, split and seeds; batch sizes may differ).

On data with an exact density (the 2D mixtures) every number is computed here, for every model alike: the same
evaluated points, sample counts and seed (see `lit_gen.metrics.divergences` for each estimate's bias):
NLL (−E_data log p̂), KL(data ‖ model), KL(model ‖ data), JSD, a GAN's discriminator bound on the JSD (D at the
JSD's own data points and model-side samples, so both describe the same distribution), modes covered and the
high-quality fraction (VEEGAN / PacGAN protocol on 2,500 samples; a VAE's samples here are draws of its density,
f(z) + σε, not the decoder means its image callback shows). Every number describes the distribution the model
samples: a GAN's EMA generator when it has one (its D, trained against the raw generator, still bounds it).
FID, KID and IS (image data) come from each run's metrics.json, and so does `nll_iw`, shown only where it describes
the data's own discrete images, as bits per dimension (a dequantised Gaussian; a Bernoulli's is kept out, with a
note saying why: see `lit_gen.compare.likelihood`). Written to <out_dir>: compare.md (the table), compare.json (the
numbers with their standard errors and provenance), compare.png (every model's samples over the data).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lit-gen compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", metavar="RUN_OR_CONFIG",
                   help="a finished run directory, or an experiment config (.yaml) to train first")
    p.add_argument("--out_dir", default=None, help="where the table and figure go (default runs/compare/version_<n>)")
    p.add_argument("--split", choices=["val", "test"], default="test", help="the split evaluated (default test)")
    p.add_argument("--num_data", type=int, default=2500, help="data points of the split evaluated (default 2500)")
    p.add_argument("--num_model_samples", type=int, default=2500,
                   help="model samples for KL(model ‖ data) and the JSD (default 2500)")
    p.add_argument("--kde_samples", type=int, default=5000,
                   help="samples a KDE is fitted to, for models without a density (default 5000)")
    p.add_argument("--kde_cv_samples", type=int, default=1000,
                   help="of those, how many choose the bandwidth by cross-validation (default 1000)")
    p.add_argument("--iw_samples", type=int, default=None,
                   help="importance samples for models with a density (default: each model's own iw_samples)")
    p.add_argument("--seed", type=int, default=0, help="seed of every model's evaluation (default 0)")
    return p


def main(argv: list[str]) -> None:
    fit_args: list[str] = []
    if "--" in argv:  # everything after `--` goes to `lit-gen fit`
        cut = argv.index("--")
        argv, fit_args = argv[:cut], argv[cut + 1 :]
    args = parser().parse_args(argv)
    # imported here, not at the top: `lit-gen compare --help` answers without loading torch
    from lit_gen.compare.check import build_datamodule, check_same_data, data_spec_of_run
    from lit_gen.compare.entries import entries_of, next_version
    from lit_gen.compare.evaluate import evaluate
    from lit_gen.compare.report import write_outputs
    from lit_gen.compare.train import train

    for name in ("num_data", "num_model_samples", "kde_samples", "kde_cv_samples"):
        if getattr(args, name) < 10:
            parser().error(f"--{name} {getattr(args, name)}: need at least 10")
    entries = entries_of(args.models)
    check_same_data(entries, fit_args, final=False)  # before any training: a mismatch found now costs nothing
    out_dir = Path(args.out_dir) if args.out_dir else next_version(Path("runs") / "compare")
    for entry in entries:
        if entry.config is not None:
            entry.run_dir = train(entry.config, out_dir, entry.label, fit_args)
    check_same_data(entries, fit_args, final=True)
    spec = data_spec_of_run(entries[0].run_dir)
    datamodule = build_datamodule(spec)
    rows = [evaluate(entry, datamodule, args) for entry in entries]
    write_outputs(out_dir, entries, rows, datamodule, spec, args, fit_args)
