from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"

if os.environ.get("PYTEST_XDIST_WORKER"):
    # the workers share the cores: each gets its share of torch threads (as the tests' subprocesses get one, below);
    # more threads than cores make torch's thread pools wait on each other
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    """Run in a fresh directory, so `runs/` and `data/` land in the test's own folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def _few_threads(monkeypatch):
    # tests are small: more threads only add contention on a 2-core CI machine
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    # domain classifiers trained on the fly by a test go to a throwaway cache, not the user's ~/.cache/lit_gen
    monkeypatch.setenv("LIT_GEN_CACHE", str(tmp_path_factory.mktemp("lit_gen_cache")))


@pytest.fixture
def offline_one_thread(monkeypatch, tmp_path):
    """No network, the classifier cache in the test's own folder (`tmp_path / "cache"`, so a test can see whether
    anything was trained), and one torch thread (small tensors; other processes share the cores)."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("LIT_GEN_CACHE", str(tmp_path / "cache"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
