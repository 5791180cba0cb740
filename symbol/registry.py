"""The registered networks, one record each, and the block family each is built from.

A network is data (NetworkSpec: its stage table, group counts, width arithmetic) plus a
family that makes its block. The builder (symbol.builder), tools/summary.py and the
PyTorch twin (common/torch_igcv3.py) all read these records.
"""
from dataclasses import dataclass

from .errors import UnknownNetworkError


@dataclass(frozen=True)
class NetworkSpec:
    """One registered network.

    ``stages`` rows are (t, c, n, s) with ImageNet strides (the CIFAR layout is derived,
    symbol.builder.cifar_strides); ``groups`` the (g1, g2) group counts of the block's two
    1x1 convs where the family has them; ``align`` the multiple every width is rounded
    up to where the family does not derive it (IGCV3: the larger group count);
    ``igcv3_quirks`` upstream's IGCV3 width arithmetic (symbol.widths)."""
    name: str
    family: str
    stages: tuple
    description: str
    groups: tuple = (1, 1)
    align: int = 1
    igcv3_quirks: bool = False


# How the released ImageNet weights (models/NAME-0000.params, which have no model info
# file) are fed: shorter side 256, center crop 224, mean subtraction, no std.
# ImageNet's mean pixel (RGB), which the released weights subtract (and the ImageNet recipe).
IMAGENET_MEAN = (123.68, 116.779, 103.939)
RELEASED_PROTOCOL = {'image_shape': (3, 224, 224), 'mean': IMAGENET_MEAN,
                     'std': (1.0, 1.0, 1.0), 'resize': 256}

# family name -> (make_blocks(spec, form, dtype, **options) -> (block, align, stages),
#                 option names)
_FAMILIES = {}
_SPECS = {}


def register_family(name, options=()):
    """Register ``make_blocks(spec, form, dtype, **options)``, returning the block function
    ``block(data, prefix, in_c, expand_c, out_c, stride, residual)``, the width alignment
    and the stage table (the record's, or as the options change it); ``options`` are the
    extra keywords of get_symbol it takes."""
    def wrap(make_blocks):
        _FAMILIES[name] = (make_blocks, tuple(options))
        return make_blocks
    return wrap


def register(spec):
    key = spec.name.lower()
    if key in _SPECS:
        raise ValueError('network %s registered twice' % spec.name)
    if spec.family not in _FAMILIES:
        raise ValueError('network %s: unknown family %s' % (spec.name, spec.family))
    _SPECS[key] = spec
    return spec


def list_networks():
    return sorted(_SPECS)


def get_spec(network):
    """The NetworkSpec registered as ``network`` (any case)."""
    key = str(network).lower()
    if key not in _SPECS:
        raise UnknownNetworkError("unknown network '%s': choose one of %s"
                                  % (network, ', '.join(list_networks())))
    return _SPECS[key]


def family_of(spec):
    """(make_blocks, option names) of the spec's family."""
    return _FAMILIES[spec.family]
