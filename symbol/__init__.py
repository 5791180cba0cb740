"""Symbolic MXNet networks, selected by name: ``get_symbol('igcv3', num_classes=1000)``."""
from .common import NetworkConfigError
from .registry import UnknownNetworkError, get_symbol, list_networks
from . import igcv2, igcv3, mobilenetv2  # noqa: F401  (they register their networks)

__all__ = ['get_symbol', 'list_networks', 'NetworkConfigError', 'UnknownNetworkError']
