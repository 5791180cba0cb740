"""MobileNetV2 as the IGCV3 authors' MXNet code wrote it (their baseline).

Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", arXiv:1801.04381.
Dense 1x1 convs, ReLU6 after the expansion and the depthwise conv, the t=1 block's
expansion conv kept (the paper drops it), stage depths 1,2,3,4,3,3,1. 3,505,960 parameters
at 224x224 with 1000 classes. Small inputs use the CIFAR layout (see ``symbol.igcv3``).
``width_rule='upstream'`` multiplies each width once with Python 2 rounding and gives
the last conv int(1280*m) filters above 1.0x.
"""
import mxnet as mx

from .forms import Form
from .layers import conv_bn
from .registry import NetworkSpec, register, register_family
from .training_form import padded_conv_bn

# t, c, n, s
MOBILENETV2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenetv2_block(data, prefix, in_channels, expand_channels, out_channels, stride,
                      residual, form=Form.RELEASED):
    # (Form.CPU_TRAINING_PADDED: the input and output carry zero channels, see
    # symbol.training_form.padded.)
    out = padded_conv_bn(data, prefix + '-exp', expand_channels, in_channels, form,
                         relu6=True, pad_out=False)
    out = conv_bn(out, prefix + '-depthwise', expand_channels, kernel=3, stride=stride,
                  num_group=expand_channels, relu6=True, form=form)
    out = padded_conv_bn(out, prefix + '-linear', out_channels, expand_channels, form,
                         pad_in=False)
    if residual:
        out = mx.sym.elemwise_add(data, out, name=prefix + '-shortcut')
    return out


@register_family('mobilenetv2')
def mobilenetv2_blocks(spec, form, dtype):
    def block(*args):
        return mobilenetv2_block(*args, form=form)
    return block, spec.align, spec.stages


register(NetworkSpec('mobilenetv2', 'mobilenetv2', MOBILENETV2,
                     "MobileNetV2 as the IGCV3 authors' code wrote it"))
