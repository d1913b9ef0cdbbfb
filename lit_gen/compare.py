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
NLL (−E_data log p̂), KL(data ‖ model), KL(model ‖ data), JSD, a GAN's discriminator bound on the JSD, modes
covered and the high-quality fraction (VEEGAN / PacGAN protocol on 2,500 samples; a VAE's samples here are
draws of its density, f(z) + σε, not the decoder means its image callback shows). FID, KID and IS (image
data) and `nll_iw` come from each run's metrics.json. Written to <out_dir>: compare.md (the table), compare.json
(the numbers with their standard errors and provenance), compare.png (every model's samples over the data).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml

from lit_gen.callbacks.divergences import evaluate_divergences, has_exact_density
from lit_gen.checkpoints import resolve_checkpoint
from lit_gen.errors import LitGenError
from lit_gen.loading import load
from lit_gen.metrics.divergences import Estimate, discriminator_jsd_bound
from lit_gen.metrics.mixture import mode_statistics
from lit_gen.models.gan_losses import PROBABILISTIC_LOSSES
from lit_gen.plotting import save_comparison_figure
from lit_gen.provenance import git_commit, versions
from lit_gen.run.record import read_metrics

#: data settings that do not change which examples a split holds
NOT_DATA = {"batch_size", "eval_batch_size", "shuffle_seed", "data_dir", "download", "num_workers"}
#: (column, metric key, how to show it); a column appears when some model has its key
COLUMNS = [
    ("density", "density", "text"),
    ("NLL", "nll", "se"),
    ("KL(data‖model)", "kl_data_model", "se"),
    ("KL(model‖data)", "kl_model_data", "se"),
    ("JSD", "jsd", "se"),
    ("JSD ≥ (D)", "jsd_lower_bound", "se"),
    ("modes", "modes_covered", "modes"),
    ("high quality", "high_quality", "percent"),
    ("nll_iw", "nll_iw", "number"),
    ("FID", "fid", "number"),
    ("KID", "kid", "number"),
    ("IS", "is", "number"),
]
#: samples of the VEEGAN / PacGAN mode-coverage protocol
MODE_SAMPLES = 2500


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


@dataclass
class Entry:
    """One argument: a run directory, or a config that becomes one once trained."""

    argument: str
    label: str
    config: Path | None = None  # set for a config still to train
    run_dir: Path | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def main(argv: list[str]) -> None:
    fit_args: list[str] = []
    if "--" in argv:  # everything after `--` goes to `lit-gen fit`
        cut = argv.index("--")
        argv, fit_args = argv[:cut], argv[cut + 1 :]
    args = parser().parse_args(argv)
    for name in ("num_data", "num_model_samples", "kde_samples", "kde_cv_samples"):
        if getattr(args, name) < 10:
            parser().error(f"--{name} {getattr(args, name)}: need at least 10")
    entries = _entries(args.models)
    check_same_data(entries, fit_args, final=False)  # before any training: a mismatch found now costs nothing
    out_dir = Path(args.out_dir) if args.out_dir else _next_version(Path("runs") / "compare")
    for entry in entries:
        if entry.config is not None:
            entry.run_dir = train(entry.config, out_dir, entry.label, fit_args)
    check_same_data(entries, fit_args, final=True)
    spec = _data_spec_of_run(entries[0].run_dir)
    datamodule = build_datamodule(spec)
    rows = [evaluate(entry, datamodule, args) for entry in entries]
    write_outputs(out_dir, entries, rows, datamodule, spec, args, fit_args)


# --- the arguments ---------------------------------------------------------------------------------------


def _entries(arguments: list[str]) -> list[Entry]:
    entries = []
    for argument in arguments:
        path = Path(argument)
        if not path.exists():
            raise LitGenError(f"{argument} does not exist: give a finished run directory (with config.yaml and "
                              "checkpoints/) or an experiment config (.yaml) to train")
        if path.is_dir():
            if not (path / "config.yaml").is_file():
                raise LitGenError(f"{argument} is not a lit_gen run directory (no config.yaml): give the folder "
                                  "`lit-gen fit` wrote, e.g. runs/<experiment>/version_0")
            resolve_checkpoint(path)  # a run without checkpoints fails now, not after training the others
            label = f"{path.resolve().parent.name}/{path.resolve().name}"
            entries.append(Entry(argument, label, run_dir=path))
        elif path.suffix in (".yaml", ".yml"):
            entries.append(Entry(argument, path.stem, config=path))
        else:
            raise LitGenError(f"{argument} is neither a run directory nor a config (.yaml)")
    seen: dict[str, int] = {}
    for entry in entries:  # labels name output folders and table rows: keep them unique
        seen[entry.label] = seen.get(entry.label, 0) + 1
        if seen[entry.label] > 1:
            entry.label = f"{entry.label}_{seen[entry.label]}"
    return entries


def _next_version(root: Path) -> Path:
    taken = {p.name for p in root.glob("version_*")} if root.is_dir() else set()
    n = 0
    while f"version_{n}" in taken:
        n += 1
    return root / f"version_{n}"


# --- same data -------------------------------------------------------------------------------------------


def _data_spec_of_run(run_dir: Path) -> dict[str, Any]:
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    spec = _normalise(config.get("data"))
    if spec is None:
        raise LitGenError(f"{run_dir}/config.yaml has no data section with a class_path: is it a lit_gen run?")
    return spec


def _data_spec_of_config(config_path: Path, fit_args: list[str]) -> dict[str, Any] | None:
    """The data a config will train on, with the class's defaults and `--data.init_args.KEY VALUE` overrides
    filled in; None when it cannot be told without running LightningCLI (the check after training decides)."""
    try:
        config = yaml.safe_load(config_path.read_text())
    except yaml.YAMLError as error:
        raise LitGenError(f"{config_path} is not valid YAML: {error}") from error
    data = config.get("data") if isinstance(config, dict) else None
    if isinstance(data, str) and (config_path.parent / data).is_file():  # `data: ../data/mixture_ring8.yaml`
        data = yaml.safe_load((config_path.parent / data).read_text())
    overrides = _data_overrides(fit_args)
    if overrides is None or not isinstance(data, dict):
        return None
    return _normalise({**data, "init_args": {**(data.get("init_args") or {}), **overrides}})


def _data_overrides(fit_args: list[str]) -> dict[str, Any] | None:
    """`--data.init_args.KEY VALUE` (or `=VALUE`) pairs among the fit arguments; None if they change the data
    in any other way (`--data FILE`, `--data.class_path …`)."""
    overrides: dict[str, Any] = {}
    prefix = "--data.init_args."
    for i, arg in enumerate(fit_args):
        if arg.startswith(prefix):
            key, has_value, value = arg[len(prefix):].partition("=")
            if not has_value:
                if i + 1 >= len(fit_args):
                    return None
                value = fit_args[i + 1]
            overrides[key] = yaml.safe_load(value)
        elif arg == "--data" or arg.startswith(("--data=", "--data.")):
            return None
    return overrides


def _normalise(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict) or "class_path" not in data:
        return None
    init_args = dict(data.get("init_args") or {})
    try:
        module_name, _, class_name = data["class_path"].rpartition(".")
        cls = getattr(importlib.import_module(module_name), class_name)
        defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
                    if p.default is not inspect.Parameter.empty}
    except (ImportError, AttributeError, ValueError, TypeError):
        return None
    init_args = {**defaults, **init_args}
    return {"class_path": data["class_path"], "init_args": init_args}


