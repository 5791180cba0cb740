#!/usr/bin/env python
"""Train on CIFAR-10, CIFAR-100 or Fashion-MNIST with the paper's small-image recipe.

    python tools/cifar_to_rec.py cifar-10-python.tar.gz data/cifar10
    python train_cifar.py --dataset cifar10 --network igcv3            # every GPU, else CPU
    python train_cifar.py --dataset cifar100 --network mobilenetv2 --gpus 0
    make fashion-mnist && python train_cifar.py --dataset fashion-mnist --num-epochs 30

Recipe (the same group's IGCV1 code): 400 epochs, batch 64, lr 0.1 x0.1 at epochs 200,
300 and 350, momentum 0.9, wd 1e-4, 4-pixel padding + random 32x32 crop + mirror,
per-channel mean/std. 32x32 inputs select the CIFAR layout of every network.

Fashion-MNIST (--dataset fashion-mnist): its native 28x28 grey images (input 1x28x28; the
CIFAR layout ends on a 4x4 map), mean 72.94 and std 90.02 of its training pixels, the
same padding + random crop (padding black, the images' background, where CIFAR's is mid
grey), mirror on (clothing is left-right symmetric), and the
recipe's schedule scaled to the --num-epochs budget: cosine from lr 0.1 to 0 after one
epoch of linear warm-up (default 30 epochs).
"""
import argparse

from common import runtime
runtime.configure()  # before mxnet loads

from common import data, fit, train  # noqa: E402
from common.cli import run  # noqa: E402

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


def parse_args(argv=None):
    parser = train.make_parser(__doc__.split('\n')[0])
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
    args = data.parse_args(parser, argv)
    # The dataset's name goes with the checkpoints when its own records are trained on.
    args.dataset_name = args.dataset if args.data_train == DATASETS[args.dataset]['data_train'] \
        else None
    if not args.model_prefix:
        args.model_prefix = train.default_prefix(args, args.dataset)
    return args


def main():
    fit.fit(parse_args(), train.get_network)


if __name__ == '__main__':
    run(main)
