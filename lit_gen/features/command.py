"""`lit-gen features`: train and store the domain classifier that FID, KID and IS use where Inception does not fit.

    lit-gen features train --data digits --out features/digits.pt [--epochs 30]
    lit-gen features train --data configs/data/mnist.yaml --out features/mnist.pt
    lit-gen features train --data mnist --out ~/.cache/lit_gen/domain_classifiers/   # what `auto` looks for
    lit-gen features show features/digits.pt
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from lit_gen.errors import LitGenError

if TYPE_CHECKING:  # the rest is imported where it is used: `lit-gen features --help` answers without torch
    from lit_gen.data.base import InMemoryDataModule

#: `--data` short names
DATA_SETS = {
    "digits": "lit_gen.data.DigitsDataModule",
    "mnist": "lit_gen.data.MNISTDataModule",
    "fashion_mnist": "lit_gen.data.FashionMNISTDataModule",
    "cifar10": "lit_gen.data.CIFAR10DataModule",
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lit-gen features", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = p.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a domain classifier on a labelled data set and store it")
    train.add_argument("--data", required=True,
                       help=f"{', '.join(DATA_SETS)}, or a data config (YAML with class_path and init_args)")
    train.add_argument("--data_dir", default=None, help="folder of the torchvision sets' files (default: data)")
    train.add_argument("--out", required=True,
                       help="file to write, e.g. features/digits.pt; or a folder (ending in /), where it gets the name "
                            "`image_quality.domain_classifier: auto` looks for (e.g. the cache folder, to fill it on "
                            "a machine with the data for nodes that lack it)")
    train.add_argument("--epochs", type=int, default=None, help="default: enough for ~2,000 steps (2 to 30 epochs)")
    train.add_argument("--batch_size", type=int, default=64)
    train.add_argument("--lr", type=float, default=3e-3, help="peak of a one-cycle schedule")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--base_channels", type=int, default=32)
    train.add_argument("--feature_dim", type=int, default=64, help="size of the feature vectors FID and KID use")
    train.add_argument("--min_accuracy", type=float, default=0.0,
                       help="fail (and write nothing) when the test accuracy is below this")
    show = commands.add_parser("show", help="print what a stored classifier was trained on")
    show.add_argument("path")
    return p


def build_datamodule(data: str, data_dir: str | None = None) -> InMemoryDataModule:
    """A DataModule from a short name or a data config file."""
    import yaml

    if data in DATA_SETS:
        class_path, init_args = DATA_SETS[data], {}
        if data_dir is not None and data != "digits":
            init_args["data_dir"] = data_dir
    elif Path(data).is_file():
        spec = yaml.safe_load(Path(data).read_text())
        if not isinstance(spec, dict) or "class_path" not in spec:
            raise LitGenError(f"{data} is not a data config (expected class_path and init_args, as in configs/data/)")
        class_path, init_args = spec["class_path"], dict(spec.get("init_args") or {})
        if data_dir is not None:
            init_args["data_dir"] = data_dir
    else:
        raise LitGenError(f"--data {data}: give one of {', '.join(DATA_SETS)} or a data config file that exists")
    module_name, _, class_name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        return cls(**init_args)
    except (ImportError, AttributeError, TypeError, ValueError) as error:
        raise LitGenError(f"--data {data}: cannot build {class_path}({init_args}): {error}") from error


def train(args: argparse.Namespace) -> None:
    from lit_gen.features.auto import file_name
    from lit_gen.features.store import save_classifier
    from lit_gen.features.train import train_classifier

    datamodule = build_datamodule(args.data, args.data_dir)
    network, info = train_classifier(datamodule, args.epochs, args.batch_size, args.lr, args.seed,
                                     args.base_channels, args.feature_dim)
    accuracy = info["accuracy"]["test"]
    if accuracy < args.min_accuracy:
        raise LitGenError(f"test accuracy {accuracy:.4f} is below --min_accuracy {args.min_accuracy}: nothing written")
    out = Path(args.out)
    if args.out.endswith(("/", os.sep)) or out.is_dir():
        out = out / file_name(datamodule)
    path = save_classifier(out, network, info)
    print(f"domain classifier for {info['trained_on']['data']} written to {path}: test accuracy {accuracy:.4f} "
          f"({info['training']['epochs']} epochs, {info['training']['seconds']} s)")


def show(args: argparse.Namespace) -> None:
    from lit_gen.features.store import load_classifier

    stored = load_classifier(args.path)
    print(json.dumps({**stored.info, "sha256": stored.sha256}, indent=2, default=str))


def main(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    {"train": train, "show": show}[args.command](args)
