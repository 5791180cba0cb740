"""ONNX export of a checkpoint and its check with onnxruntime (tools/export_onnx.py is the
command line; its docstring says what the file holds and how the check judges it).

MXNet 1.9's exporter (mx.onnx, onnx <= 1.18) rejects the channel permutation's special
reshape codes and a SoftmaxOutput without its label: ``exportable_symbol`` spells each
reshape with explicit sizes and ends in a softmax on ``fc``, the same function; ``export``
converts it at the opset asked with MXNet's own converter, keeps only real inputs, stamps
the metadata, and publishes the file only after ``check`` passes (when given).
"""
import json
import logging
import os

import mxnet as mx
import numpy as np

import symbol

from . import checkpoint
from .atomic import atomic_path
from .errors import UserError
from .inference import bind_for_inference

# Opsets: MXNet 1.9.1 has conversions for opsets 12 and 13 (above 13 it uses the 13 ones).
# At 12 it writes the softmax as Exp/ReduceSum with an axes attribute and then refuses its
# own graph, which it checks against onnx's newest opset; 13 is the oldest that exports
# these networks. 13 is also the default: the opset the conversions were written for,
# read by onnxruntime since 1.6 (its version table: opset 13, IR version 7; the file is
# stamped with the oldest IR version its opset allows, 7 for 13) and by most runtimes.
MIN_OPSET = 13
DEFAULT_OPSET = 13
# The smallest float32 error the check assumes: 4 float32 epsilons, relative.
FLOOR = 4 * float(np.finfo(np.float32).eps)
# Probabilities below this are compared as this: near float32's underflow (1.2e-38) its
# exp differs by implementation (MXNet gives 0 where onnxruntime gives 1.5e-38).
SMALLEST = 1e-30


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


def mxnet_probabilities(sym, arg, aux, x, dtype=np.float32):
    """MXNet's outputs of the plain (unfused) graph on ``x``, computed in ``dtype``
    (float64: parameters and input cast to it; MXNet's CPU operators run in float64)."""
    if np.dtype(dtype) == np.float32:
        mod = bind_for_inference(sym, arg, aux, x.shape[0], x.shape[1:], [mx.cpu()], fused=False)
        mod.forward(mx.io.DataBatch([mx.nd.array(x)]), is_train=False)
        return mod.get_outputs()[0].asnumpy()
    args = {k: arg[k].astype(dtype) for k in sym.list_arguments() if k != 'data'}
    args['data'] = mx.nd.array(x, dtype=dtype)
    auxs = {k: aux[k].astype(dtype) for k in sym.list_auxiliary_states()}
    previous = os.environ.get('MXNET_SUBGRAPH_BACKEND')
    os.environ['MXNET_SUBGRAPH_BACKEND'] = 'NONE'
    try:
        exe = sym.bind(mx.cpu(), args=args, aux_states=auxs, grad_req='null')
    finally:
        if previous is None:
            del os.environ['MXNET_SUBGRAPH_BACKEND']
        else:
            os.environ['MXNET_SUBGRAPH_BACKEND'] = previous
    return exe.forward(is_train=False)[0].asnumpy()


def onnx_probabilities(path, x):
    """onnxruntime's outputs of the file on ``x``, with default session options."""
    import onnxruntime
    try:
        session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    except Exception as err:  # noqa: BLE001 (onnxruntime's own exception types)
        raise UserError('onnxruntime cannot load the exported %s (%s); please report it'
                        % (path, ' '.join(str(err).split())[:200]))
    name = session.get_inputs()[0].name
    return session.run(None, {name: x})[0]


def graph_ops(sym):
    """[(op, node name)] of the graph's operator nodes, in order."""
    return checkpoint.graph_ops(sym)


def check_not_int8(sym, source):
    """An INT8 checkpoint (its oneDNN and quantization ops have no ONNX conversion) is a
    UserError saying what to export instead."""
    checkpoint.refuse_int8(sym, source, 'INT8 checkpoints cannot be exported to ONNX; export '
                                        'the FP32 checkpoint it was made from instead')


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


def only_real_inputs(graph):
    """Drops from ``graph`` (in place) the graph inputs that are initializers (runtimes
    would treat them as overridable, not constant: onnxruntime warns once per parameter)
    and the initializers no node reads (onnxruntime warns about each)."""
    read = {name for node in graph.node for name in node.input}
    read.update(out.name for out in graph.output)
    unused = [t for t in graph.initializer if t.name not in read]
    for tensor in unused:
        graph.initializer.remove(tensor)
    constants = {t.name for t in graph.initializer}
    for value in [v for v in graph.input if v.name in constants]:
        graph.input.remove(value)


