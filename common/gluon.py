"""The networks as Gluon HybridBlocks, for users' own Gluon code: the released graph up to
the classifier ``fc`` (logits out, no label input, no softmax), fresh or with a
checkpoint's weights.

    from common.gluon import network_block, checkpoint_block
    net = network_block('igcv3', num_classes=10, image_shape='3,32,32')
    net.initialize(mx.init.Xavier())
    net = checkpoint_block('models/fashion-mnist-igcv3')     # its last epoch
    logits = net(x)                                           # x: (N, C, H, W), normalized

A checkpoint's block takes its input as the checkpoint was trained (its model info:
``block.protocol``, a common.protocol.Protocol: image shape, mean, std, resize).
"""

import mxnet as mx

import symbol

from . import checkpoint, protocol
from .errors import UserError


def _up_to_fc(sym):
    internals = sym.get_internals()
    if 'fc_output' not in internals.list_outputs():
        raise UserError('the graph has no classifier named fc')
    return internals['fc_output']


def _block(sym):
    with_logits = _up_to_fc(sym)
    return mx.gluon.SymbolBlock(outputs=with_logits, inputs=mx.sym.var('data', dtype='float32'))


def network_block(network, **kwargs):
    """A registered network (symbol.get_symbol's name and keywords) as a HybridBlock whose
    parameters are not initialized yet (call ``initialize`` with the weights' initializer:
    BatchNorm's gamma and running variance start at one, beta, biases and running means
    at zero, as Module.init_params starts them)."""
    block = _block(symbol.get_symbol(network, **kwargs))
    for name, param in block.collect_params().items():
        if name.endswith(('gamma', 'moving_var')):
            param.init = mx.init.One()
        elif name.endswith(('beta', 'bias', 'moving_mean')):
            param.init = mx.init.Zero()
    return block


def checkpoint_block(model, epoch=None):
    """A checkpoint (a prefix, a model in models/ named alone, or a registered network's
    released weights) as a HybridBlock holding its weights, on the CPU (``reset_ctx`` to
    move it). ``epoch`` None: the last complete one, as the tools take it."""
    model, epoch = checkpoint.find_model(model, epoch)
    proto = protocol.resolve(model, epoch)
    sym, arg, aux, _ = checkpoint.load_model(model, epoch, proto.image_shape)
    block = _block(sym)
    # Every parameter of the graph up to fc is in the checkpoint (load_model checked the
    # whole graph); the softmax's label is not a parameter of the block.
    block.collect_params().load_dict(dict(arg, **aux), ctx=mx.cpu(), ignore_extra=True)
    block.protocol = proto
    return block
