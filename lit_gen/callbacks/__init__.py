from lit_gen.callbacks.checkpoint import LatestCheckpoint
from lit_gen.callbacks.divergences import Divergences
from lit_gen.callbacks.images import SampleImages
from lit_gen.callbacks.metrics_history import MetricsHistory
from lit_gen.callbacks.metrics_json import MetricsJson
from lit_gen.callbacks.progress import console_callbacks
from lit_gen.run.record import read_metrics

__all__ = ["Divergences", "LatestCheckpoint", "MetricsHistory", "MetricsJson", "SampleImages", "read_metrics",
           "default_callbacks"]


def default_callbacks() -> list:
    """Callbacks every lit_gen run has, whatever its config: metrics.json, `last.ckpt` at every epoch, the whole
    curve in a resumed run's metrics.csv, and the progress display (`lit_gen.callbacks.progress`: tqdm bars on a
    terminal, one-line epoch summaries in a log). (The configurable ones — checkpoint, images, image_quality,
    divergences — are config sections of the CLI.)"""
    return [MetricsJson(), LatestCheckpoint(), MetricsHistory(), *console_callbacks()]
