from lit_gen.callbacks.images import SampleImages
from lit_gen.callbacks.metrics_json import MetricsJson, read_metrics

__all__ = ["MetricsJson", "SampleImages", "read_metrics"]
