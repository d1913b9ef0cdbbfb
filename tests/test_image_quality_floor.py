"""The floor: FID/KID of one real split against another, scored exactly as a model's samples are."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from lit_gen.errors import LitGenError
from lit_gen.evaluation.image_quality import Settings, evaluate_image_quality, evaluate_real_split
from lit_gen.metrics.backbones import Backbone

pytestmark = pytest.mark.usefixtures("offline_one_thread")
SETTINGS = Settings(num_samples=60, kid_subsets=10, batch_size=16)  # several chunks: their order matters


class PooledBackbone(Backbone):
    """4×4 average-pooled pixels as features (16), and their first 3 as logits: cheap, deterministic."""

    num_features = 16

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        features = torch.nn.functional.adaptive_avg_pool2d(images.float().clamp(0, 1), 4).flatten(1).double()
        return features, features[:, :3]

    def provenance(self) -> dict:
        return {"name": "pooled"}


class Splits:
    """The little a DataModule must offer: its splits' raw grey levels."""

    data_shape, levels = (1, 8, 8), 256

    def __init__(self, **splits: Tensor) -> None:
        self.splits = splits

    def raw_split(self, split: str) -> Tensor:
        return self.splits[split]


def grey_images(count: int, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, 1, 8, 8), generator=generator, dtype=torch.uint8)


class Memorised:
    """A "model" whose samples are given images in order (intensities in [0, 1], as `sample` returns them)."""

    device = torch.device("cpu")

    def __init__(self, images: Tensor) -> None:
        self.images, self.drawn = images, 0

    def sample(self, num: int) -> Tensor:
        self.drawn += num
        return self.images[self.drawn - num : self.drawn]


def test_a_split_against_itself_scores_zero_and_against_a_brighter_copy_does_not():
    test = grey_images(80, seed=0)
    same = evaluate_real_split(PooledBackbone(), Splits(test=test, train=test.clone()), settings=SETTINGS)
    assert abs(same.metrics["fid"]) < 1e-6 and abs(same.metrics["kid"]) < 0.02, same.metrics
    brighter = (test.int() + 60).clamp(max=255).to(torch.uint8)
    shifted = evaluate_real_split(PooledBackbone(), Splits(test=test, train=brighter), settings=SETTINGS)
    assert shifted.metrics["fid"] > 0.1 and shifted.metrics["kid"] > 0.05, shifted.metrics


def test_the_floor_is_the_score_of_a_model_whose_samples_are_the_reference_images():
    """Same backbone, same N (min(num_samples, size of the split)), same scale and KID subsets as a model's score."""
    test, train = grey_images(80, seed=0), grey_images(150, seed=1)
    data = Splits(test=test, train=train)
    floor = evaluate_real_split(PooledBackbone(), data, settings=SETTINGS)
    model = evaluate_image_quality(PooledBackbone(), Memorised(train.float() / 255), data, "test", SETTINGS)
    assert floor.metrics == pytest.approx(model.metrics, rel=1e-9, abs=1e-12)
    assert floor.metrics["fid"] > 0.01  # different images: the equality is no coincidence of zeros
    assert floor.provenance["num_generated"] == floor.provenance["reference"]["num_images"] == 60
    assert floor.provenance["samplers"] == {"fid, kid, is": {"sampler": "the first 60 images of the train split"}}


def test_a_reference_split_smaller_than_n_is_refused_with_the_fix():
    data = Splits(test=grey_images(80, seed=0), train=grey_images(40, seed=1))
    with pytest.raises(LitGenError, match="holds 40 images, fewer than the 60.*num_samples"):
        evaluate_real_split(PooledBackbone(), data, settings=SETTINGS)
