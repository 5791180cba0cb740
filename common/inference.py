"""Binding a checkpoint for inference, and the validation preprocessing of one image."""
import os

import numpy as np

from symbol.inference_form import inference_form

from .module import Module


def bind_for_inference(sym, arg, aux, batch_size, image_shape, devices, fused=True):
    """A Module bound for inference. ``fused`` (the default) binds, on the CPU, the
    inference form of the graph (symbol.inference_form: permutations folded into
    parameters, the same function) and lets MXNet's oneDNN backend fuse conv+BN+ReLU6;
    False binds the graph as it is, unfused."""
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
    """An OpenCV image (BGR, or grey (H, W) for a 1-channel ``image_shape``) -> (1, C, H, W)
    float32 as ImageRecordIter's validation path makes it: shorter side to ``resize`` (0:
    as is), center crop, RGB (or grey), (x - mean) / std."""
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
    crop = bgr[top:top + height, left:left + width]
    channels = image_shape[0]
    if channels == 1:
        if crop.ndim == 3:
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        rgb = crop.reshape(height, width, 1)
    else:
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
    x = (rgb.astype(np.float32) - np.asarray(mean[:channels], np.float32)) \
        / np.asarray(std[:channels], np.float32)
    return x.transpose(2, 0, 1)[np.newaxis]
