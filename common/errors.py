"""The error type of mistakes a user can fix (kept free of heavy imports)."""


def reason(err, limit=200):
    """What went wrong, in one short line: the last non-empty line of an error's message
    (MXNet's errors carry a C++ stack before it), or its class name."""
    lines = [l.strip() for l in str(err).splitlines() if l.strip()]
    text = lines[-1] if lines else err.__class__.__name__
    if isinstance(err, OSError) and err.strerror:
        text = err.strerror
    return text[:limit]


class UserError(Exception):
    """A mistake the user can fix; entry points report it as one line, no traceback
    (common.cli.run reports every exception whose class sets ``user_fixable``, the
    network library's NetworkConfigError included), and exit with ``exit_status``."""
    user_fixable = True
    exit_status = 2


class Interrupted(UserError):
    """The run was stopped by a signal before it did all it was asked: exit 128 + signal."""

    def __init__(self, message, signum):
        super(Interrupted, self).__init__(message)
        self.exit_status = 128 + signum
