"""The pruning benchmark's verdict (`benchmarks/pruning_claim.py`): the two halves of issue 5's claim, and the rate
at which its quality half misses by chance between sweeps run alike."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import pruning_claim  # noqa: E402


def sweep(best: float, trajectory: list[tuple[int, float]]) -> dict:
    """A sweep's figures as `pruning_savings.summarise` gives them."""
    return {"best": best, "epochs_to_best": next(e for e, b in trajectory if b <= best),
            "total_epochs": trajectory[-1][0], "trajectory": trajectory}


def test_epochs_to_reach_counts_until_the_best_so_far_first_reaches_the_value():
    trajectory = [(60, 5.0), (66, 5.0), (126, -3.0), (186, -4.0)]
    assert pruning_claim.epochs_to_reach(trajectory, -3.0) == 126
    assert pruning_claim.epochs_to_reach(trajectory, -3.5) == 186
    assert pruning_claim.epochs_to_reach(trajectory, 10.0) == 60


def test_quality_half_is_one_sided_against_the_larger_standard_error():
    unpruned = [-41.0, -40.0, -39.0]  # mean -40, standard error 1/√3 ≈ 0.577
    met, gap, one_se = pruning_claim.no_worse([-40.5, -39.5, -38.5], unpruned)  # 0.5 worse: within
    assert met and gap == pytest.approx(0.5) and one_se == pytest.approx(1 / math.sqrt(3))
    assert not pruning_claim.no_worse([-40.0, -39.0, -38.0], unpruned)[0]  # 1.0 worse: outside
    assert pruning_claim.no_worse([-45.0, -44.9, -44.8], unpruned)[0]  # far better: passes


def test_report_meets_the_claim_only_with_twice_fewer_epochs_and_no_loss(capsys):
    unpruned = [sweep(-40.0, [(60, -10.0), (120, -40.0), (180, -40.0)]),
                sweep(-41.0, [(60, -41.0), (120, -41.0), (240, -41.0)])]
    # the same bests, reached after 60 and 30 epochs where the unpruned sweeps needed 120 and 60: 90 against 180
    twice_fewer = [sweep(-40.0, [(10, 5.0), (60, -40.0)]), sweep(-41.0, [(30, -41.0)])]
    assert pruning_claim.report(twice_fewer, unpruned)
    assert "2.00× fewer" in capsys.readouterr().out
    slower = [sweep(-40.0, [(100, -40.0)]), sweep(-41.0, [(30, -41.0)])]  # 130 against 180: 1.38×
    assert not pruning_claim.report(slower, unpruned)
    assert "MISSED" in capsys.readouterr().out
    worse = [sweep(-30.0, [(10, -30.0)]), sweep(-31.0, [(10, -31.0)])]  # far fewer epochs, 10 nats behind
    assert not pruning_claim.report(worse, unpruned)
    assert "worse: NO" in capsys.readouterr().out


def test_chance_misses_matches_the_normal_model():
    """Sweeps that differ only by noise: two groups of 3 differ by more than one standard error (the larger of the
    two) in about 22% of draws, the rate a simulation of normal values gives for any group size."""
    bests = list(np.random.default_rng(1).normal(-40.0, 1.3, size=300))
    assert 0.19 < pruning_claim.chance_misses(bests, 3) < 0.25
    assert 0.19 < pruning_claim.chance_misses(bests, 6) < 0.25
    # sweeps that end exactly alike never differ
    assert pruning_claim.chance_misses([-40.0] * 12, 3) == 0.0


def test_chance_misses_needs_two_groups():
    assert math.isnan(pruning_claim.chance_misses([-40.0, -41.0, -39.0, -38.0, -40.5], 3))


def test_share_met_counts_the_groups_of_seeds_that_meet_the_claim():
    """Three seeds where the pruned sweep reaches the same best 4× sooner and one where it is no sooner: a group of
    two meets the claim without the slow seed (4×) and misses it with it (240 against 150 epochs, 1.6×)."""
    bests = [-40.0, -41.0, -39.0, -40.5]
    unpruned = [sweep(b, [(60, 0.0), (120, b)]) for b in bests]
    pruned = [sweep(b, [(30, b)]) for b in bests[:3]] + [sweep(bests[3], [(120, bests[3])])]
    assert pruning_claim.epochs_to_common(pruned, unpruned) == (210, 480)
    assert pruning_claim.share_met(pruned, unpruned, 2) == (0.5, 6)
    assert pruning_claim.share_met(pruned[:3], unpruned[:3], 2) == (1.0, 3)
