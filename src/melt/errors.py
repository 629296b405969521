"""The one exception type for user mistakes.

A `MeltError` is bad input the user can fix: the CLI prints its message on one line,
prefixed with ``melt: error:``, and exits with status 2. Everything else is a bug and keeps
its traceback.
"""


class MeltError(Exception):
    """A user-facing error: one line that names the input and the fix."""
