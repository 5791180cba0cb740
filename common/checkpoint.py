"""Loading checkpoints for inference: PREFIX-symbol.json + PREFIX-%04d.params, or a
registered network name whose released weights sit in models/."""
import json
import os

import mxnet as mx
import numpy as np

import symbol

from .errors import UserError
from .fit import load_params
from .inference import inference_form
from .module import Module

MODELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'models')
WHERE_RELEASED = 'see models/README.md for where the released weights come from'


def resolve(model, epoch):
    """(prefix, network name or None): ``model`` is a prefix, or a registered network
    whose checkpoint is models/NAME-%04d.params."""
    registered = model.lower() in symbol.list_networks()
    if registered and not os.path.exists('%s-%04d.params' % (model, epoch)):
        return os.path.join(MODELS_DIR, model.lower()), model.lower()
    return model, None


def load_symbol_json(path):
    """A symbol from JSON text, parsed as data (no code runs while loading it)."""
    try:
        with open(path) as f:
            json.load(f)
        return mx.sym.load(path)
    except (ValueError, mx.base.MXNetError) as err:
        raise UserError('%s is not an MXNet symbol file (%s)' % (path, str(err).splitlines()[0]))


def num_classes_of(arg_params):
    if 'fc_weight' not in arg_params:
        raise UserError('the checkpoint has no fc_weight; is it a classification network?')
    return arg_params['fc_weight'].shape[0]


def load_model(model, epoch, image_shape, **network_kwargs):
    """(symbol, arg_params, aux_params, params_path) ready to bind for ``image_shape``."""
    prefix, network = resolve(model, epoch)
    params_path = '%s-%04d.params' % (prefix, epoch)
    if not os.path.isfile(params_path):
        hint = WHERE_RELEASED if network else 'check --model and --load-epoch'
        raise UserError('%s: no such checkpoint; %s' % (params_path, hint))
    arg, aux = load_params(params_path)
    symbol_path = prefix + '-symbol.json'
    if os.path.isfile(symbol_path):
        sym = load_symbol_json(symbol_path)
    elif network:
        sym = symbol.get_symbol(network, num_classes=num_classes_of(arg), image_shape=image_shape,
                                **network_kwargs)
    else:
        raise UserError('%s: no such symbol file next to %s' % (symbol_path, params_path))
    check_params(sym, arg, aux, image_shape, params_path)
    return sym, arg, aux, params_path


def check_params(sym, arg, aux, image_shape, params_path):
    """Every parameter the graph needs is in the checkpoint with its shape, and no other."""
    try:
        arg_shapes, _, aux_shapes = sym.infer_shape(data=(1,) + tuple(image_shape))
    except mx.base.MXNetError as err:
        raise UserError('the graph cannot take input %s: %s'
                        % (','.join(map(str, image_shape)), str(err).splitlines()[0]))
    if arg_shapes is None:
        raise UserError('cannot infer the graph shapes for input %s' % (image_shape,))
    want = dict(zip(sym.list_arguments(), arg_shapes))
    want_aux = dict(zip(sym.list_auxiliary_states(), aux_shapes))
    for name in ('data', 'softmax_label'):
        want.pop(name, None)
    missing = sorted(set(want) - set(arg)) + sorted(set(want_aux) - set(aux))
    unexpected = sorted(set(arg) - set(want)) + sorted(set(aux) - set(want_aux))
    wrong = ['%s %s (graph wants %s)' % (n, arr.shape, want.get(n, want_aux.get(n)))
             for n, arr in list(arg.items()) + list(aux.items())
             if n in want or n in want_aux
             if tuple(arr.shape) != tuple(want.get(n, want_aux.get(n)))]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append('missing %d: %s' % (len(missing), ', '.join(missing[:8])))
        if unexpected:
            parts.append('unexpected %d: %s' % (len(unexpected), ', '.join(unexpected[:8])))
        if wrong:
            parts.append('wrong shape %d: %s' % (len(wrong), ', '.join(wrong[:4])))
        raise UserError('%s does not match the graph: %s' % (params_path, '; '.join(parts)))


def bind_for_inference(sym, arg, aux, batch_size, image_shape, devices, fused=True):
    """A Module bound for inference. ``fused`` (the default) binds, on the CPU, the
    inference form of the graph (common.inference: permutations folded into parameters,
    the same function) and lets MXNet's oneDNN backend fuse conv+BN+ReLU6; False binds
    the graph as it is, unfused."""
    if fused and all(d.device_type == 'cpu' for d in devices) \
            and 'data' in sym.list_arguments():
        sym, arg, aux = inference_form(sym, arg, aux)
    previous = os.environ.get('MXNET_SUBGRAPH_BACKEND')
    os.environ['MXNET_SUBGRAPH_BACKEND'] = 'MKLDNN' if fused else 'NONE'
    labelled = 'softmax_label' in sym.list_arguments()
    try:
        mod = Module(sym, context=devices, label_names=['softmax_label'] if labelled else None)
        mod.bind(data_shapes=[('data', (batch_size,) + tuple(image_shape))],
                 label_shapes=[('softmax_label', (batch_size,))] if labelled else None,
                 for_training=False)
        mod.set_params(arg, aux, allow_missing=False, allow_extra=not labelled)
    finally:
        if previous is None:
            del os.environ['MXNET_SUBGRAPH_BACKEND']
        else:
            os.environ['MXNET_SUBGRAPH_BACKEND'] = previous
    return mod


def preprocess(bgr, image_shape, resize, mean, std):
    """An OpenCV BGR image -> (1, C, H, W) float32 as ImageRecordIter's validation path
    makes it: shorter side to ``resize`` (0: as is), center crop, RGB, (x - mean) / std."""
    import cv2
    _, height, width = image_shape
    if resize > 0:
        h, w = bgr.shape[:2]
        if h < w:
            size = (int(w * resize / h), resize)
        else:
            size = (resize, int(h * resize / w))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_LINEAR)
    h, w = bgr.shape[:2]
    if h < height or w < width:
        bgr = cv2.resize(bgr, (max(w, width), max(h, height)), interpolation=cv2.INTER_LINEAR)
        h, w = bgr.shape[:2]
    top, left = (h - height) // 2, (w - width) // 2
    rgb = cv2.cvtColor(bgr[top:top + height, left:left + width], cv2.COLOR_BGR2RGB)
    x = (rgb.astype(np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return x.transpose(2, 0, 1)[np.newaxis]
