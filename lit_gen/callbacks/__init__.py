from lit_gen.callbacks.checkpoint import LatestCheckpoint
from lit_gen.callbacks.divergences import Divergences
from lit_gen.callbacks.evaluation_record import write_evaluation_provenance
from lit_gen.callbacks.evaluation_time import EvaluationTime
from lit_gen.callbacks.images import SampleImages
from lit_gen.callbacks.metrics_history import MetricsHistory
from lit_gen.callbacks.metrics_json import MetricsJson
from lit_gen.callbacks.mode_coverage import ModeCoverage
from lit_gen.callbacks.optimal_discriminator import DiscriminatorVsOptimal
from lit_gen.callbacks.progress import console_callbacks
from lit_gen.run.record import read_metrics

__all__ = ["DiscriminatorVsOptimal", "Divergences", "LatestCheckpoint", "MetricsHistory", "MetricsJson",
           "ModeCoverage", "SampleImages", "default_callbacks", "read_metrics", "write_evaluation_provenance"]


def default_callbacks() -> list:
    """Callbacks every lit_gen run has, whatever its config: metrics.json, `last.ckpt` at every epoch, the whole
    curve in a resumed run's metrics.csv, the progress display (`lit_gen.callbacks.progress`: tqdm bars on a
    terminal, one-line epoch summaries in a log), and on the 2D mixtures the mode coverage of any model that samples
    and a GAN's D against D* (each does nothing elsewhere, at the protocol's 2,500 samples). (The configurable ones
    — checkpoint, images, image_quality, divergences — are config sections of the CLI.)"""
    return [MetricsJson(), LatestCheckpoint(), MetricsHistory(), *console_callbacks(), ModeCoverage(),
            DiscriminatorVsOptimal(), EvaluationTime()]
