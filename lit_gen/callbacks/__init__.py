from lightning.pytorch.callbacks import TQDMProgressBar

from lit_gen.callbacks.divergences import Divergences
from lit_gen.callbacks.images import SampleImages
from lit_gen.callbacks.metrics_json import MetricsJson, read_metrics

__all__ = ["Divergences", "MetricsJson", "SampleImages", "read_metrics", "default_callbacks"]


def default_callbacks() -> list:
    """Callbacks every lit_gen run has, whatever its config: metrics.json and Lightning's tqdm progress bar. (The
    configurable ones — checkpoint, images, image_quality, divergences — are config sections of the CLI.)"""
    # tqdm named here because Lightning would pick its Rich bar wherever `rich` is installed (import-linter brings
    # it), and the Rich bar redraws from a thread 100 times a second: on a CPU that took ~10% of the conv VAE's
    # training speed (benchmarks/README.md)
    return [MetricsJson(), TQDMProgressBar()]