def check_model_info_fits(proto, network, sym, arg, aux, shape):
    """The metadata is copied from the model info: a model info that contradicts the
    checkpoint (class names for another class count, a network whose parameters are not the
    checkpoint's) is a UserError, not metadata that misleads every runtime reading it."""
    classes = checkpoint.num_classes_of(arg)
    if proto.classes is not None and len(proto.classes) != classes:
        raise UserError('%s names %d classes, but the checkpoint\'s classifier has %d; correct '
                        'its classes' % (proto.source, len(proto.classes), classes))
    info = proto.info or {}
    if network and info.get('network') and not info.get('quantized') \
            and network.lower() in symbol.list_networks():
        try:
            built = symbol.get_symbol(network, num_classes=classes, image_shape=shape,
                                      **{k: v for k, v in info.get('network_args', {}).items()
                                         if k in symbol.accepted_keywords(network)})
            checkpoint.check_params(built, arg, aux, shape, 'the checkpoint')
        except (UserError, symbol.NetworkConfigError) as err:
            raise UserError('%s says the network is %s, which the checkpoint is not (%s); '
                            'correct its network' % (proto.source, network, err))


def metadata(proto, network, source, num_classes):
    """The model's ``metadata_props``: how to feed it and what its outputs are."""
    props = {
        'image_shape': json.dumps([int(v) for v in proto.image_shape]),
        'mean': json.dumps([float(v) for v in proto.mean]),
        'std': json.dumps([float(v) for v in proto.std]),
        'resize': json.dumps(int(proto.resize)),
        'classes': json.dumps(proto.classes),
        'num_classes': json.dumps(int(num_classes)),
        'source_checkpoint': source,
        'preprocessing': 'RGB pixels 0..255; shorter side resized to `resize` (0: as is), '
                         'center crop to `image_shape` (C,H,W), then (pixel - mean) / std per '
                         'channel; input NCHW float32, output the class probabilities',
    }
    if network:
        props['network'] = network
    return props


def build(fixed, params, image_shape, opset, props):
    """The ONNX ModelProto of ``fixed`` at ``opset``, with only real graph inputs and
    ``props`` as metadata; a UserError names an op that fails to convert."""
    import onnx
    from onnx import helper
    try:
        from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph
    except ImportError as err:
        raise UserError("this MXNet has no ONNX converter (%s); use mxnet 1.9.1 from "
                        "requirements.txt" % err)
    last = _LastNode()
    root = logging.getLogger()
    root.addFilter(last)
    try:
        graph = MXNetGraph().create_onnx_graph_proto(
            fixed, params, [(1,) + tuple(image_shape)], [onnx.TensorProto.FLOAT], verbose=True,
            opset_version=opset, dynamic=True, dynamic_input_shapes=[(None,) + tuple(image_shape)])
    except Exception as err:  # noqa: BLE001 (the exporter raises anything; name where)
        detail = ' '.join(str(err).split())[:200] or err.__class__.__name__
        raise UserError("MXNet's ONNX exporter cannot convert %s: %s; nothing written"
                        % (last.node or 'the graph', detail))
    finally:
        root.removeFilter(last)
    only_real_inputs(graph)
    opsets = [helper.make_opsetid('', opset)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name='igcv3-mxnet export_onnx',
                              producer_version='mxnet %s' % mx.__version__)
    model.ir_version = helper.find_min_ir_version_for(opsets)
    helper.set_model_props(model, props)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as err:
        raise UserError("MXNet's ONNX exporter wrote a graph that is not valid ONNX opset %d "
                        "(%s); nothing written; try another --opset"
                        % (opset, ' '.join(str(err).split())[:200]))
    return model


