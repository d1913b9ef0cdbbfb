"""Feature-extraction throughput of lit_gen's image-quality backbones on CPU, in images per second.

    python benchmarks/feature_throughput.py [--batch_size 100] [--repeats 3] [--threads N] [--inception_weights F]

Times the forward pass that FID, KID and IS run for every real and generated image: the domain classifier on 8×8
digits (the shipped one) and on 28×28 images (the network `lit-gen features train` builds for MNIST), and
InceptionV3 (torch-fidelity's, as torchmetrics builds it: 8-bit quantisation, TF-style resize to 299×299) on 28×28
grey and 32×32 RGB images. Inception's cost does not depend on its weights: without the weights file the script
uses random ones (saying so), so it runs offline. `--smoke` times a few images only (CI).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from lit_gen.data import DigitsDataModule
from lit_gen.errors import LitGenError
from lit_gen.features.auto import find_or_train
from lit_gen.features.store import StoredClassifier, load_classifier
from lit_gen.metrics.backbones import DomainBackbone, InceptionBackbone, inception_weights
from lit_gen.nets.classifier import DomainClassifier


def images_per_second(backbone, shape: tuple[int, ...], batch_size: int, batches: int, repeats: int) -> float:
    images = torch.rand(batch_size, *shape)
    with torch.no_grad():
        backbone(images[:2])  # warm-up: first-call allocations and kernel selection
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(batches):
                backbone(images)
            rates.append(batch_size * batches / (time.perf_counter() - start))
    return statistics.median(rates)


def untrained_classifier(shape: tuple[int, ...]) -> DomainBackbone:
    network = DomainClassifier(shape, num_classes=10).eval()
    info = {"feature_scale": 1.0, "accuracy": {"test": float("nan")}, "versions": {"lit_gen": "-"},
            "trained_on": {"data": "untrained", "train_fingerprint": "-", "data_shape": list(shape), "levels": 256}}
    return DomainBackbone(StoredClassifier(network, info, Path("-"), "-"))


def random_inception_weights(folder: Path) -> Path:
    """torch-fidelity's InceptionV3 with its random initial weights, saved in the weights file's format."""
    from torch_fidelity import feature_extractor_inceptionv3 as fidelity

    original = fidelity.FeatureExtractorInceptionV3.load_state_dict
    fidelity.FeatureExtractorInceptionV3.load_state_dict = lambda *args, **kwargs: None
    fetch, fidelity.load_state_dict_from_url = fidelity.load_state_dict_from_url, lambda *args, **kwargs: {}
    try:
        network = fidelity.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        fidelity.FeatureExtractorInceptionV3.load_state_dict = original
        fidelity.load_state_dict_from_url = fetch
    path = folder / "random-inception.pth"
    torch.save(network.state_dict(), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch_size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--inception_weights", default=None, help="torch-fidelity's weights file (default: hub cache)")
    parser.add_argument("--smoke", action="store_true", help="a few images per backbone, to check the script runs")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    batch_size, repeats = (4, 1) if args.smoke else (args.batch_size, args.repeats)

    digits = DomainBackbone(load_classifier(find_or_train(DigitsDataModule(), may_train=False)))
    rows = [("domain classifier (shipped, digits)", "1x8x8", digits, 20),
            ("domain classifier (28x28 architecture)", "1x28x28", untrained_classifier((1, 28, 28)), 10)]
    with tempfile.TemporaryDirectory() as folder:
        note = ""
        try:
            weights = inception_weights(args.inception_weights)
        except LitGenError:
            weights, note = random_inception_weights(Path(folder)), " (random weights: no weights file here)"
        try:
            inception = InceptionBackbone(weights)
            rows += [(f"InceptionV3{note}", "1x28x28", inception, 1), (f"InceptionV3{note}", "3x32x32", inception, 1)]
        except (LitGenError, ImportError) as error:
            print(f"InceptionV3 skipped: {error}")

        print(f"CPU, {torch.get_num_threads()} threads, batch {batch_size}, median of {repeats}")
        print(f"{'backbone':<55} {'input':<9} {'images/s':>10}")
        for name, shape, backbone, batches in rows:
            dims = tuple(int(d) for d in shape.split("x"))
            rate = images_per_second(backbone, dims, batch_size, 1 if args.smoke else batches, repeats)
            print(f"{name:<55} {shape:<9} {rate:>10,.0f}")


if __name__ == "__main__":
    main()
