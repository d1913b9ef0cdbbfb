from lit_gen.callbacks.divergences import Divergences
from lit_gen.callbacks.images import SampleImages
from lit_gen.callbacks.metrics_json import MetricsJson, read_metrics

__all__ = ["Divergences", "MetricsJson", "SampleImages", "read_metrics", "default_callbacks"]


def default_callbacks() -> list:
    """Callbacks every lit_gen run has, whatever its config: metrics.json. (Lightning adds its own progress bar;
    the configurable ones — checkpoint, images, image_quality, divergences — are config sections of the CLI.)"""
    return [MetricsJson()]
