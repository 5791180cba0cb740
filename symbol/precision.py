"""bfloat16 mixed precision on the CPU: a pass over a built float32 graph, as PyTorch's
CPU autocast does it. Parameters stay float32 variables (so do their gradients, the
optimizer's state and checkpoints); each convolution and the classifier take bfloat16
casts of their inputs and weights (oneDNN computes them in bfloat16 on CPUs with
AVX512_BF16) and give bfloat16 activations, which flow on through the operators oneDNN
also runs in bfloat16 (BatchNorm with float32 parameters and statistics, ReLU, clip, the
shortcut's add); every other operator gets its bfloat16 inputs cast back to float32, and so
does every output of the graph. The function is the float32 one up to bfloat16 rounding
(8 bits of mantissa), judged by accuracy, not to the digit.
"""
import json

import mxnet as mx

BF16 = 'bfloat16'
# Computed in bfloat16: every input cast.
COMPUTE_OPS = ('Convolution', 'FullyConnected')
# Carry bfloat16 data when it comes in bfloat16; BatchNorm's other inputs stay float32.
CARRY_OPS = ('BatchNorm', '_contrib_BatchNormWithReLU', 'Activation', 'clip', 'elemwise_add')
NORM_OPS = ('BatchNorm', '_contrib_BatchNormWithReLU')
CAST_OP = 'amp_cast'
FLOAT32_FLAG = '0'  # mx.sym.Variable(dtype='float32')'s __dtype__


def bfloat16_graph(sym):
    """``sym`` (float32) with bfloat16 compute as the module docstring says; same
    arguments, auxiliary states and outputs, by name, shape and (float32) type."""
    graph = json.loads(sym.tojson(remove_amp_cast=False))
    nodes = []
    where = {}      # (old node, output) -> [new node, output]
    in_bf16 = set()  # new (node, output) entries that are bfloat16
    casts = {}

    def add(node):
        nodes.append(node)
        return len(nodes) - 1

    def cast(entry, dtype):
        key = (entry[0], entry[1], dtype)
        if key not in casts:
            source = nodes[entry[0]]['name'] + ('' if entry[1] == 0 else '_%d' % entry[1])
            casts[key] = add({'op': CAST_OP, 'name': '%s_%s' % (source, dtype),
                              'attrs': {'dtype': dtype}, 'inputs': [[entry[0], entry[1], 0]]})
        return [casts[key], 0, 0]

    def as_dtype(entry, dtype):
        bf16 = (entry[0], entry[1]) in in_bf16
        if bf16 == (dtype == BF16):
            return [entry[0], entry[1], 0]
        return cast(entry, dtype)

    for old, node in enumerate(graph['nodes']):
        node = dict(node)
        inputs = [where[(e[0], e[1])] for e in node['inputs']]
        bf16_in = [(e[0], e[1]) in in_bf16 for e in inputs]
        op = node['op']
        out_bf16 = False
        if op in COMPUTE_OPS:
            node['inputs'] = [as_dtype(e, BF16) for e in inputs]
            out_bf16 = True
        elif op in NORM_OPS and bf16_in and bf16_in[0]:
            node['inputs'] = [as_dtype(inputs[0], BF16)] + \
                [as_dtype(e, 'float32') for e in inputs[1:]]
            out_bf16 = True
        elif op in CARRY_OPS and any(bf16_in):
            node['inputs'] = [as_dtype(e, BF16) for e in inputs]
            out_bf16 = True
        else:
            node['inputs'] = [as_dtype(e, 'float32') for e in inputs]
        if op == 'null':  # a variable: float32, stated (a cast alone does not say)
            node['attrs'] = dict(node.get('attrs', {}), __dtype__=FLOAT32_FLAG)
        new = add(node)
        for k in range(_num_outputs(node)):
            where[(old, k)] = [new, k]
        if out_bf16:
            in_bf16.add((new, 0))
    heads = [as_dtype(where[(h[0], h[1])], 'float32') for h in graph['heads']]
    out = {'nodes': nodes, 'arg_nodes': [i for i, n in enumerate(nodes) if n['op'] == 'null'],
           'heads': heads, 'attrs': graph.get('attrs', {})}
    return mx.sym.load_json(json.dumps(out))


def _num_outputs(node):
    """Enough output slots for any operator of the networks (BatchNorm has three,
    SliceChannel num_outputs)."""
    return max(3, int(node.get('attrs', {}).get('num_outputs', 1)))


def is_bfloat16_graph(sym):
    """True when ``sym`` computes in bfloat16 (has this pass's casts)."""
    return any(n['op'] == CAST_OP and n.get('attrs', {}).get('dtype') == BF16
               for n in json.loads(sym.tojson(remove_amp_cast=False))['nodes'])
