#!/usr/bin/env python
"""Export a checkpoint to ONNX and check it with onnxruntime.

    python tools/export_onnx.py --model igcv3 -o igcv3.onnx                     # released weights
    python tools/export_onnx.py --model models/cifar10-igcv3 --load-epoch 400 -o igcv3-cifar.onnx

Input shape, mean, std, resize and class names default to the checkpoint's model info
(PREFIX-model.json, see score.py; the released weights get the released protocol), and
the file carries them as metadata (``metadata_props``: image_shape, mean, std, resize,
classes and num_classes as JSON, network, source_checkpoint, preprocessing), which
onnxruntime reads as ``session.get_modelmeta().custom_metadata_map``.

MXNet 1.9's exporter (mx.onnx, which needs onnx <= 1.18: requirements-deploy.txt) rejects
the special reshape codes (-2, -3, -4) of the channel permutation and a SoftmaxOutput
without its label. The exported graph therefore spells each permutation's reshape with
explicit channel and spatial sizes (batch left free) and ends in a plain softmax on
``fc``: the same function on the same parameters. The output is the class probabilities;
the batch dimension is dynamic. Only the input is a graph input (the parameters are
initializers, so runtimes fold them as constants), and initializers no node reads are
dropped. ``mx.onnx.export_model`` of 1.9.1 takes no opset and stamps onnx's newest
(22 for onnx 1.17), although its conversions exist for opsets 12 and 13 only; the graph is
converted here by the same converter (MXNetGraph) at --opset and stamped with it and the
oldest ONNX IR version that opset allows.

Unless --no-check, onnxruntime runs the file, before it is published, on --check-batch
images of pixels drawn uniformly from 0..255 and normalized with the model's mean/std;
MXNet runs the same graph in float32 and in float64. The file is refused when its
log-probabilities (each probability's relative error; below 1e-30 compared as 1e-30) are
further from float64's than --tolerance-factor times float32's own error (at least 4
float32 epsilons), or when its top-1 differs where float64's top-1 leads by more than that.
A refused file is not written.

INT8 checkpoints (tools/quantize.py: oneDNN fused and quantized ops) cannot be exported:
export the FP32 checkpoint they were made from. An op the exporter cannot convert is named
before anything is written.
"""
import logging

import _path  # noqa: F401
from common import runtime
runtime.configure()  # before mxnet loads

from common import checkpoint, protocol  # noqa: E402
from common.cli import ArgumentParser, run, setup_logging  # noqa: E402
from common.onnx_export import (DEFAULT_OPSET, FLOOR, MIN_OPSET, check,  # noqa: E402
                                check_model_info_fits, export, metadata, newest_opset)


def main():
    newest = newest_opset()
    parser = ArgumentParser(description=__doc__.split('\n')[0], allow_abbrev=False)
    parser.add_argument('--model', required=True, help='checkpoint prefix or registered network')
    parser.add_argument('--load-epoch', type=int, default=None,
                        help='checkpoint number; default 0 (the released weights), or the last '
                             'epoch of a model shipped in models/ and named alone')
    protocol.add_protocol_args(parser)
    parser.add_argument('-o', '--output', required=True, help='ONNX file to write')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET,
                        help='ONNX opset, %d..%d. 13: the newest opset MXNet 1.9.1 has '
                             'conversions for (at 12 it refuses its own softmax), read by '
                             'onnxruntime since 1.6 and most other runtimes; a higher one '
                             'stamps the same ops with that opset, for runtimes that need it'
                             % (MIN_OPSET, newest or DEFAULT_OPSET))
    parser.add_argument('--no-check', action='store_true', help='skip the onnxruntime check')
    parser.add_argument('--check-batch', type=int, default=4,
                        help='images of random pixels the check runs')
    parser.add_argument('--tolerance-factor', type=float, default=10.0,
                        help="how far onnxruntime's log-probabilities may be from MXNet's in "
                             "float64, in multiples of float32's own error (MXNet float32 "
                             "against float64; taken as at least %.1e)" % FLOOR)
    args = parser.parse_args()
    if args.check_batch < 1:
        parser.error('--check-batch must be at least 1, not %d' % args.check_batch)
    if not args.tolerance_factor >= 1:
        parser.error('--tolerance-factor must be at least 1, not %g' % args.tolerance_factor)
    if newest is not None and not MIN_OPSET <= args.opset <= newest:
        parser.error('--opset must be in %d..%d (the installed onnx knows up to %d), not %d'
                     % (MIN_OPSET, newest, newest, args.opset))
    setup_logging()
    args.model, args.load_epoch = checkpoint.find_model(args.model,
                                                        getattr(args, 'load_epoch', None))
    proto = protocol.resolve(args.model, args.load_epoch, **protocol.given_flags(args))
    shape = proto.image_shape
    checkpoint.refuse_overwrite(checkpoint.resolve(args.model, args.load_epoch)[0],
                                args.load_epoch, [args.output], '-o')
    sym, arg, aux, params_path = checkpoint.load_model(args.model, args.load_epoch, shape)
    network = ((proto.info or {}).get('network')
               or checkpoint.resolve(args.model, args.load_epoch)[1])
    check_model_info_fits(proto, network, sym, arg, aux, shape)
    props = metadata(proto, network, params_path, checkpoint.num_classes_of(arg))

    def run_check(fixed, path):
        check(fixed, arg, aux, path, shape, proto.mean, proto.std, args.check_batch,
              args.tolerance_factor)
    export(sym, arg, aux, shape, args.output, params_path, args.opset, props,
           None if args.no_check else run_check)
    logging.info('exported %s to %s (opset %d)', params_path, args.output, args.opset)


if __name__ == '__main__':
    run(main)
