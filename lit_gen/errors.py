"""The exceptions users see: a problem they can fix, stated with the fix."""


class LitGenError(Exception):
    """A user-facing error. The CLI prints its message alone, without a traceback, and exits non-zero."""


class TrainingDiverged(LitGenError):
    """A training loss went NaN or infinite. A sweep records the trial as pruned (its region is bad), not crashed."""
