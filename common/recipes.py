"""The training recipes: the datasets train_cifar.py knows and the flags (with their
defaults) of train_cifar.py and train_imagenet.py, which only call these and common/fit.py.
Tools that run a recipe (tools/benchmark.py, tools/reproduce.py) read it here.

Small images (the same group's IGCV1 code): 400 epochs, batch 64, lr 0.1 x0.1 at epochs
200, 300 and 350, momentum 0.9, wd 1e-4, 4-pixel padding + random 32x32 crop + mirror,
per-channel mean/std. Fashion-MNIST: its native 1x28x28 input, black padding, and a cosine
schedule over --num-epochs (default 30) after one epoch of warm-up.

ImageNet (upstream IGCV3): 480 epochs, SGD momentum 0.9, lr 0.045 x0.98 after every epoch,
wd 4e-5, total batch 96, Xavier(gaussian, in, 2), mean subtraction only, random crop +
mirror + HSL jitter at random scale 0.533-1.0; validation center crop 224 of the 256 short
side.
"""
import argparse
import os

from symbol.registry import IMAGENET_MEAN

from . import data, training_flags
from .errors import UserError

SMALL_IMAGE_DESCRIPTION = ('Train on CIFAR-10, CIFAR-100 or Fashion-MNIST with the paper\'s '
                           'small-image recipe.')
IMAGENET_DESCRIPTION = 'Train on ImageNet with the upstream IGCV3 recipe.'

DATASETS = {
    'cifar10': dict(num_classes=10, rgb_mean='125.307,122.950,113.865',
                    rgb_std='62.993,62.089,66.705', data_train='data/cifar10/train.rec',
                    data_val='data/cifar10/val.rec'),
    'cifar100': dict(num_classes=100, rgb_mean='129.304,124.070,112.434',
                     rgb_std='68.170,65.392,70.418', data_train='data/cifar100/train.rec',
                     data_val='data/cifar100/val.rec'),
    # tools/mnist_to_rec.py (make fashion-mnist); mean/std over the 60,000 training images.
    'fashion-mnist': dict(num_classes=10, rgb_mean='72.94,72.94,72.94',
                          rgb_std='90.02,90.02,90.02', data_train='data/fashion-mnist/train.rec',
                          data_val='data/fashion-mnist/val.rec', image_shape='1,28,28',
                          num_epochs=30, lr_scheduler='cosine', warmup_epochs=1,
                          lr_step_epochs='', fill_value=0),
}


def parse_small_image_args(argv=None, description=SMALL_IMAGE_DESCRIPTION):
    """The flags of train_cifar.py: the --dataset's recipe as defaults, then ``argv``."""
    parser = training_flags.make_parser(description)
    parser.add_argument('--dataset', type=str, default='cifar10', choices=sorted(DATASETS),
                        help='sets the class count, mean/std, default .rec paths and, for '
                             'fashion-mnist, the 1x28x28 input and a cosine schedule over '
                             '--num-epochs (see the description above)')
    parser.add_argument('--layout', type=str, default='cifar', choices=('cifar', 'imagenet'),
                        help='network layout (cifar: stem and second stage at stride 1)')
    data.set_data_aug_level(parser, 1)
    parser.set_defaults(
        network='igcv3', image_shape='3,32,32', num_epochs=400,
        batch_size=64, lr=0.1, lr_factor=0.1, lr_step_epochs='200,300,350', mom=0.9, wd=1e-4,
        pad_size=4, val_resize=0, data_nthreads=2, kv_store='device', top_k=0)
    # The dataset's recipe before anything is parsed, so that --help shows the defaults
    # this run would use (a --dataset not in DATASETS is left to the parser to refuse).
    dataset = argparse.ArgumentParser(add_help=False)
    dataset.add_argument('--dataset', default='cifar10')
    known, _ = dataset.parse_known_args(argv)
    parser.set_defaults(**DATASETS.get(known.dataset, {}))
    args = training_flags.fixed(data.parse_args(parser, argv))
    # The dataset's name goes with the checkpoints when its own records are trained on.
    args = args.replace(dataset_name=args.dataset
                        if args.data_train == DATASETS[args.dataset]['data_train'] else None)
    if not args.model_prefix:
        args = args.replace(model_prefix=training_flags.default_prefix(args, args.dataset))
    return args


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


def parse_imagenet_args(argv=None, description=IMAGENET_DESCRIPTION):
    """The flags of train_imagenet.py: the upstream recipe as defaults, then ``argv``."""
    parser = training_flags.make_parser(description)
    parser.add_argument('--data-dir', type=str, default='',
                        help='folder holding train.rec/.idx and val.rec/.idx (overrides '
                             '--data-train/--data-val)')
    data.set_data_aug_level(parser, 2)
    parser.set_defaults(
        network='igcv3', num_classes=1000, image_shape='3,224,224',
        num_epochs=480, lr=0.045, lr_factor=0.98, lr_step_epochs='every', wd=4e-5, mom=0.9,
        batch_size=96, optimizer='sgd', initializer='xavier', top_k=5,
        min_random_scale=0.533, max_random_scale=1.0, rgb_mean=','.join('%g' % v for v in IMAGENET_MEAN),
        rgb_std='1,1,1', val_resize=256, data_nthreads=8, disp_batches=50)
    args = training_flags.fixed(data.parse_args(parser, argv))
    if args.data_dir:
        data_train, data_val = data_dir_records(args.data_dir)
        args = args.replace(data_train=data_train, data_val=data_val)
    if not args.model_prefix:
        args = args.replace(model_prefix=training_flags.default_prefix(args))
    return args
