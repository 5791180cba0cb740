"""The inference form of a checkpoint (symbol.forms.Form.INFERENCE): the same function,
computed faster on the CPU.

A rewrite of the graph (any checkpoint's, the released one included) and its parameters:
- every channel permutation (reshape, swapaxes, reshape) that follows conv -> BatchNorm
  [-> clip/Activation] is folded away: the conv's output rows and BatchNorm's parameters
  and running statistics are permuted instead, once, so the activations are never
  copied (the copies are a large part of IGCV3's CPU inference time). A grouped
  conv's permuted rows are no longer grouped, so that conv becomes a dense 1x1 conv whose
  weight is the block-diagonal matrix of the grouped one;
- for INT8 (``all_dense``), every grouped 1x1 conv becomes dense: oneDNN quantizes its
  grouped kernels badly (tools/quantize.py). In FP32 the others stay grouped, which is
  faster (docs/speed.md).
Used by score.py, predict.py and tools/benchmark.py through
common.inference.bind_for_inference (fused=True), and by tools/quantize.py before INT8
calibration.
"""
import json
import logging

import mxnet as mx

from .training_form import dense_weight, interleave_order

# Ops between a BatchNorm and a permutation that act on each element alone.
ELEMENTWISE = ('clip', 'Activation')


def _is_variable(nodes, entry, params):
    node = nodes[entry[0]]
    return node['op'] == 'null' and node['name'] in params


def dense_grouped_1x1(graph, arg, only=None):
    """In place on a symbol's JSON dict and ``arg``: grouped 1x1 convs (depthwise ones
    excepted; with ``only``, those node indices alone) made dense with their
    block-diagonal weights. Returns how many."""
    nodes, count = graph['nodes'], 0
    for i, node in enumerate(nodes):
        if only is not None and i not in only:
            continue
        attrs = node.get('attrs', {})
        groups = int(attrs.get('num_group', '1'))
        if node['op'] != 'Convolution' or groups == 1 or attrs.get('kernel') != '(1, 1)' \
                or not _is_variable(nodes, node['inputs'][1], arg):
            continue
        name = nodes[node['inputs'][1][0]]['name']
        out_c, in_per_group = arg[name].shape[:2]
        if out_c == groups and in_per_group == 1:
            continue  # depthwise 1x1: nothing to gain
        arg[name] = dense_weight(arg[name], groups)
        attrs['num_group'] = '1'
        count += 1
    return count


def _permutation_groups(nodes, merge):
    """G if node ``merge`` ends a channel permutation of G groups (as layers.
    channel_permutation and the released graph write it), else None."""
    if merge['op'] != 'Reshape' or merge.get('attrs', {}).get('shape') != '(0, -3, -2)':
        return None
    swap = nodes[merge['inputs'][0][0]]
    if swap['op'] != 'SwapAxis' or swap.get('attrs', {}) != {'dim1': '1', 'dim2': '2'}:
        return None
    split = nodes[swap['inputs'][0][0]]
    shape = split.get('attrs', {}).get('shape', '')
    if split['op'] != 'Reshape' or not (shape.startswith('(0, -4, ') and
                                        shape.endswith(', -1, -2)')):
        return None
    try:
        return int(shape[len('(0, -4, '):-len(', -1, -2)')])
    except ValueError:
        return None


def find_permutations(graph, arg, aux):
    """The foldable channel permutations: [(permutation's last node, its source entry,
    groups, BatchNorm node, conv node)] (node indices) for every permutation after conv
    -> BatchNorm [-> elementwise ops], each used once, with the conv's weight and the
    BatchNorm's inputs parameters in ``arg``/``aux``."""
    nodes = graph['nodes']
    uses = [0] * len(nodes)
    for node in nodes:
        for entry in node['inputs']:
            uses[entry[0]] += 1
    for entry in graph['heads']:
        uses[entry[0]] += 1
    found = []
    for index, merge in enumerate(nodes):
        groups = _permutation_groups(nodes, merge)
        if groups is None:
            continue
        split = nodes[nodes[merge['inputs'][0][0]]['inputs'][0][0]]
        source = split['inputs'][0]
        at = source[0]
        while nodes[at]['op'] in ELEMENTWISE and uses[at] == 1:
            at = nodes[at]['inputs'][0][0]
        bn = nodes[at]
        if bn['op'] != 'BatchNorm' or uses[at] != 1 \
                or bn.get('attrs', {}).get('axis', '1') != '1':
            continue
        conv = bn['inputs'][0][0]
        if nodes[conv]['op'] != 'Convolution' or uses[conv] != 1 \
                or not _is_variable(nodes, nodes[conv]['inputs'][1], arg) \
                or not all(_is_variable(nodes, e, arg) or _is_variable(nodes, e, aux)
                           for e in bn['inputs'][1:5]):
            continue
        found.append((index, source, groups, at, conv))
    return found


def fold_permutations(graph, arg, aux, found):
    """In place: the permutations ``found`` (find_permutations) whose conv is dense folded
    into the conv's rows and the BatchNorm's parameters. Returns how many."""
    nodes = graph['nodes']
    redirect = {}
    for index, source, groups, bn_index, conv_index in found:
        conv, bn = nodes[conv_index], nodes[bn_index]
        weight_name = nodes[conv['inputs'][1][0]]['name']
        channels = arg[weight_name].shape[0]
        if conv.get('attrs', {}).get('num_group', '1') != '1' or channels % groups:
            continue
        order = interleave_order(channels, groups)
        names = [weight_name] + [nodes[e[0]]['name'] for e in bn['inputs'][1:5]]
        if len(conv['inputs']) > 2:
            names.append(nodes[conv['inputs'][2][0]]['name'])
        for name in names:
            params = arg if name in arg else aux
            value = params[name].asnumpy()
            params[name] = mx.nd.array(value[order], dtype=value.dtype)
        redirect[index] = source
    for node in nodes:
        node['inputs'] = [list(redirect.get(e[0], e)) for e in node['inputs']]
    graph['heads'] = [list(redirect.get(e[0], e)) for e in graph['heads']]
    return len(redirect)


def inference_form(sym, arg, aux, all_dense=False):
    """(symbol, arg_params, aux_params) computing ``sym``'s function on the same inputs,
    faster on the CPU (see the module's docstring). The grouped 1x1 convs before a
    permutation become dense (the fold needs it); with ``all_dense`` every grouped 1x1
    conv does (for INT8, see tools/quantize.py), otherwise the others stay grouped, which
    is faster in FP32. The inputs are not modified."""
    graph = json.loads(sym.tojson())
    arg, aux = dict(arg), dict(aux)
    found = find_permutations(graph, arg, aux)
    dense = dense_grouped_1x1(graph, arg, None if all_dense else {f[4] for f in found})
    folded = fold_permutations(graph, arg, aux, found)
    logging.debug('inference form: %d grouped 1x1 convs made dense, %d permutations folded',
                  dense, folded)
    out = mx.sym.load_json(json.dumps(graph))
    used = set(out.list_arguments()) | set(out.list_auxiliary_states())
    return out, {k: v for k, v in arg.items() if k in used}, \
        {k: v for k, v in aux.items() if k in used}
