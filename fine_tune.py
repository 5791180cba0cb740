#!/usr/bin/env python
"""Fine-tune a trained checkpoint on another dataset (MXNet example's fine-tune.py flags).

    # the released IGCV3 (models/igcv3-0000.params) on a 102-class dataset:
    python fine_tune.py --pretrained-model igcv3 --num-classes 102 \\
        --data-train data/flowers/train.rec --data-val data/flowers/val.rec --gpus 0
    # a Fashion-MNIST checkpoint of yours (train_cifar.py --dataset fashion-mnist), its
    # epoch 30, on scikit-learn's digits as 28x28 grey records (tools/transfer_demo.py
    # writes them), CPU; the input shape, mean and std are the checkpoint's:
    python fine_tune.py --pretrained-model models/fashion-mnist-igcv3-run --load-epoch 30 \\
        --num-classes 10 --data-train data/digits28/train.rec --data-val data/digits28/val.rec --gpus ''

Every weight and BatchNorm statistic of the pretrained checkpoint is kept; the layers
after --layer-before-fullc (the classifier, ``fc``) are replaced by a new one of
--num-classes outputs, initialized afresh, when the class count or the layer differs.
--lr-mult-pretrained scales the learning rate of the pretrained layers (e.g. 0.1), and
--freeze-stages N keeps the stem and the first N stages fixed (their BatchNorm running
statistics still follow the new data). The network is --network (default: the one of the
pretrained model info, else igcv3); a checkpoint that does not fit it is refused in one
line. Every flag of train_cifar.py / train_imagenet.py applies (common/training_flags.py); the
input shape, mean and std default to the pretrained model's (PREFIX-model.json, or the
released protocol).
"""
import logging
import math
import os

from common import runtime
runtime.configure()  # before mxnet loads

import mxnet as mx  # noqa: E402

from common import checkpoint, data, fit, protocol, training_flags  # noqa: E402
from common.cli import ArgumentParser, run, setup_logging  # noqa: E402
from common.errors import UserError  # noqa: E402
from symbol import Form  # noqa: E402
from symbol.layers import CLASSIFIER, FLATTEN, STEM, stage_prefix  # noqa: E402


def parse_args(argv=None):
    parser = training_flags.make_parser(__doc__.split('\n')[0])
    tune = parser.add_argument_group('Fine-tuning')
    tune.add_argument('--pretrained-model', required=True,
                      help='checkpoint prefix (PREFIX-%%04d.params) or a registered network '
                           'whose released weights are models/NAME-0000.params')
    tune.add_argument('--layer-before-fullc', default=FLATTEN,
                      help='the last layer kept; a new classifier fc follows it')
    tune.add_argument('--lr-mult-pretrained', type=float, default=1.0,
                      help='learning-rate multiplier of the pretrained layers (the new '
                           'classifier gets 1)')
    tune.add_argument('--freeze-stages', type=int, default=0,
                      help='keep the stem and the first N stages fixed')
    parser.set_defaults(network=None, num_epochs=30, lr=0.01, lr_step_epochs='20',
                        lr_factor=0.1, wd=1e-4, batch_size=64, load_epoch=0)
    # The pretrained model's protocol before anything is parsed, so that --help shows the
    # defaults this run would use (without --pretrained-model the parser refuses, or helps).
    first = ArgumentParser(add_help=False)
    first.add_argument('--pretrained-model')
    first.add_argument('--load-epoch', type=int, default=0)
    known, _ = first.parse_known_args(argv)
    if known.pretrained_model is None:
        return training_flags.fixed(data.parse_args(parser, argv))
    _, network = checkpoint.resolve(known.pretrained_model, known.load_epoch or 0)
    proto = protocol.resolve(known.pretrained_model, known.load_epoch or 0)
    info = proto.info or {}
    parser.set_defaults(
        network=info.get('network') or network or 'igcv3',
        image_shape=','.join(map(str, proto.image_shape)),
        rgb_mean=','.join('%g' % v for v in proto.mean),
        rgb_std=','.join('%g' % v for v in proto.std), val_resize=proto.resize,
        multiplier=info.get('network_args', {}).get('multiplier', 1.0),
        width_rule=info.get('network_args', {}).get('width_rule', 'upstream'))
    parsed = data.parse_args(parser, argv)
    # --load-epoch names the pretrained model's epoch; the run itself starts from it anew.
    args = training_flags.TrainingConfig(dict(vars(parsed), pretrained_epoch=parsed.load_epoch,
                                              load_epoch=None))
    if not args.model_prefix:
        args = args.replace(model_prefix=training_flags.default_prefix(args) + '-finetuned')
    return args


