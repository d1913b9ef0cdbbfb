"""FID, KID and IS against independent computations, and the backbones: domain classifier and Inception (offline)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.datasets import load_digits

from lit_gen.errors import LitGenError
from lit_gen.features.auto import PRETRAINED
from lit_gen.features.store import load_classifier
from lit_gen.metrics.backbones import INCEPTION_WEIGHTS_FILE, DomainBackbone, InceptionBackbone, real_intensities
from lit_gen.metrics.fid import frechet_distance, inception_score, kernel_distance, kid_spread, kid_subset_size
from lit_gen.models.likelihoods import GaussianLikelihood


@pytest.fixture(autouse=True)
def _one_thread():
    # small tensors: a second thread only adds waiting, badly so when other processes share the 2 cores
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def reference_fid(real: np.ndarray, fake: np.ndarray) -> float:
    """FID as pytorch-fid computes it: sample means and covariances, scipy's matrix square root."""
    mu1, mu2 = real.mean(0), fake.mean(0)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    with warnings.catch_warnings():  # dead ReLU units make the covariances singular: sqrtm says so, and copes
        warnings.simplefilter("ignore")
        root = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * root.real))


@pytest.fixture(scope="module")
def digits_backbone() -> DomainBackbone:
    return DomainBackbone(load_classifier(next(PRETRAINED.glob("DigitsDataModule-*.pt"))))


@pytest.fixture(scope="module")
def digit_halves() -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.as_tensor(load_digits().images, dtype=torch.float32).unsqueeze(1)
    images = real_intensities(images, 17)[torch.randperm(len(images), generator=torch.Generator().manual_seed(0))]
    return images[:898], images[898:1796]


def test_fid_equals_a_scipy_reference_on_the_same_features():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(16, 16))
    real = rng.normal(size=(400, 16)) @ mixing
    fake = (rng.normal(size=(300, 16)) * 1.5 + 0.3) @ mixing + rng.normal(size=(1, 16))
    fid = float(frechet_distance(torch.as_tensor(real), torch.as_tensor(fake)))
    assert fid == pytest.approx(reference_fid(real, fake), rel=1e-3)


def test_fid_on_domain_features_equals_the_reference(digits_backbone, digit_halves):
    real, _ = digits_backbone(digit_halves[0])
    fake, _ = digits_backbone(digit_halves[1].roll(1, dims=-1))  # shifted digits: a real but moderate difference
    fid = float(frechet_distance(real, fake))
    assert fid == pytest.approx(reference_fid(real.numpy(), fake.numpy()), rel=1e-3)
    assert fid > 1.0


