"""Each use of another library's behaviour that has no public API (lit_gen/compat.py) fails here when upstream
changes. These tests may read Lightning's private names: that is how they notice."""

from __future__ import annotations

import sys

from lit_gen.compat import hpc_checkpoint_path, name_main_module


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
