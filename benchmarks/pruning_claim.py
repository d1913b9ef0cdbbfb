"""The pruning claim of issue 5, judged on the figures of pairs of σ sweeps (one with the pruner, one without, per
seed): at least 2× fewer epochs to reach the best value, and the pruned sweeps' mean best value no more than one
standard error worse than the unpruned sweeps'.

The quality half compares two means of a few noisy sweeps, so it misses now and then by chance alone: even two
groups of sweeps run exactly alike differ by more than one standard error in about a fifth of draws (under a
normal model, 22% for any number of seeds; the rule does not get stricter or looser with more seeds). `chance_misses`
measures that rate on real sweeps: the unpruned ones, split into two groups again and again, judged by the same
rule. A pruner whose sweeps end exactly as well as unpruned ones misses the claim at least that often in one run;
only sweeps that end better than unpruned ones on average can miss it less often.
"""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np

SAVING = 2.0  # the claim: at least this many times fewer epochs to the best value


def se(values: list[float]) -> float:
    return statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")


def epochs_to_reach(trajectory: list[tuple[int, float]], value: float) -> int:
    """The epochs a sweep had trained when its best so far first reached `value` (lower is better)."""
    return next(trained for trained, best in trajectory if best <= value)


def no_worse(pruned: list[float], unpruned: list[float]) -> tuple[bool, float, float]:
    """The quality half: is the pruned mean best at most one standard error (the larger of the two) worse than the
    unpruned one? Lower is better; a pruned mean that is better passes. Also returns the gap and that error."""
    gap = statistics.mean(pruned) - statistics.mean(unpruned)  # > 0: the pruned sweeps ended worse
    one_se = max(se(pruned), se(unpruned))
    return gap <= one_se, gap, one_se


def chance_misses(bests: list[float], group: int, draws: int = 20000, seed: int = 0) -> float:
    """How often the quality half fails between two disjoint groups of `group` sweeps drawn from `bests`, sweeps run
    alike: the share of `draws` random splits in which the first group's mean is more than one standard error (the
    larger of the two) worse than the second's. NaN with fewer than 2 · group sweeps."""
    if len(bests) < 2 * group or group < 2:
        return math.nan
    values = np.asarray(bests, dtype=float)
    picks = np.argsort(np.random.default_rng(seed).random((draws, len(values))), axis=1)[:, : 2 * group]
    first, second = values[picks[:, :group]], values[picks[:, group:]]
    one_se = np.maximum(first.std(axis=1, ddof=1), second.std(axis=1, ddof=1)) / group**0.5
    return float(np.mean(first.mean(axis=1) - second.mean(axis=1) > one_se))


def common_values(with_p: list[dict], without: list[dict]) -> list[float]:
    """Each seed's common value: the worse of its two sweeps' final bests, a value both reached (`summarise`'s
    dicts, the i-th of each list one seed's pair; lower is better)."""
    return [max(p["best"], n["best"]) for p, n in zip(with_p, without, strict=True)]


def epochs_to_common(with_p: list[dict], without: list[dict]) -> tuple[int, int]:
    """The epochs the pruned and the unpruned sweeps needed, summed over seeds, to reach each seed's common value."""
    common = common_values(with_p, without)
    return (sum(epochs_to_reach(r["trajectory"], v) for r, v in zip(with_p, common, strict=True)),
            sum(epochs_to_reach(r["trajectory"], v) for r, v in zip(without, common, strict=True)))


def halves(with_p: list[dict], without: list[dict]) -> tuple[float, tuple[bool, float, float]]:
    """The claim's two halves for these pairs of sweeps: how many times fewer epochs the pruned sweeps needed to the
    common value, and `no_worse` of their best values."""
    to_common_p, to_common_n = epochs_to_common(with_p, without)
    return to_common_n / to_common_p, no_worse([r["best"] for r in with_p], [r["best"] for r in without])


def met(with_p: list[dict], without: list[dict]) -> bool:
    """Both halves of the claim, for these pairs of sweeps."""
    saving, (quality, _, _) = halves(with_p, without)
    return saving >= SAVING and quality


def share_met(with_p: list[dict], without: list[dict], group: int) -> tuple[float, int]:
    """How often one run of `group` seeds meets the claim, read off many seeds: the share of all groups of `group`
    seed pairs (or of 20,000 drawn at random, when there are more) that meet it, and the number of groups."""
    pairs = list(zip(with_p, without, strict=True))
    groups = list(itertools.islice(itertools.combinations(range(len(pairs)), group), 20001))
    if len(groups) > 20000:
        rng = np.random.default_rng(0)
        groups = [tuple(rng.choice(len(pairs), group, replace=False)) for _ in range(20000)]
    hits = [met([pairs[i][0] for i in g], [pairs[i][1] for i in g]) for g in groups]
    return (sum(hits) / len(hits) if hits else math.nan), len(hits)


def report(with_p: list[dict], without: list[dict]) -> bool:
    """Print the claim's figures for pairs of sweeps (`summarise`'s dicts, the i-th of each list one seed's pair)
    and whether the claim is met."""
    best_p, best_n = [r["best"] for r in with_p], [r["best"] for r in without]
    to_best_p = sum(r["epochs_to_best"] for r in with_p)
    to_best_n = sum(r["epochs_to_best"] for r in without)
    to_common_p, to_common_n = epochs_to_common(with_p, without)
    total_p = sum(r["total_epochs"] for r in with_p)
    total_n = sum(r["total_epochs"] for r in without)
    print(f"best value: pruned {statistics.mean(best_p):.3f} ± {se(best_p):.3f}, "
          f"unpruned {statistics.mean(best_n):.3f} ± {se(best_n):.3f} (mean ± standard error over seeds)")
    common = ", ".join(f"{v:.2f}" for v in common_values(with_p, without))
    print(f"epochs to the common value ({common}): {to_common_p} vs {to_common_n} "
          f"({to_common_n / to_common_p:.2f}× fewer)")
    print(f"epochs to each sweep's own best: {to_best_p} vs {to_best_n} ({to_best_n / to_best_p:.2f}× fewer); "
          f"all epochs: {total_p} vs {total_n} ({total_n / total_p:.2f}× fewer)")
    ratio, (quality, gap, one_se) = halves(with_p, without)
    saving = ratio >= SAVING
    print(f"claim: ≥ {SAVING:g}× fewer epochs to reach the best value: {'met' if saving else 'MISSED'} (to each "
          f"sweep's own best: {'met' if to_best_n / to_best_p >= SAVING else 'missed'}); pruned best no more than "
          f"one standard error worse: {'yes' if quality else 'NO'} (pruned {'worse' if gap > 0 else 'better'} by "
          f"{abs(gap):.2f}, one standard error {one_se:.2f}; within it either way: "
          f"{'yes' if abs(gap) <= one_se else 'no'})")
    return saving and quality
