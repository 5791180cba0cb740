#!/usr/bin/env python
"""INT8 quantization of a checkpoint with MXNet's oneDNN backend and calibration.

    python tools/quantize.py --model models/digits-igcv3 --load-epoch 10 \\
        --calib-data data/digits/digits_train.rec -o models/digits-igcv3-int8
    python score.py --model models/digits-igcv3-int8 --data-val data/digits/digits_val.rec ...

Writes OUT-symbol.json, OUT-0000.params and OUT-model.json, a checkpoint score.py and
predict.py evaluate like any other. Input shape, resize, mean and std default to the
checkpoint's model info (see score.py); the INT8 checkpoint carries them on. MXNet's plain quantizer rejects grouped convolutions; its oneDNN path
(quantize_model_mkldnn) fuses conv+BN+ReLU first and accepts them, but its INT8 grouped
1x1 convolutions wreck IGCV3's accuracy (docs/scoring-deployment.md: compare --keep-graph). So
the graph is first put in its inference form with every grouped 1x1 conv dense
(symbol.inference_form: block-diagonal weights, channel permutations folded into
parameters; the same function, and the INT8 checkpoint stores it), which oneDNN
quantizes well. Calibration reads --num-calib-examples images of --calib-data with the
validation preprocessing: 'naive' takes min/max of each layer's outputs, 'entropy' picks
thresholds minimizing the KL divergence. The first convolution and the classifier stay
in float32 (the usual choice: they hold little of the compute and much of the accuracy).
The output folder is checked to be writable before the work, and to have room for the
checkpoint before it is written (common.checkpoint.check_room).
"""
import logging

import _path  # noqa: F401
from common import runtime
runtime.configure()  # before mxnet loads

from common import checkpoint, protocol  # noqa: E402
from common.cli import ArgumentParser, run, setup_logging  # noqa: E402
from common.quantization import (calibration_images, calibration_iter,  # noqa: E402
                                 inference_speed, int8_checkpoint_bytes, quantize)


def main():
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', required=True, help='checkpoint prefix or registered network')
    parser.add_argument('--load-epoch', type=int, default=None,
                        help='checkpoint number; default 0 (the released weights), or the last '
                             'epoch of a model shipped in models/ and named alone')
    parser.add_argument('--calib-data', required=True, help='.rec of calibration images')
    parser.add_argument('--calib-mode', default='entropy', choices=('naive', 'entropy'))
    parser.add_argument('--num-calib-examples', type=int, default=500)
    parser.add_argument('--batch-size', type=int, default=50)
    protocol.add_protocol_args(parser)
    parser.add_argument('--data-nthreads', type=int, default=4)
    parser.add_argument('-o', '--output', required=True, help='prefix of the INT8 checkpoint')
    parser.add_argument('--keep-graph', action='store_true',
                        help="quantize the checkpoint's graph as it is, grouped convs and "
                             "permutations included (for comparison: less accurate)")
    parser.add_argument('--benchmark', action='store_true',
                        help='also measure FP32 and INT8 inference images/s (batch 50)')
    args = parser.parse_args()
    for flag in ('num_calib_examples', 'batch_size', 'data_nthreads'):
        if getattr(args, flag) < 1:
            parser.error('--%s must be at least 1, not %d'
                         % (flag.replace('_', '-'), getattr(args, flag)))
    setup_logging()
    args.model, args.load_epoch = checkpoint.find_model(args.model,
                                                        getattr(args, 'load_epoch', None))
    proto = protocol.resolve(args.model, args.load_epoch, **protocol.given_flags(args))
    shape = proto.image_shape
    checkpoint.refuse_overwrite(
        checkpoint.resolve(args.model, args.load_epoch)[0], args.load_epoch,
        list(checkpoint.checkpoint_paths(args.output, 0)[:2]) +
        [checkpoint.model_info_path(args.output)], '-o')
    checkpoint.refuse_shipped(args.output, '-o')
    sym, arg, aux, params_path = checkpoint.load_model(args.model, args.load_epoch, shape)
    checkpoint.refuse_int8(sym, params_path, 'it is quantized already; quantize the FP32 '
                                             'checkpoint it was made from')
    checkpoint.check_room(args.output, 0, '-o')
    calib = calibration_iter(args.calib_data, proto, args.batch_size, args.data_nthreads)
    examples = calibration_images(args.calib_data, args.num_calib_examples)
    qsym, qarg, qaux = quantize(sym, arg, aux, calib, args.calib_mode, examples,
                                args.keep_graph)
    checkpoint.check_room(args.output, int8_checkpoint_bytes(qsym, qarg, qaux), '-o')
    checkpoint.save_checkpoint(args.output, 0, qsym, qarg, qaux, then='run again',
                               info=proto.model_info(quantized='int8', made_from=params_path))
    logging.info('INT8 (%s calibration on %d images of %s) of %s written to %s-0000.params',
                 args.calib_mode, examples, args.calib_data, params_path, args.output)
    if args.benchmark:
        fp32 = inference_speed(sym, arg, aux, shape)
        int8 = inference_speed(qsym, qarg, qaux, shape)
        logging.info('inference, batch 50: FP32 %.1f images/s, INT8 %.1f images/s, speedup %.2fx',
                     fp32, int8, int8 / fp32)


if __name__ == '__main__':
    run(main)
