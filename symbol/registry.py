"""Name -> builder registry behind ``symbol.get_symbol``."""
from .common import NetworkConfigError

_BUILDERS = {}


class UnknownNetworkError(NetworkConfigError):
    pass


def register(name):
    """Register ``builder(**kwargs) -> Symbol`` under ``name`` (case-insensitive)."""
    def wrap(builder):
        key = name.lower()
        if key in _BUILDERS:
            raise ValueError('network %s registered twice' % name)
        _BUILDERS[key] = builder
        return builder
    return wrap


def list_networks():
    return sorted(_BUILDERS)


def get_symbol(network, **kwargs):
    """Build a registered network; keys a builder does not use are ignored."""
    key = str(network).lower()
    if key not in _BUILDERS:
        raise UnknownNetworkError("unknown network '%s': choose one of %s"
                                  % (network, ', '.join(list_networks())))
    return _BUILDERS[key](**kwargs)