def replace_head(sym, layer, num_classes, label_smoothing=0.0):
    """``sym`` cut after ``layer``, then a new classifier ``fc`` and ``softmax``."""
    internals = sym.get_internals()
    name = layer + '_output'
    if name not in internals.list_outputs():
        raise UserError('--layer-before-fullc %s: no such layer (the layer before fc is '
                        'flatten)' % layer)
    fc = mx.sym.FullyConnected(internals[name], num_hidden=num_classes, name=CLASSIFIER)
    extra = {'smooth_alpha': float(label_smoothing)} if label_smoothing else {}
    return mx.sym.SoftmaxOutput(fc, name='softmax', **extra)


def frozen(names, stages):
    """The parameters of the stem and of the first ``stages`` stages."""
    heads = [STEM + '-'] + [stage_prefix(i) for i in range(stages)]
    return sorted(n for n in names if any(n.startswith(h) for h in heads))


def main():
    setup_logging()
    args = parse_args()
    if args.num_classes is None:
        raise UserError('--num-classes is required: the class count of the new classifier')
    for flag, value in (('--lr-mult-pretrained', args.lr_mult_pretrained),
                        ('--freeze-stages', args.freeze_stages)):
        if not (math.isfinite(value) and value >= 0):
            raise UserError('%s must be a finite number, 0 or more, got %s' % (flag, value))
    if args.layer_before_fullc in (CLASSIFIER, 'softmax'):
        raise UserError('--layer-before-fullc %s is the classifier itself; name a layer '
                        'before it (flatten, the default)' % args.layer_before_fullc)
    prefix, _ = checkpoint.resolve(args.pretrained_model, args.pretrained_epoch)
    params_path = checkpoint.checkpoint_paths(prefix, args.pretrained_epoch)[1]
    if not os.path.isfile(params_path):
        raise UserError('--pretrained-model %s: %s not found; check --load-epoch, or see '
                        'models/README.md for the released weights'
                        % (args.pretrained_model, params_path))
    arg, aux = checkpoint.load_params(params_path)
    pretrained_classes = checkpoint.num_classes_of(arg)

    def network(a, form):
        return replace_head(training_flags.get_network(a, form), a.layer_before_fullc,
                            a.num_classes, a.label_smoothing)

    # Every pretrained weight must fit the network up to the new head.
    shape = data.image_shape(args)
    original = args.replace(num_classes=pretrained_classes)
    try:
        checkpoint.check_params(training_flags.get_network(original, Form.RELEASED), arg, aux,
                                shape, params_path)
    except UserError as err:
        raise UserError('--pretrained-model %s does not fit --network %s: %s'
                        % (args.pretrained_model, args.network, err))
    if args.layer_before_fullc != FLATTEN and args.fast_group_conv != 0:
        # The CPU training forms compute other values at some inner nodes (a BatchNorm
        # before ReLU6, a permuted or padded activation): a classifier cut there would
        # learn from values the released graph, which checkpoints keep, does not give.
        logging.info('--layer-before-fullc %s: training the released ops '
                     '(--fast-group-conv 0)', args.layer_before_fullc)
        args = args.replace(fast_group_conv=0)
    head = network(args, Form.RELEASED)
    shapes = dict(zip(head.list_arguments(), head.infer_shape(data=(1,) + shape)[0]))
    kept = {k: v for k, v in arg.items() if k in shapes and tuple(v.shape) == shapes[k]}
    dropped = sorted(set(arg) - set(kept))
    logging.info('fine-tuning %s (%d classes) as %d classes: %d pretrained arrays kept, '
                 'new classifier%s', params_path, pretrained_classes, args.num_classes,
                 len(kept) + len(aux), ' (dropped %s)' % ', '.join(dropped) if dropped else '')
    pretrained = sorted(kept)
    stages = len({n.split('-')[1] for n in pretrained if n.startswith('seq-')})
    if args.freeze_stages > stages:
        raise UserError('--freeze-stages %d: the network has %d stages; give 0..%d'
                        % (args.freeze_stages, stages, stages))
    fixed = frozen(pretrained, args.freeze_stages) if args.freeze_stages else []
    lr_mult = {n: args.lr_mult_pretrained for n in pretrained if n not in fixed} \
        if args.lr_mult_pretrained != 1.0 else None
    fit.fit(args, network, initial_params=(kept, aux), fixed_params=fixed, lr_mult=lr_mult)


if __name__ == '__main__':
    run(main)