def test_fid_and_kid_of_two_real_halves_are_far_below_real_against_noise(digits_backbone, digit_halves):
    a, _ = digits_backbone(digit_halves[0])
    b, _ = digits_backbone(digit_halves[1])
    noise, _ = digits_backbone(torch.rand(898, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
    torch.manual_seed(0)
    assert float(frechet_distance(a, b)) < 0.1 * float(frechet_distance(a, noise))
    assert float(kernel_distance(a, b, 500, 20)[0]) < 0.1 * float(kernel_distance(a, noise, 500, 20)[0])


def test_kid_of_identical_sets_is_about_zero(digits_backbone, digit_halves):
    a, _ = digits_backbone(digit_halves[0])
    noise, _ = digits_backbone(torch.rand(898, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
    torch.manual_seed(0)
    same, _ = kernel_distance(a, a, subset_size=200, subsets=50)
    against_noise, _ = kernel_distance(a, noise, subset_size=200, subsets=50)
    assert abs(float(same)) < 0.03 * float(against_noise)


def test_kid_matches_the_unbiased_mmd_with_the_cubic_kernel_when_the_subset_is_everything():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(60, 5)), rng.normal(size=(60, 5)) + 0.5
    k = lambda a, b: (a @ b.T / 5 + 1) ** 3  # noqa: E731
    m = len(x)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    mmd = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
    kid, std = kernel_distance(torch.as_tensor(x), torch.as_tensor(y), subset_size=m, subsets=3)
    assert float(kid) == pytest.approx(mmd, rel=1e-6) and float(std) == pytest.approx(0.0, abs=1e-9)


def test_kid_subset_size_is_at_most_half_the_samples_so_subsets_differ():
    assert kid_subset_size(1000, 297) == 148  # the digits' test split
    assert kid_subset_size(1000, 150) == 75  # and its val split
    assert kid_subset_size(100, 200) == 100
    assert kid_subset_size(1000, 3) == 2
    with pytest.raises(LitGenError, match="at least 2"):
        kid_subset_size(1000, 1)


def test_a_kid_spread_that_estimates_nothing_is_none_not_zero():
    assert kid_spread(0.0, subset_size=60, num_samples=60, subsets=3) is None  # every subset: the whole set
    assert kid_spread(0.1, subset_size=30, num_samples=60, subsets=1) is None  # one subset: no spread
    assert kid_spread(float("nan"), subset_size=30, num_samples=60, subsets=3) is None
    assert kid_spread(0.1, subset_size=30, num_samples=60, subsets=3) == 0.1


def test_kid_spread_at_half_the_samples_is_the_standard_error_over_independent_sets():
    # at subset size N/2 the spread over subsets is the delete-half jackknife's standard error of KID on N samples:
    # it matches the spread of KID over independent sets of N (within 30%)
    rng = np.random.default_rng(2)
    n, d = 200, 4

    def draw():
        return torch.as_tensor(rng.normal(size=(n, d))), torch.as_tensor(rng.normal(size=(n, d)) + 0.3)

    torch.manual_seed(0)
    full_set = [float(kernel_distance(*draw(), subset_size=n, subsets=1)[0]) for _ in range(60)]
    spreads = [float(kernel_distance(*draw(), subset_size=kid_subset_size(n, n), subsets=100)[1]) for _ in range(10)]
    assert np.mean(spreads) == pytest.approx(np.std(full_set), rel=0.3)


def test_real_images_at_their_ideal_dequantised_means_score_as_real_images_once_mapped(digits_backbone):
    # a dequantised Gaussian decoder at its best puts level k at (k + ½)/levels; mapped to the real images' scale
    # k/(levels − 1), those images must score exactly as the real images themselves
    raw = torch.as_tensor(load_digits().images, dtype=torch.float32).unsqueeze(1)
    raw = raw[torch.randperm(len(raw), generator=torch.Generator().manual_seed(0))]
    reference, other = raw[:898], raw[898:1796]
    likelihood = GaussianLikelihood(sigma=0.1, dequantize=True)
    likelihood.bind((1, 8, 8), 17)
    ideal_means = (other + 0.5) / 17
    real, _ = digits_backbone(real_intensities(reference, 17))
    as_real, _ = digits_backbone(real_intensities(other, 17))
    mapped, _ = digits_backbone(likelihood.to_intensities(ideal_means))
    torch.testing.assert_close(likelihood.to_intensities(ideal_means), real_intensities(other, 17))
    assert float(frechet_distance(real, mapped)) == pytest.approx(float(frechet_distance(real, as_real)), rel=1e-6)
    kids = []
    for fake in (mapped, as_real):
        torch.manual_seed(0)
        kids.append(float(kernel_distance(real, fake, 400, 10)[0]))
    assert kids[0] == pytest.approx(kids[1], rel=1e-6, abs=1e-12)
    unmapped, _ = digits_backbone(ideal_means)  # what the VAE's samples were scored as before: a real difference
    torch.manual_seed(0)
    assert float(kernel_distance(real, unmapped, 400, 10)[0]) > 2 * kids[1] + 1e-3


def test_inception_score_runs_from_one_to_the_number_of_classes(digits_backbone, digit_halves):
    confident = torch.full((1000, 10), -30.0).scatter_(1, torch.arange(1000).remainder(10)[:, None], 30.0)
    assert float(inception_score(confident)) == pytest.approx(10.0, rel=1e-4)
    assert float(inception_score(torch.zeros(100, 10).index_fill_(1, torch.tensor([3]), 30.0))) == pytest.approx(1.0)
    _, real_logits = digits_backbone(digit_halves[0])
    _, grey_logits = digits_backbone(torch.full((200, 1, 8, 8), 0.5))
    assert float(inception_score(real_logits)) > 8.5  # recognisable and varied: near the 10 classes
    assert float(inception_score(grey_logits)) < 1.5


# --- Inception: offline, never downloads ------------------------------------------------------------------

@pytest.fixture
def no_download(monkeypatch):
    """Any attempt to fetch weights fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    fidelity = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    monkeypatch.setattr(fidelity, "load_state_dict_from_url", refuse)


def test_missing_inception_weights_name_the_file_and_the_folder(tmp_path, monkeypatch, no_download):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(LitGenError) as error:
        InceptionBackbone()
    message = str(error.value)
    assert INCEPTION_WEIGHTS_FILE in message and str(tmp_path / "torch" / "hub" / "checkpoints") in message
    with pytest.raises(LitGenError, match="nowhere/weights.pth does not exist"):
        InceptionBackbone(str(tmp_path / "nowhere" / "weights.pth"))


def test_inception_without_torch_fidelity_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch_fidelity.feature_extractor_inceptionv3", None)
    with pytest.raises(LitGenError, match=r"pip install 'lit_gen\[inception\]'"):
        InceptionBackbone()


def write_fake_inception_weights(path, monkeypatch) -> None:
    """torch-fidelity's InceptionV3 with random weights (batch norm calibrated on random images so activations
    stay of order 1): the same network and file format as the real weights, without a download."""
    from torch_fidelity import feature_extractor_inceptionv3 as fidelity

    with monkeypatch.context() as patch:
        patch.setattr(fidelity, "load_state_dict_from_url", lambda *args, **kwargs: {})
        patch.setattr(fidelity.FeatureExtractorInceptionV3, "load_state_dict", lambda *args, **kwargs: None)
        torch.manual_seed(0)
        net = fidelity.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = 1.0  # running statistics := this batch's
    with torch.no_grad():
        net.train()(torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)


@pytest.mark.slow
def test_inception_backbone_is_torchmetrics_fid_inception_and_is_found_in_the_hub_cache(tmp_path, monkeypatch,
                                                                                         no_download):
    from torchmetrics.image.fid import FrechetInceptionDistance

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    weights = tmp_path / "torch" / "hub" / "checkpoints" / INCEPTION_WEIGHTS_FILE
    write_fake_inception_weights(weights, monkeypatch)
    ours = InceptionBackbone()  # found in $TORCH_HOME/hub/checkpoints, not downloaded
    assert ours.provenance()["weights"] == str(weights)
    reference = FrechetInceptionDistance(feature=2048, normalize=False, antialias=False,
                                         feature_extractor_weights_path=str(weights))
    generator = torch.Generator().manual_seed(0)
    grey = [torch.randint(0, 256, (5, 1, 12, 12), dtype=torch.uint8, generator=generator) for _ in range(2)]
    with torch.no_grad():
        for images, real in zip(grey, (True, False), strict=True):
            reference.update(images.expand(-1, 3, -1, -1), real=real)  # grey repeated to RGB, as ours does
        features = [ours(images.float() / 255)[0] for images in grey]
        torch.testing.assert_close(features[0].float(), reference.inception(grey[0].expand(-1, 3, -1, -1)))
        ours_fid = frechet_distance(*features)
    assert features[0].abs().mean() > 1e-3  # the calibrated fake weights give non-degenerate features
    assert float(ours_fid) == pytest.approx(float(reference.compute()), rel=1e-3)
