from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


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