def export(sym, arg, aux, image_shape, out_path, source='the checkpoint', opset=DEFAULT_OPSET,
           props=None, check=None):
    """Write ``out_path`` (atomically); returns the exportable symbol. ``source`` names
    the checkpoint in errors; ``props`` is the metadata; ``check(fixed, path)``, when
    given, runs on the written file before it is published (its UserError leaves
    nothing)."""
    try:
        from mxnet import onnx as mx_onnx
        import onnx
    except ImportError as err:
        raise UserError('ONNX export needs onnx and onnxruntime: pip install -r '
                        'requirements-deploy.txt (%s)' % err)
    check_not_int8(sym, source)
    fixed = exportable_symbol(sym, image_shape)
    check_convertible(fixed, set(mx_onnx.get_operator_support(opset)))
    params = {k: v for k, v in list(arg.items()) + list(aux.items())
              if k in fixed.list_arguments() + fixed.list_auxiliary_states()}
    folder = os.path.dirname(out_path)
    if folder and os.path.exists(folder) and not os.path.isdir(folder):
        raise UserError('-o %s: %s is a file, not a folder' % (out_path, folder))
    model = build(fixed, params, image_shape, opset, props or {})
    try:
        with atomic_path(out_path, keep_extension=True) as tmp:
            onnx.save_model(model, tmp)
            if check is not None:
                try:
                    check(fixed, tmp)
                except UserError as err:
                    raise UserError('%s; %s not written' % (err, out_path))
    except OSError as err:  # a full disk, a read-only folder: name the file asked for
        raise OSError(err.errno, err.strerror or str(err), out_path) from err
    return fixed


def check_inputs(image_shape, mean, std, batch, seed=0):
    """``batch`` images of pixels uniform in 0..255 (whole numbers, as decoded images
    are), normalized with the model's per-channel ``mean`` and ``std``, as float32."""
    channels = image_shape[0]
    pixels = np.random.RandomState(seed).randint(0, 256, (batch,) + tuple(image_shape))
    shift = np.asarray(mean[:channels], np.float64).reshape(channels, 1, 1)
    scale = np.asarray(std[:channels], np.float64).reshape(channels, 1, 1)
    return ((pixels - shift) / scale).astype(np.float32)


def log_probabilities(p):
    """log(p) in float64, probabilities below SMALLEST taken as it."""
    return np.log(np.maximum(np.asarray(p, np.float64), SMALLEST))


def compare(theirs, ours32, ours64, factor):
    """Judges onnxruntime's probabilities ``theirs`` against MXNet's float64 ``ours64``
    relative to float32's own error (MXNet's float32 ``ours32`` against float64), on
    log-probabilities: a probability's relative error, which sees the small ones too (a
    confident model's probabilities barely move while its logits do). Returns (ok, a dict
    of the measurements)."""
    log64 = log_probabilities(ours64)
    own = float(np.abs(log_probabilities(ours32) - log64).max())
    allowed = factor * max(own, FLOOR)
    diff = float(np.abs(log_probabilities(theirs) - log64).max())
    ranked = np.sort(log64, axis=1)
    decisive = ranked[:, -1] - ranked[:, -2] > allowed if log64.shape[1] > 1 \
        else np.ones(len(log64), bool)
    same_top1 = bool((theirs.argmax(1) == ours64.argmax(1))[decisive].all())
    stats = dict(diff=diff, own=own, allowed=allowed, same_top1=same_top1,
                 decisive=int(decisive.sum()), rows=len(log64))
    return diff <= allowed and same_top1, stats


def check(fixed, arg, aux, path, image_shape, mean, std, batch, factor, seed=0):
    """onnxruntime against MXNet (see the module); returns the measurements, raises a
    UserError when the file disagrees."""
    x = check_inputs(image_shape, mean, std, batch, seed)
    ours32 = mxnet_probabilities(fixed, arg, aux, x)
    ours64 = mxnet_probabilities(fixed, arg, aux, x, np.float64)
    theirs = onnx_probabilities(path, x)
    ok, stats = compare(theirs, ours32, ours64, factor)
    logging.info('onnxruntime vs MXNet float64 on %d images of random pixels: max |log p diff| '
                 '%.2e; MXNet float32 vs float64 %.2e, so allowed %.2e; same top-1: %s (%d of '
                 '%d images with a top-1 lead beyond that)', batch, stats['diff'], stats['own'],
                 stats['allowed'], stats['same_top1'], stats['decisive'], batch)
    if not ok:
        raise UserError('the exported model disagrees with MXNet: max |log p diff| %.2e against '
                        'MXNet float64, allowed %.2e (%g x float32\'s own %.2e), same top-1 %s; '
                        'please report it'
                        % (stats['diff'], stats['allowed'], factor, stats['own'],
                           stats['same_top1']))
    return stats


def newest_opset():
    """The newest opset the installed onnx knows, or None without onnx."""
    try:
        from onnx.defs import onnx_opset_version
    except ImportError:
        return None
    return onnx_opset_version()
