"""INT8 quantization with MXNet's oneDNN backend (tools/quantize.py is the command line; its
docstring says why the graph is first put in its inference form with dense 1x1 convs):
calibration data, the quantization itself, the checkpoint's size, fused inference speed."""
import logging
import os

import mxnet as mx
import numpy as np

from symbol.inference_form import inference_form
from symbol.layers import CLASSIFIER, STEM

from . import recordio
from .timing import median_seconds
from .data import eval_record_iter
from .errors import UserError
from .inference import bind_for_inference


def calibration_images(path, wanted):
    """min(wanted, records in ``path``), reading record headers only."""
    count = 0
    try:
        for _ in recordio.scan_headers(path):
            count += 1
            if count >= wanted:
                break
    except recordio.CorruptRecordError as err:
        raise UserError('--calib-data %s is corrupt or truncated (%s); repack it with '
                        'tools/im2rec.py' % (path, err))
    if count == 0:
        raise UserError('--calib-data %s holds no records; pack a non-empty dataset' % path)
    if count < wanted:
        logging.warning('--calib-data %s holds %d images, fewer than --num-calib-examples %d: '
                        'calibrating on all of them', path, count, wanted)
    return count


def calibration_iter(path, proto, batch_size, threads):
    """The images of ``path`` as ``proto`` (common.protocol) feeds the model, shuffled."""
    if not os.path.isfile(path):
        raise UserError('--calib-data %s: no such file; pack one with tools/im2rec.py' % path)
    return eval_record_iter('calib-data', path, '', proto.image_shape, batch_size,
                            proto.resize, proto.mean, proto.std, threads, shuffle=True,
                            seed=0, round_batch=True)


def int8_checkpoint_bytes(qsym, qarg, qaux):
    """The bytes the INT8 checkpoint needs on disk: its graph and arrays, 1% + 1 MB to
    spare (common.checkpoint.check_room is given it)."""
    needed = len(qsym.tojson()) + sum(v.size * np.dtype(v.dtype).itemsize + 256
                                      for v in list(qarg.values()) + list(qaux.values()))
    return int(needed * 1.01) + (1 << 20)


def quantize(sym, arg, aux, calib, calib_mode, num_examples, keep_graph=False):
    from mxnet.contrib.quantization import quantize_model_mkldnn
    if not keep_graph:
        sym, arg, aux = inference_form(sym, arg, aux, all_dense=True)
    excluded = [n for n in (STEM + '-conv2d', CLASSIFIER) if n in sym.list_outputs()
                or n + '_output' in sym.get_internals().list_outputs()]
    qsym, qarg, qaux = quantize_model_mkldnn(
        sym, arg, aux, ctx=mx.cpu(), excluded_sym_names=excluded, calib_mode=calib_mode,
        calib_data=calib, num_calib_examples=num_examples, quantized_dtype='auto',
        quantize_mode='smart', logger=logging.getLogger('quantize'))
    return qsym, qarg, qaux


def inference_speed(sym, arg, aux, shape, batch_size=50, iterations=10):
    """Images/s of fused inference on random input (median of ``iterations`` batches)."""
    mod = bind_for_inference(sym, arg, aux, batch_size, shape, [mx.cpu()])
    batch = mx.io.DataBatch([mx.nd.array(np.random.RandomState(0).uniform(
        -1, 1, (batch_size,) + shape))], [mx.nd.zeros(batch_size)])

    def step():
        mod.forward(batch, is_train=False)
        mod.get_outputs()[0].wait_to_read()
    return batch_size / median_seconds(step, 2, iterations)
