"""scikit-learn's handwritten digits (1,797 8x8 images of 0..16, shipped with the
package: the real data the demos train on without a download), as uint8 images of a
chosen size."""
import os

import cv2
import numpy as np

from .classes import write_class_names
from .errors import UserError
from .recordio import write_image_records


def digit_images(side, limit=None):
    """(images, labels): the digits scaled to 0..255 and resized to ``side`` x ``side``
    (bicubic), grey uint8 arrays in the package's order; the first ``limit`` of them."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    images, labels = digits.images, digits.target
    if limit:
        images, labels = images[:limit], labels[:limit]
    grey = (np.clip(img * 16, 0, 255).astype(np.uint8) for img in images)
    return [cv2.resize(g, (side, side), interpolation=cv2.INTER_CUBIC) for g in grey], labels


def write_digit_folders(folder, limit=None):
    """The digits as 32x32 RGB PNGs, one folder per class; returns the image count."""
    images, labels = digit_images(32, limit)
    for i, (big, label) in enumerate(zip(images, labels)):
        out = os.path.join(folder, str(label))
        os.makedirs(out, exist_ok=True)
        cv2.imwrite(os.path.join(out, '%04d.png' % i), cv2.cvtColor(big, cv2.COLOR_GRAY2BGR))
    return len(images)


def write_digit_records(folder, train_count, seed=0):
    """scikit-learn's digits as 28x28 grey PNG records: train.rec (``train_count`` of
    them, a fixed shuffle) and val.rec (the rest), and classes.txt."""
    images, labels = digit_images(28)
    order = np.random.RandomState(seed).permutation(len(labels))
    if not 0 < train_count < len(order):
        raise UserError('--train-digits must be between 1 and %d' % (len(order) - 1))
    for split, part in (('train', order[:train_count]), ('val', order[train_count:])):
        write_image_records(os.path.join(folder, split), [images[k] for k in part], labels[part])
    write_class_names(os.path.join(folder, 'classes.txt'), [str(d) for d in range(10)])
    return train_count, len(order) - train_count


def channel_stats(folder):
    """The RGB mean and std (0..255) over every pixel of the images under ``folder``."""
    pixels = []
    for root, _, files in os.walk(folder):
        for name in files:
            pixels.append(cv2.imread(os.path.join(root, name))[:, :, ::-1].reshape(-1, 3))
    pixels = np.concatenate(pixels).astype(np.float64)
    return pixels.mean(axis=0), pixels.std(axis=0)
