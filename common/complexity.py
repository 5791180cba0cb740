"""Parameters and multiply-adds of a built symbol, read off its graph (never hand-kept)."""
import json

import numpy as np

# The inputs a classification symbol takes that are data, not parameters.
DATA_INPUTS = ('data', 'softmax_label')


def complexity(sym, image_shape):
    """Counts for one image of ``image_shape`` (C, H, W).

    Returns a dict: ``params`` (learnable arguments), ``aux`` (BatchNorm running values),
    ``macs`` (multiply-adds of every Convolution and FullyConnected), ``conv_params``,
    ``bn_params``, ``fc_params`` and ``ops`` (node count per operator).
    """
    shape = (1,) + tuple(image_shape)
    arg_shapes, _, aux_shapes = sym.infer_shape(data=shape)
    args = dict(zip(sym.list_arguments(), arg_shapes))
    graph = json.loads(sym.tojson())
    nodes = graph['nodes']
    internals = sym.get_internals()
    out_shapes = dict(zip(internals.list_outputs(), internals.infer_shape(data=shape)[1]))

    counts = {'params': 0, 'conv_params': 0, 'bn_params': 0, 'fc_params': 0, 'macs': 0,
              'aux': int(sum(np.prod(s) for s in aux_shapes)), 'ops': {}}
    for name, s in args.items():
        if name not in DATA_INPUTS:
            counts['params'] += int(np.prod(s))
    for node in nodes:
        op = node['op']
        if op == 'null':
            continue
        counts['ops'][op] = counts['ops'].get(op, 0) + 1
        inputs = [nodes[i[0]]['name'] for i in node['inputs']]
        own = sum(int(np.prod(args[n])) for n in inputs[1:] if n in args)
        if op == 'Convolution':
            weight = args[inputs[1]]
            out = out_shapes[node['name'] + '_output']
            counts['macs'] += int(np.prod(out[1:])) * int(np.prod(weight[1:]))
            counts['conv_params'] += own
        elif op == 'FullyConnected':
            counts['macs'] += int(np.prod(args[inputs[1]]))
            counts['fc_params'] += own
        elif op == 'BatchNorm':
            counts['bn_params'] += own
    return counts
