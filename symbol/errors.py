"""Errors of the network library (no mxnet import here)."""


class NetworkConfigError(ValueError):
    """A network was asked for with arguments it cannot be built with. The message names
    the keyword of ``symbol.get_symbol`` at fault; entry points show it as one line
    (``user_fixable``, see common.cli.run)."""
    user_fixable = True


class UnknownNetworkError(NetworkConfigError):
    """No network is registered under the name asked for."""
