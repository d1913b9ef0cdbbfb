"""The one exception type users see: a problem they can fix, stated with the fix."""


class LitGenError(Exception):
    """A user-facing error. The CLI prints its message alone, without a traceback, and exits non-zero."""