def _comparable(spec: dict[str, Any]) -> dict[str, Any]:
    return {"class_path": spec["class_path"],
            **{k: v for k, v in spec["init_args"].items() if k not in NOT_DATA}}


def check_same_data(entries: list[Entry], fit_args: list[str], final: bool) -> None:
    """Every model trained on the same examples and splits. Before training, configs whose data cannot be read
    without LightningCLI are left to the check after training (`final`), which reads every run's config.yaml."""
    specs = []
    for entry in entries:
        if entry.run_dir is not None:
            specs.append((entry, _data_spec_of_run(entry.run_dir)))
        elif not final:
            spec = _data_spec_of_config(entry.config, fit_args)
            if spec is not None:
                specs.append((entry, spec))
    if len(specs) < 2:
        return
    first, reference = specs[0][0], _comparable(specs[0][1])
    for entry, spec in specs[1:]:
        other = _comparable(spec)
        if other != reference:
            keys = sorted(k for k in reference.keys() | other.keys() if reference.get(k) != other.get(k))
            what = "; ".join(f"{k}: {reference.get(k)!r} vs {other.get(k)!r}" for k in keys)
            raise LitGenError(
                f"{first.argument} and {entry.argument} use different data ({what}): compare needs every model "
                "trained on the same data set, split and seeds. Configs take the same data from arguments after "
                "`--` (e.g. `lit-gen compare A.yaml B.yaml -- --data.init_args.num_samples 532000`); a finished "
                "run must be retrained on the other's data"
            )


