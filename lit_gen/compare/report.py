"""What `lit-gen compare` writes: compare.md (the table), compare.json (numbers, errors, provenance), compare.png."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lit_gen.compare.entries import Entry
from lit_gen.compare.likelihood import bpd_explanation
from lit_gen.evaluation.divergences import has_exact_density
from lit_gen.metrics.divergences import Estimate
from lit_gen.plotting import save_comparison_figure
from lit_gen.provenance import git_commit, versions

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
    ("bpd", "bpd", "number"),
    ("nll_iw (density on ℝ^D)", "nll_iw_continuous", "number"),
    ("FID", "fid", "number"),
    ("KID", "kid", "number"),
    ("IS", "is", "number"),
]


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


def _has_column(key: str, rows: list[dict[str, Any]]) -> bool:
    # the bpd column also holds the notes on likelihoods kept out of it
    return any(key in row or (key == "bpd" and "likelihood_note" in row) for row in rows)


def markdown_table(entries: list[Entry], rows: list[dict[str, Any]]) -> str:
    """The table, then a numbered note for every likelihood kept out of the `bpd` column, saying why."""
    columns = [(title, key, kind) for title, key, kind in COLUMNS if _has_column(key, rows)]
    lines = ["| model | class | " + " | ".join(title for title, _, _ in columns) + " |",
             "| --- | --- | " + " | ".join("---" for _ in columns) + " |"]
    notes = []
    for entry, row in zip(entries, rows, strict=True):
        cells = []
        for _, key, kind in columns:
            if key == "bpd" and "likelihood_note" in row:
                notes.append(f"- Note {len(notes) + 1}. {entry.label}: {row['likelihood_note']}")
                cells.append(f"— (note {len(notes)})")
            else:
                cells.append(_cell(row, key, kind))
        lines.append(f"| {entry.label} | {entry.extra.get('class', '?')} | " + " | ".join(cells) + " |")
    return "\n".join(lines + [""] * bool(notes) + notes)


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
    if any("bpd" in row or "likelihood_note" in row for row in rows):
        header.append(bpd_explanation(datamodule.levels, split))
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
