"""The error type of mistakes a user can fix (kept free of heavy imports)."""


class UserError(Exception):
    """A mistake the user can fix; entry points report it as one line, no traceback
    (common.cli.run reports every exception whose class sets ``user_fixable``, the
    network library's NetworkConfigError included)."""
    user_fixable = True
