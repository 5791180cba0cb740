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
from common import runtime
runtime.configure()  # before mxnet loads

from common import fit, training_flags  # noqa: E402
from common.cli import run  # noqa: E402
from common.recipes import DATASETS, parse_small_image_args  # noqa: E402,F401


def parse_args(argv=None):
    return parse_small_image_args(argv, __doc__.split('\n')[0])


def main():
    fit.fit(parse_args(), training_flags.get_network)


if __name__ == '__main__':
    run(main)
