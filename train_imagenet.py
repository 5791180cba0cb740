#!/usr/bin/env python
"""Train on ImageNet with the upstream IGCV3 recipe.

    # one machine, every visible GPU (the CPU if none):
    python train_imagenet.py --network=IGCV3 --multiplier=1.0 --data-dir=data/imagenet
    # chosen GPUs; --batch-size is the total per machine, split over them:
    python train_imagenet.py --gpus=0,1,2,3 --batch-size=96 --data-dir=data/imagenet
    # two machines (hosts file), parameter server:
    python tools/launch.py -n 2 -H hosts --launcher ssh \\
        python train_imagenet.py --kv-store dist_sync --data-dir=data/imagenet

Data: train.rec and val.rec (or NAME_train.rec and NAME_val.rec) in --data-dir, packed by
tools/im2rec.py (docs/training.md, ImageNet: the training tree and the flat validation folder).
Recipe: 480 epochs, SGD momentum 0.9, lr 0.045 x0.98 after every epoch, wd 4e-5, total
batch 96, Xavier(gaussian, in, 2), mean subtraction only, random crop + mirror + HSL
jitter at random scale 0.533-1.0; validation center crop 224 of the 256 short side.
"""
import os

from common import runtime
runtime.configure()  # before mxnet loads

from common import data, fit, train  # noqa: E402
from common.cli import run  # noqa: E402
from common.errors import UserError  # noqa: E402


def data_dir_records(folder):
    """(train .rec, val .rec) of --data-dir: train.rec and val.rec, or the one NAME_train.rec
    and NAME_val.rec pair that tools/im2rec.py --list --train-ratio packs."""
    if not os.path.isdir(folder):
        raise UserError('--data-dir %s: no such folder' % folder)
    for train_rec, val in (('train.rec', 'val.rec'),) + tuple(
            (n, n[:-len('_train.rec')] + '_val.rec') for n in sorted(os.listdir(folder))
            if n.endswith('_train.rec')):
        if os.path.isfile(os.path.join(folder, train_rec)):
            return (os.path.join(folder, train_rec),
                    os.path.join(folder, val) if os.path.isfile(os.path.join(folder, val)) else '')
    raise UserError('--data-dir %s holds neither train.rec nor NAME_train.rec: pack them with '
                    'tools/im2rec.py (docs/training.md, ImageNet)' % folder)


def parse_args(argv=None):
    parser = train.make_parser(__doc__.split('\n')[0])
    parser.add_argument('--data-dir', type=str, default='',
                        help='folder holding train.rec/.idx and val.rec/.idx (overrides '
                             '--data-train/--data-val)')
    data.set_data_aug_level(parser, 2)
    parser.set_defaults(
        network='igcv3', num_classes=1000, image_shape='3,224,224',
        num_epochs=480, lr=0.045, lr_factor=0.98, lr_step_epochs='every', wd=4e-5, mom=0.9,
        batch_size=96, optimizer='sgd', initializer='xavier', top_k=5,
        min_random_scale=0.533, max_random_scale=1.0, rgb_mean='123.68,116.779,103.939',
        rgb_std='1,1,1', val_resize=256, data_nthreads=8, disp_batches=50)
    args = data.parse_args(parser, argv)
    if args.data_dir:
        args.data_train, args.data_val = data_dir_records(args.data_dir)
    if not args.model_prefix:
        args.model_prefix = train.default_prefix(args)
    return args


def main():
    fit.fit(parse_args(), train.get_network)


if __name__ == '__main__':
    run(main)
