"""How to read a GAN's closing summary: which generator its numbers describe, and what `jsd_lower_bound` bounds.

With `ema_decay` the model is the EMA generator: every number about its distribution (`jsd`, `jsd_lower_bound`,
modes, FID) describes it, while `value` and `d_star_error` describe the raw generator D is trained against
(`lit_gen.models.gan`). A user who sees `jsd 0.4` beside `jsd_lower_bound 0.0` should not have to read that.
"""

from __future__ import annotations


def gan_readings(metrics: dict[str, float], ema_decay: float | None) -> list[str]:
    """One or two summary lines, only where the run logged a GAN's keys (none for other models)."""
    keys = {key.split("/", 1)[-1] for key in metrics}
    lines = []
    if keys & {"jsd_lower_bound", "value", "d_star_error"}:
        model = f"the EMA generator (ema_decay={ema_decay})" if ema_decay is not None else "the generator"
        game = "; value and d_star_error: the raw generator D is trained against" if ema_decay is not None else ""
        lines.append(f"  these numbers describe {model}{game}")
    if "jsd_lower_bound" in keys:
        lines.append("  jsd_lower_bound: a lower bound on jsd from the trained D, on the same points and samples as "
                     "jsd (loose where D is far from optimal)")
    return lines
