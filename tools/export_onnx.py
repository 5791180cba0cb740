#!/usr/bin/env python
"""Export a checkpoint to ONNX and check it with onnxruntime.

    python tools/export_onnx.py --model igcv3 -o igcv3.onnx                     # released weights
    python tools/export_onnx.py --model models/cifar10-igcv3 --load-epoch 400 -o igcv3-cifar.onnx

The input shape defaults to the checkpoint's model info (PREFIX-model.json, see score.py).

MXNet 1.9's exporter (mx.onnx, which needs onnx <= 1.18: requirements-deploy.txt) rejects
the special reshape codes (-2, -3, -4) of the channel permutation and a SoftmaxOutput
without its label. The exported graph therefore spells each permutation's reshape with
explicit channel and spatial sizes (batch left free) and ends in a plain softmax on
``fc``: the same function on the same parameters. The output is the class probabilities;
the batch dimension is dynamic. Unless --no-check, onnxruntime runs the file on random
inputs and its probabilities must match MXNet's within --tolerance with the same top-1.
INT8 checkpoints (tools/quantize.py: oneDNN fused and quantized ops) cannot be exported:
export the FP32 checkpoint they were made from. An op the exporter cannot convert is
named before anything is written.
"""
import json
import logging
import os

import _path  # noqa: F401
from common import runtime
runtime.configure()  # before mxnet loads

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

from common import checkpoint  # noqa: E402
from common.atomic import atomic_path  # noqa: E402
from common.cli import ArgumentParser, UserError, run, setup_logging  # noqa: E402
from common import protocol  # noqa: E402
from common.inference import bind_for_inference  # noqa: E402


def exportable_symbol(sym, image_shape):
    """The graph with explicit-shape permutations and softmax(fc) as its output."""
    graph = json.loads(sym.tojson())
    internals = sym.get_internals()
    _, out_shapes, _ = internals.infer_shape(data=(1,) + tuple(image_shape))
    shapes = dict(zip(internals.list_outputs(), out_shapes))
    head = graph['nodes'][graph['heads'][0][0]]
    for node in graph['nodes']:
        if node['op'] == 'Reshape':
            target = shapes[node['name'] + '_output']
            node.setdefault('attrs', {})['shape'] = str((-1,) + tuple(target[1:]))
    fixed = mx.sym.load_json(json.dumps(graph))
    if head['op'] == 'SoftmaxOutput':
        logits = graph['nodes'][head['inputs'][0][0]]['name']
        fixed = mx.sym.softmax(fixed.get_internals()[logits + '_output'], axis=1, name='softmax')
    return fixed


def mxnet_probabilities(sym, arg, aux, x):
    """MXNet's outputs of the plain (unfused) graph."""
    mod = bind_for_inference(sym, arg, aux, x.shape[0], x.shape[1:], [mx.cpu()], fused=False)
    mod.forward(mx.io.DataBatch([mx.nd.array(x)]), is_train=False)
    return mod.get_outputs()[0].asnumpy()


def onnx_probabilities(path, x):
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: not its notes on unused initializers
    try:
        session = onnxruntime.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    except Exception as err:  # noqa: BLE001 (onnxruntime's own exception types)
        raise UserError('onnxruntime cannot load the exported %s (%s); please report it'
                        % (path, ' '.join(str(err).split())[:200]))
    name = session.get_inputs()[0].name
    return session.run(None, {name: x})[0]


# Ops of an INT8 checkpoint made by tools/quantize.py (oneDNN subgraphs and quantization).
INT8_OP_MARKERS = ('_sg_mkldnn_', '_sg_onednn_', 'quantize')


def graph_ops(sym):
    """[(op, node name)] of the graph's operator nodes, in order."""
    return [(n['op'], n['name']) for n in json.loads(sym.tojson())['nodes'] if n['op'] != 'null']


def check_not_int8(sym, source):
    """An INT8 checkpoint (its oneDNN and quantization ops have no ONNX conversion) is a
    UserError saying what to export instead."""
    int8 = sorted({op for op, _ in graph_ops(sym) if any(m in op for m in INT8_OP_MARKERS)})
    if int8:
        raise UserError('%s is an INT8 checkpoint (ops %s, made by tools/quantize.py): INT8 '
                        'checkpoints cannot be exported to ONNX; export the FP32 checkpoint it '
                        'was made from instead' % (source, ', '.join(int8[:4])))


def check_convertible(sym, supported):
    """An op the exporter has no conversion for is a UserError naming it and its node."""
    missing = [(op, name) for op, name in graph_ops(sym) if op not in supported]
    if missing:
        op, name = missing[0]
        more = ', and %d more nodes' % (len(missing) - 1) if len(missing) > 1 else ''
        raise UserError("MXNet's ONNX exporter cannot convert op %s (node %s%s); nothing "
                        "written" % (op, name, more))


