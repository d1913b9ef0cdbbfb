from lit_gen.callbacks.checkpoint import LatestCheckpoint
from lit_gen.callbacks.divergences import Divergences
from lit_gen.callbacks.images import SampleImages
from lit_gen.callbacks.metrics_history import MetricsHistory
from lit_gen.callbacks.metrics_json import MetricsJson
from lit_gen.run.record import read_metrics

__all__ = ["Divergences", "LatestCheckpoint", "MetricsHistory", "MetricsJson", "SampleImages", "read_metrics",
           "default_callbacks"]


def default_callbacks() -> list:
    """Callbacks every lit_gen run has, whatever its config: metrics.json, `last.ckpt` at every epoch, and the whole
    curve in a resumed run's metrics.csv. (The configurable ones — checkpoint, images, image_quality, divergences —
    are config sections of the CLI.)"""
    return [MetricsJson(), LatestCheckpoint(), MetricsHistory()]
