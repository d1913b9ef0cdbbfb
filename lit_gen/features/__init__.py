"""The domain classifier: lit_gen's own feature backbone for FID, KID and IS (`lit-gen features`)."""

import importlib

__all__ = ["StoredClassifier", "check_matches_data", "load_classifier", "save_classifier"]


def __getattr__(name: str):
    # imported on first use (PEP 562), so `lit-gen features --help` answers without loading torch
    if name not in __all__:
        raise AttributeError(f"module 'lit_gen.features' has no attribute {name!r}")
    return getattr(importlib.import_module("lit_gen.features.store"), name)