def build_datamodule(spec: dict[str, Any]):
    module_name, _, class_name = spec["class_path"].rpartition(".")
    try:
        datamodule = getattr(importlib.import_module(module_name), class_name)(**spec["init_args"])
    except (ImportError, AttributeError, TypeError, ValueError) as error:
        raise LitGenError(f"cannot build the data {spec['class_path']}({spec['init_args']}): {error}") from error
    datamodule.setup()
    return datamodule


# --- training a config -----------------------------------------------------------------------------------


def train(config: Path, out_dir: Path, label: str, fit_args: list[str]) -> Path:
    """`lit-gen fit --config CONFIG [fit_args]` in its own process, logging to <out_dir>/runs/<label>."""
    run_dir = out_dir / "runs" / label
    if run_dir.exists():
        raise LitGenError(f"{run_dir} already exists: choose another --out_dir, or pass that run directory "
                          "instead of the config to compare it as it is")
    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger",
              "init_args": {"save_dir": str(out_dir), "name": "runs", "version": label}}
    command = [sys.executable, "-m", "lit_gen.cli", "fit", "--config", str(config), *fit_args,
               "--trainer.logger", json.dumps(logger)]
    shown = shlex.join(["lit-gen", *command[3:]])
    print(f"training {config} into {run_dir}:\n  {shown}", flush=True)
    result = subprocess.run(command)
    if result.returncode != 0:
        raise LitGenError(f"training {config} failed (exit code {result.returncode}; its messages are above): fix it "
                          f"and try again, or run it alone: {shown}")
    if not (run_dir / "metrics.json").is_file():
        raise LitGenError(f"training {config} finished but wrote no {run_dir}/metrics.json")
    return run_dir


# --- the numbers -----------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(entry: Entry, datamodule, args: argparse.Namespace) -> dict[str, Any]:
    """One row: the model's numbers on `args.split`, each an Estimate, a float or a string."""
    model = load(entry.run_dir)
    entry.extra["checkpoint"] = str(resolve_checkpoint(entry.run_dir))
    entry.extra["class"] = type(model).__name__
    saved = _saved_metrics(entry.run_dir)
    row: dict[str, Any] = {}
    split = args.split
    if has_exact_density(datamodule):
        result = evaluate_divergences(model, datamodule, split, args.num_data, args.num_model_samples,
                                      args.kde_samples, args.kde_cv_samples, args.iw_samples, seed=args.seed)
        row.update(result.estimates)
        entry.extra["model_density"] = result.provenance.get("model_density")
        row["density"] = _short_density(result.provenance.get("model_density"))
        samples = result.model_samples
        if samples is not None:
            bound = _discriminator_bound(model, result.data, samples)
            if bound is not None:
                row["jsd_lower_bound"] = bound
            mixture = getattr(datamodule, "mixture", None)
            if mixture is not None:
                stats = mode_statistics(samples[:MODE_SAMPLES], mixture.means, mixture.std)
                row.update(modes_covered=stats.modes_covered, high_quality=stats.high_quality,
                           num_modes=mixture.num_modes)
        entry.extra["samples"] = samples if samples is not None else model.sample(MODE_SAMPLES).cpu()
        entry.extra["data"] = result.data
    else:
        for key in ("nll_iw", "fid", "kid", "is"):
            if f"{split}/{key}" in saved:
                row[key] = saved[f"{split}/{key}"]
        torch.manual_seed(args.seed)
        entry.extra["samples"] = model.sample(64).cpu()
    return row


def _saved_metrics(run_dir: Path) -> dict[str, Any]:
    try:
        return read_metrics(run_dir)["metrics"]
    except (OSError, ValueError, KeyError):
        return {}


def _short_density(density: dict | None) -> str:
    if not density:
        return "—"
    if "bandwidth" in density:
        return f"KDE h={density['bandwidth']:.2g}"
    return f"IWAE k={density.get('importance_samples')}"


