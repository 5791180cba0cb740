"""The one builder: a NetworkSpec -> stem, stages of its family's block, last 1x1 conv,
global average pooling, classifier and softmax, in the form asked for."""
import inspect
import math

import mxnet as mx

from .errors import NetworkConfigError
from .forms import BUILT_FORMS, PAD_MULTIPLE, PADDABLE_FAMILIES, Form
from .layers import CLASSIFIER, FLATTEN, LAST, STEM, block_name, conv_bn
from .precision import bfloat16_graph
from .registry import family_of, get_spec
from .training_form import padded, padded_conv_bn
from .widths import plan_widths


def parse_image_shape(image_shape):
    """'3,224,224' or (3, 224, 224) -> (3, 224, 224)."""
    if isinstance(image_shape, str):
        try:
            shape = tuple(int(v) for v in image_shape.split(','))
        except ValueError:
            raise NetworkConfigError(
                "bad image_shape '%s': give channels,height,width, e.g. 3,224,224" % image_shape)
    else:
        shape = tuple(int(v) for v in image_shape)
    if len(shape) != 3 or min(shape) <= 0:
        raise NetworkConfigError(
            'bad image_shape %s: give channels,height,width, e.g. 3,224,224' % (shape,))
    return shape


def cifar_strides(stages):
    """CIFAR layout of the public ports: the second stage keeps the resolution (the stem
    does too, see build_network), so a 32x32 input ends on a 4x4 map."""
    return [(t, c, n, 1 if i == 1 else s) for i, (t, c, n, s) in enumerate(stages)]


def resolve_layout(layout, image_shape):
    """'imagenet' or 'cifar'; None picks cifar for inputs of at most 64 pixels a side."""
    if layout is None:
        return 'cifar' if max(image_shape[1:]) <= 64 else 'imagenet'
    layout = str(layout).lower()
    if layout not in ('imagenet', 'cifar'):
        raise NetworkConfigError("unknown layout '%s': use imagenet or cifar" % layout)
    return layout


# float16: for GPUs (casts at the ends); bfloat16: for CPUs with AVX512_BF16.
DTYPES = ('float32', 'float16', 'bfloat16')


