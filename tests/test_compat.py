"""Each use of another library's behaviour that has no public API (lit_gen/compat.py) fails here when upstream
changes. These tests may read Lightning's private names: that is how they notice."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from lit_gen.compat import hpc_checkpoint_path, name_main_module

PACKAGE = Path(__file__).resolve().parents[1] / "lit_gen"
#: `obj._name` that is no other library's private: a class's own, and namedtuple's and os's public underscore names
OWN_OR_PUBLIC = re.compile(r"\b(self|cls)\._|\._(exit|replace|asdict|fields|make)\b")


def test_no_other_library_s_private_name_outside_compat():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "compat.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            for match in re.finditer(r"[\w)\]]\._[A-Za-z]\w*", code):
                if not OWN_OR_PUBLIC.search(code[max(0, match.start() - 5):match.end() + 1]):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert not found, "private names outside lit_gen/compat.py:\n" + "\n".join(found)


def test_hpc_checkpoint_name_is_the_one_lightning_resumes_from(tmp_path):
    from lightning.pytorch.trainer.connectors.checkpoint_connector import _CheckpointConnector

    assert hpc_checkpoint_path(tmp_path).name == "hpc_ckpt_1.ckpt"
    for n in (1, 3):
        (tmp_path / f"hpc_ckpt_{n}.ckpt").write_bytes(b"")
    ours = hpc_checkpoint_path(tmp_path)
    assert ours.name == "hpc_ckpt_4.ckpt"
    assert str(ours) == _CheckpointConnector.hpc_save_path(str(tmp_path))  # the name Lightning would save under
    # and the one Lightning's SLURM auto-resume picks in the trainer's root directory: the largest number
    from lightning.pytorch import Trainer

    ours.write_bytes(b"")
    trainer = Trainer(default_root_dir=tmp_path, logger=False, enable_checkpointing=False)
    assert trainer._checkpoint_connector._hpc_resume_path == str(ours)


def test_ddp_ranks_start_as_the_named_module(monkeypatch):
    from lightning.fabric.strategies.launchers.subprocess_script import _basic_subprocess_cmd

    main = sys.modules["__main__"]
    monkeypatch.setattr(main, "__spec__", None, raising=False)
    monkeypatch.setattr(sys, "argv", ["/somewhere/lit-gen", "fit", "--config", "x.yaml"])
    name_main_module("lit_gen.cli")
    assert list(_basic_subprocess_cmd()) == [sys.executable, "-m", "lit_gen.cli", "fit", "--config", "x.yaml"]