def _discriminator_bound(model, data: torch.Tensor, samples: torch.Tensor) -> Estimate | None:
    """A GAN's discriminator bound on the JSD, on the same data points and generator samples as the JSD."""
    if not callable(getattr(model, "critic", None)):
        return None
    if getattr(model, "loss", None) not in PROBABILISTIC_LOSSES or getattr(model, "pack", 1) != 1:
        return None  # D is a probability of one sample only for these losses (as the GAN logs it)
    device = model.device
    real = F.logsigmoid(model.critic(model.prepare(data).to(device))).cpu()
    fake = F.logsigmoid(-model.critic(samples.float().to(device))).cpu()
    return discriminator_jsd_bound(real, fake)


# --- the outputs -----------------------------------------------------------------------------------------


def _cell(row: dict[str, Any], key: str, kind: str) -> str:
    value = row.get(key)
    if value is None:
        return "—"
    if kind == "se":
        return f"{value.value:.4g} ± {value.se:.2g}"
    if kind == "modes":
        return f"{value}/{row.get('num_modes', '?')}"
    if kind == "percent":
        return f"{100 * value:.1f}%"
    if kind == "number":
        return f"{value:.4g}"
    return str(value)


def markdown_table(entries: list[Entry], rows: list[dict[str, Any]]) -> str:
    columns = [(title, key, kind) for title, key, kind in COLUMNS if any(key in row for row in rows)]
    lines = ["| model | class | " + " | ".join(title for title, _, _ in columns) + " |",
             "| --- | --- | " + " | ".join("---" for _ in columns) + " |"]
    for entry, row in zip(entries, rows, strict=True):
        cells = [_cell(row, key, kind) for _, key, kind in columns]
        lines.append(f"| {entry.label} | {entry.extra.get('class', '?')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Estimate):
            out.update(value.as_dict(key))
        else:
            out[key] = value
    return out


def write_outputs(out_dir: Path, entries: list[Entry], rows: list[dict[str, Any]], datamodule,
                  spec: dict[str, Any], args: argparse.Namespace, fit_args: list[str]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    split = args.split
    entropy = next((row["entropy_data"] for row in rows if "entropy_data" in row), None)
    header = [f"{len(entries)} models on {spec['class_path'].rpartition('.')[2]}, {split} split"]
    if entropy is not None:
        n = len(entries[0].extra["data"])
        header.append(f"H(p_data) = {entropy} nats (exact density, {n} {split} points); per example, in nats; "
                      "± one standard error (Monte Carlo only: see the README for each estimate's bias)")
    table = markdown_table(entries, rows)
    (out_dir / "compare.md").write_text("\n\n".join(header) + "\n\n" + table + "\n")

    panels = []
    if "data" in entries[0].extra:
        panels.append((f"data ({split} split)", entries[0].extra["data"]))
    for entry, row in zip(entries, rows, strict=True):
        title = f"{entry.label} ({entry.extra.get('class', '?')})"
        if "kl_data_model" in row:
            title += f"\nKL(d‖m) {row['kl_data_model'].value:.3g}"
            if "jsd" in row:
                title += f", JSD {row['jsd'].value:.3g}"
        panels.append((title, entry.extra["samples"]))
    log_density = datamodule.log_density if has_exact_density(datamodule) else None
    figure = save_comparison_figure(panels, out_dir / "compare.png", log_density)

    content = {
        "split": split,
        "data": spec,
        "entropy_data": None if entropy is None else entropy.as_dict("entropy_data"),
        "settings": {k: getattr(args, k) for k in ("num_data", "num_model_samples", "kde_samples", "kde_cv_samples",
                                                   "iw_samples", "seed")},
        "models": [
            {"label": entry.label, "argument": entry.argument, "run_dir": str(entry.run_dir),
             "trained_here": entry.config is not None, "class": entry.extra.get("class"),
             "checkpoint": entry.extra.get("checkpoint"), "model_density": entry.extra.get("model_density"),
             "metrics": _jsonable({k: v for k, v in row.items() if k != "entropy_data"})}
            for entry, row in zip(entries, rows, strict=True)
        ],
        "fit_args": fit_args,
        "versions": versions(),
        "git_commit": git_commit(),
    }
    (out_dir / "compare.json").write_text(json.dumps(content, indent=2, default=str) + "\n")
    print("\n".join(header) + "\n\n" + table + "\n")
    print(f"Results in {out_dir}: compare.md, compare.json, {figure.name}", flush=True)
