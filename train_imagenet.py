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
from common import runtime
runtime.configure()  # before mxnet loads

from common import fit, training_flags  # noqa: E402
from common.cli import run  # noqa: E402
from common.recipes import data_dir_records, parse_imagenet_args  # noqa: E402,F401


def parse_args(argv=None):
    return parse_imagenet_args(argv, __doc__.split('\n')[0])


def main():
    fit.fit(parse_args(), training_flags.get_network)


if __name__ == '__main__':
    run(main)
