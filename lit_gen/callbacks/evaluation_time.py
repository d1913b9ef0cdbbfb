"""What evaluation costs a run: the seconds spent validating and testing, printed, and the importance samples k of
each split's `nll_iw`, recorded.

Evaluation should stay small beside the training it measures (issue 22: an IWAE with k = 200 over the validation
split after every epoch once took many times the training steps). So a run says how long it spent evaluating —
validation loops during fit (with the FID/KID of the epochs that compute them, which happen inside the loop), then
the final validation and test of the best checkpoint — out of its whole time, on stderr beside the epoch lines:

    evaluation during fit took 4.1 s of 31.0 s
    evaluation took 9.8 s of 36.7 s (final validation and test of the best checkpoint: 5.7 s)

The one-off work of `setup` (e.g. training a domain classifier on first use) is in neither figure's evaluation
part. Because an IWAE bound with small k is looser than with large k, each split's k goes to metrics.json's
`meta.iw_samples` (e.g. `{"val": 10, "test": 100}`) for models that say it (`iw_samples_for(split)`), so that
figures at different k are not compared unawares. The seconds go to `meta.timing.evaluation_seconds`.
"""

from __future__ import annotations

import sys
import time

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn

from lit_gen.callbacks.evaluation_record import write_evaluation_provenance


class EvaluationTime(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0  # evaluating, since the fit started (or this callback's first run without one)
        self.fit_seconds: float | None = None  # evaluating during fit, once the fit is over
        self._run_started: float | None = None
        self._loop_started: float | None = None

    # --- timing: every validation loop (sanity check included) and every test loop -------------------------

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self._run_started is None or stage == "fit":
            self._run_started, self.seconds, self.fit_seconds = time.perf_counter(), 0.0, None

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._loop_started = time.perf_counter()

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._loop_started = time.perf_counter()

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._stop()
        if trainer.state.fn == TrainerFn.VALIDATING and not trainer.sanity_checking:
            self._record_iw_samples(trainer, pl_module, "val")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._stop()
        self._record_iw_samples(trainer, pl_module, "test")

    def _stop(self) -> None:
        if self._loop_started is not None:
            self.seconds += time.perf_counter() - self._loop_started
            self._loop_started = None

    # --- reporting ---------------------------------------------------------------------------------------

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self._run_started is None:
            return
        total = time.perf_counter() - self._run_started
        if stage == "fit":
            self.fit_seconds = self.seconds
            line = f"evaluation during fit took {self.seconds:.1f} s of {total:.1f} s"
        elif stage == "test" and self.fit_seconds is not None:  # the end of `lit-gen fit`: its final evaluation
            final = self.seconds - self.fit_seconds
            line = (f"evaluation took {self.seconds:.1f} s of {total:.1f} s (final validation and test of the best "
                    f"checkpoint: {final:.1f} s)")
            _record_seconds(trainer, self.seconds)  # on every rank: rank 0 writes
        else:
            return
        if trainer.is_global_zero:
            print(line, file=sys.stderr, flush=True)

    def _record_iw_samples(self, trainer: Trainer, pl_module: LightningModule, split: str) -> None:
        iw_samples_for = getattr(pl_module, "iw_samples_for", None)
        if callable(iw_samples_for):
            write_evaluation_provenance(trainer, split, {"iw_samples": int(iw_samples_for(split))})


def _record_seconds(trainer: Trainer, seconds: float) -> None:
    from lit_gen.callbacks.metrics_json import MetricsJson, record_meta

    if any(isinstance(callback, MetricsJson) for callback in trainer.callbacks):
        record_meta(trainer, {"timing": {"evaluation_seconds": round(seconds, 3)}})
