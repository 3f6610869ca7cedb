"""The one exception type for mistakes a user can make (bad flag, path, checkpoint, weights)."""


class UserError(Exception):
    """A user-facing error: the CLIs print its message on one line and exit with status 2."""
