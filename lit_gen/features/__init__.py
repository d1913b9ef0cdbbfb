"""The domain classifier: lit_gen's own feature backbone for FID, KID and IS (`lit-gen features`)."""

from lit_gen.features.store import StoredClassifier, check_matches_data, load_classifier, save_classifier

__all__ = ["StoredClassifier", "check_matches_data", "load_classifier", "save_classifier"]