def build_network(spec, num_classes=1000, multiplier=1.0, image_shape=(3, 224, 224),
                  layout=None, width_rule='upstream', dtype='float32', label_smoothing=0.0,
                  form=Form.RELEASED, **options):
    """The symbol of ``spec`` (a symbol.registry.NetworkSpec).

    ``layout`` 'imagenet' or 'cifar' (default: by input size, resolve_layout); widths from
    ``width_rule`` (symbol.widths); ``dtype`` 'float16' casts the input to float16 and
    ``fc`` back to float32 before the softmax (for GPUs; same parameters), 'bfloat16'
    computes in bfloat16 on the CPU with float32 parameters (symbol.precision);
    ``label_smoothing`` > 0 sets the softmax's smooth_alpha; ``form`` one of
    symbol.forms.BUILT_FORMS; ``options`` the family's own keywords (e.g. IGCV3's g1, g2).
    """
    num_classes, multiplier = int(num_classes), float(multiplier)
    if num_classes < 1:
        raise NetworkConfigError('num_classes must be at least 1, got %d' % num_classes)
    if not (math.isfinite(multiplier) and multiplier > 0):
        raise NetworkConfigError('multiplier must be a positive number, got %g' % multiplier)
    if not 0 <= float(label_smoothing) < 1:
        raise NetworkConfigError('label_smoothing must be in [0, 1), got %g' % label_smoothing)
    if dtype not in DTYPES:
        raise NetworkConfigError("dtype must be one of %s, got '%s'" % (', '.join(DTYPES), dtype))
    if form not in BUILT_FORMS:
        raise NetworkConfigError('form must be one of %s, got %r'
                                 % (', '.join(f.name for f in BUILT_FORMS), form))
    make_blocks, _ = family_of(spec)
    if form is Form.CPU_TRAINING_PADDED and spec.family not in PADDABLE_FAMILIES:
        raise NetworkConfigError('the padded training form is built for the %s families, '
                                 'not %s' % (', '.join(PADDABLE_FAMILIES), spec.family))
    if form is Form.CPU_TRAINING_PADDED and dtype == 'float16':
        raise NetworkConfigError('the padded training form is float32 or bfloat16, not %s'
                                 % dtype)
    if dtype == 'bfloat16':
        return bfloat16_graph(build_network(
            spec, num_classes, multiplier, image_shape, layout, width_rule, 'float32',
            label_smoothing, form, **options))
    block, align, stages = make_blocks(spec, form, dtype, **options)
    image_shape = parse_image_shape(image_shape)
    layout = resolve_layout(layout, image_shape)
    _, height, width = image_shape
    stem_stride = 1 if layout == 'cifar' else 2
    if layout == 'cifar':
        stages = cifar_strides(stages)
    plan = plan_widths(stages, multiplier, width_rule, align, spec.igcv3_quirks)
    widths = [plan.stem, plan.last] + [w for stage in plan.stages
                                       for w in (stage.c, stage.expansion(0))]
    if min(widths) < 1:
        raise NetworkConfigError('multiplier %g leaves layers without channels; use a larger '
                                 'multiplier' % multiplier)
    reduction = stem_stride
    for stage in plan.stages:
        reduction *= stage.s
    if height < reduction or width < reduction:
        raise NetworkConfigError(
            'image shape %s is too small for the %s layout (needs at least %dx%d)'
            % (','.join(str(v) for v in image_shape), layout, reduction, reduction))

    if padded(plan.stem, form) != plan.stem:
        raise NetworkConfigError('the padded training form needs a stem of a multiple of %d '
                                 'channels, not %d' % (PAD_MULTIPLE, plan.stem))
    data = mx.sym.Variable('data')
    if dtype == 'float16':
        data = mx.sym.Cast(data=data, dtype='float16', name='data_fp16')
    body = conv_bn(data, STEM, plan.stem, kernel=3, stride=stem_stride, relu6=True, form=form)
    in_c = plan.stem
    for i, stage in enumerate(plan.stages):
        for j in range(stage.n):
            stride = stage.s if j == 0 else 1
            # Upstream gives every block but a stage's first a shortcut.
            body = block(body, block_name(i, j), in_c, stage.expansion(j), stage.c,
                         stride, j > 0)
            in_c = stage.c
    body = padded_conv_bn(body, LAST, plan.last, in_c, form, relu6=True, pad_out=False)
    pool_kernel = (-(-height // reduction), -(-width // reduction))
    body = mx.sym.Pooling(data=body, kernel=pool_kernel, stride=(1, 1), pool_type='avg',
                          global_pool=True, name='global_pool')
    body = mx.sym.Flatten(data=body, name=FLATTEN)
    fc = mx.sym.FullyConnected(data=body, num_hidden=num_classes, name=CLASSIFIER)
    if dtype == 'float16':
        fc = mx.sym.Cast(data=fc, dtype='float32', name='fc_fp32')
    if label_smoothing:
        return mx.sym.SoftmaxOutput(data=fc, smooth_alpha=float(label_smoothing), name='softmax')
    return mx.sym.SoftmaxOutput(data=fc, name='softmax')


# The keywords every network takes (those of build_network after the spec).
KEYWORDS = tuple(name for name, p in inspect.signature(build_network).parameters.items()
                 if p.kind is p.POSITIONAL_OR_KEYWORD and name != 'spec')


def accepted_keywords(network):
    """Every keyword ``get_symbol(network, ...)`` takes."""
    _, options = family_of(get_spec(network))
    return KEYWORDS + options


def get_symbol(network, **kwargs):
    """Build a registered network (name in any case). An unknown keyword is a
    NetworkConfigError naming it and the accepted ones (a misspelt one must not vanish)."""
    spec = get_spec(network)
    accepted = accepted_keywords(network)
    unknown = sorted(k for k in kwargs if k not in accepted)
    if unknown:
        raise NetworkConfigError('network %s takes no keyword %s; it takes %s'
                                 % (spec.name, ', '.join(unknown), ', '.join(accepted)))
    return build_network(spec, **kwargs)
