"""Symbolic MXNet networks, selected by name: ``get_symbol('igcv3', num_classes=1000)``.

A library: it needs mxnet and numpy, nothing of the entry points' ``common/``.
Where a concern lives:
- registry.py: the registered networks, one NetworkSpec record each, and their families;
- igcv3.py, mobilenetv2.py, igcv2.py: a family each (its block, stage tables, records);
- builder.py: the one builder (stem, stages, head), layouts, image shapes, get_symbol;
- widths.py: the width rules; layers.py: conv+BN+ReLU6 and the channel permutation;
- forms.py: the graph forms; training_form.py: the CPU training form and the reordering
  of running statistics it needs; inference_form.py: the inference form of a checkpoint;
- precision.py: bfloat16 compute on the CPU, a pass over a built graph.
"""
from .builder import accepted_keywords, get_symbol, parse_image_shape
from .errors import NetworkConfigError, UnknownNetworkError
from .forms import Form
from .registry import get_spec, list_networks
from . import igcv2, igcv3, mobilenetv2  # noqa: F401  (they register their networks)

__all__ = ['get_symbol', 'list_networks', 'get_spec', 'accepted_keywords', 'parse_image_shape',
           'Form', 'NetworkConfigError', 'UnknownNetworkError']