class _LastNode(logging.Filter):
    """Remembers the exporter's verbose "Converting idx: N, op: OP, name: NAME" lines, to
    name the node a conversion failed on, and hides them and its other verbose line."""
    def __init__(self):
        super(_LastNode, self).__init__()
        self.node = None

    def filter(self, record):
        message = record.getMessage()
        if message.startswith('Converting idx:'):
            fields = dict(f.split(': ', 1) for f in message.split(', ') if ': ' in f)
            self.node = 'op %s (node %s)' % (fields.get('op'), fields.get('name'))
            return False
        return not message.startswith('Output node is:')


def export(sym, arg, aux, image_shape, out_path, source='the checkpoint'):
    """Write ``out_path`` (atomically); returns the exportable symbol. ``source`` names
    the checkpoint in errors."""
    try:
        from mxnet import onnx as mx_onnx
        import onnx  # noqa: F401
    except ImportError as err:
        raise UserError('ONNX export needs onnx and onnxruntime: pip install -r '
                        'requirements-deploy.txt (%s)' % err)
    check_not_int8(sym, source)
    fixed = exportable_symbol(sym, image_shape)
    check_convertible(fixed, set(mx_onnx.get_operator_support()))
    params = {k: v for k, v in list(arg.items()) + list(aux.items())
              if k in fixed.list_arguments() + fixed.list_auxiliary_states()}
    folder = os.path.dirname(out_path)
    if folder and os.path.exists(folder) and not os.path.isdir(folder):
        raise UserError('-o %s: %s is a file, not a folder' % (out_path, folder))
    last = _LastNode()
    root = logging.getLogger()
    root.addFilter(last)
    try:
        with atomic_path(out_path, keep_extension=True) as tmp:
            mx_onnx.export_model(fixed, params, in_shapes=[(1,) + tuple(image_shape)],
                                 in_types=[np.float32], onnx_file_path=tmp, dynamic=True,
                                 dynamic_input_shapes=[(None,) + tuple(image_shape)],
                                 verbose=True)
    except OSError as err:  # a full disk, a read-only folder: name the file asked for
        raise OSError(err.errno, err.strerror or str(err), out_path) from err
    except Exception as err:  # noqa: BLE001 (the exporter raises anything; name where)
        detail = ' '.join(str(err).split())[:200] or err.__class__.__name__
        raise UserError("MXNet's ONNX exporter cannot convert %s: %s; nothing written to %s"
                        % (last.node or 'the graph', detail, out_path))
    finally:
        root.removeFilter(last)
    return fixed


def check(fixed, arg, aux, path, image_shape, batch, tolerance, seed=0):
    """onnxruntime against MXNet on random inputs; returns the max abs difference."""
    x = np.random.RandomState(seed).uniform(-2, 2, (batch,) + tuple(image_shape)).astype(np.float32)
    ours = mxnet_probabilities(fixed, arg, aux, x)
    theirs = onnx_probabilities(path, x)
    diff = float(np.abs(ours - theirs).max())
    same_top1 = bool((ours.argmax(1) == theirs.argmax(1)).all())
    logging.info('onnxruntime vs MXNet on %d random inputs: max |p diff| %.2e, same top-1: %s',
                 batch, diff, same_top1)
    if diff > tolerance or not same_top1:
        raise UserError('the exported model disagrees with MXNet (max |p diff| %.2e, same top-1 '
                        '%s); please report it' % (diff, same_top1))
    return diff


def main():
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', required=True, help='checkpoint prefix or registered network')
    parser.add_argument('--load-epoch', type=int, default=0)
    protocol.add_protocol_args(parser, resize=False, normalize=False)
    parser.add_argument('-o', '--output', required=True, help='ONNX file to write')
    parser.add_argument('--no-check', action='store_true', help='skip the onnxruntime check')
    parser.add_argument('--check-batch', type=int, default=4)
    parser.add_argument('--tolerance', type=float, default=1e-4)
    args = parser.parse_args()
    if args.check_batch < 1:
        parser.error('--check-batch must be at least 1, not %d' % args.check_batch)
    if not args.tolerance >= 0:
        parser.error('--tolerance must be at least 0, not %g' % args.tolerance)
    setup_logging()
    shape = protocol.resolve(args, args.model, args.load_epoch).image_shape
    sym, arg, aux, params_path = checkpoint.load_model(args.model, args.load_epoch, shape)
    fixed = export(sym, arg, aux, shape, args.output, params_path)
    logging.info('exported %s to %s', params_path, args.output)
    if not args.no_check:
        check(fixed, arg, aux, args.output, shape, args.check_batch, args.tolerance)


if __name__ == '__main__':
    run(main)
