"""Random erasing (Zhong et al., "Random Erasing Data Augmentation", 2017), per image of
the training batch, after the iterator's own augmentations (``--random-erasing P``).

With probability P an image gets one rectangle whose area is a uniform fraction of the
image in ``--random-erasing-area`` (the paper's [0.02, 0.4]) and whose aspect ratio
h / w is log-uniform in ``--random-erasing-ratio`` (the paper's [0.3, 1/0.3]), placed
uniformly where it fits (up to 100 draws, as the paper's algorithm; an image for which
none fits is left as it is). The rectangle is filled, in every channel, with pixels
uniform in [0, 255] (``random``, the paper's best) or with the mean pixel (``mean``),
both normalized as the batch is ((v - mean) / std), so the erased pixels look like
pixels. Off (P = 0) in the paper's CIFAR and ImageNet recipes.

It works on whatever the data path gives (ImageRecordIter's batches or the in-memory
ones), on the training thread with numpy; the draws come from a generator seeded by
--seed, the epoch and the worker, so a resumed run erases as an uninterrupted one.
"""
import math

import mxnet as mx
import numpy as np

from .errors import UserError

FILLS = ('random', 'mean')


def add_erasing_args(aug):
    aug.add_argument('--random-erasing', type=float, default=0.0,
                     help='probability of erasing one random rectangle of each training '
                          'image (Zhong et al. 2017; 0: off, the paper recipes; 0.5 the '
                          "erasing paper's)")
    aug.add_argument('--random-erasing-area', type=str, default='0.02,0.4',
                     help='min,max fraction of the image the rectangle covers')
    aug.add_argument('--random-erasing-ratio', type=str, default='0.3,3.33',
                     help='min,max aspect ratio (height / width) of the rectangle')
    aug.add_argument('--random-erasing-fill', type=str, default='random', choices=FILLS,
                     help='random: pixels uniform in 0..255; mean: the mean pixel '
                          '(either normalized like the image)')


def _pair(text, flag):
    try:
        low, high = (float(v) for v in str(text).split(','))
    except ValueError:
        raise UserError("--%s '%s' must be two comma-separated numbers min,max" % (flag, text))
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
        raise UserError("--%s '%s' must be 0 < min <= max" % (flag, text))
    return low, high


def settings(args):
    """(probability, (area min, max), (ratio min, max), fill) of the flags, or None when
    off; a bad value is a UserError naming its flag."""
    p = args.random_erasing
    if not (math.isfinite(p) and 0 <= p <= 1):
        raise UserError('--random-erasing must be a probability in [0, 1], got %s' % p)
    area = _pair(args.random_erasing_area, 'random-erasing-area')
    ratio = _pair(args.random_erasing_ratio, 'random-erasing-ratio')
    if area[1] > 1:
        raise UserError("--random-erasing-area '%s': the fractions must be at most 1"
                        % args.random_erasing_area)
    return (p, area, ratio, args.random_erasing_fill) if p > 0 else None


def erase(images, rng, probability, area, ratio, fill, mean, std):
    """Erase in place one rectangle of each of ``images`` (N, C, H, W float32, normalized
    by ``mean``/``std``) with ``probability``; returns the boolean mask of erased images."""
    n, channels, height, width = images.shape
    mean = np.asarray(mean[:channels], np.float32).reshape(channels, 1, 1)
    std = np.asarray(std[:channels], np.float32).reshape(channels, 1, 1)
    erased = np.zeros(n, bool)
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for i in np.flatnonzero(rng.uniform(size=n) < probability):
        for _ in range(100):
            target = rng.uniform(*area) * height * width
            aspect = math.exp(rng.uniform(*log_ratio))
            h = int(round(math.sqrt(target * aspect)))
            w = int(round(math.sqrt(target / aspect)))
            if 0 < h < height and 0 < w < width:
                top = rng.randint(0, height - h + 1)
                left = rng.randint(0, width - w + 1)
                if fill == 'random':
                    pixels = rng.uniform(0, 255, (channels, h, w)).astype(np.float32)
                    images[i, :, top:top + h, left:left + w] = (pixels - mean) / std
                else:
                    images[i, :, top:top + h, left:left + w] = 0.0
                erased[i] = True
                break
    return erased


class RandomErasingIter(mx.io.DataIter):
    """``data_iter``'s batches with random erasing applied (see the module)."""

    def __init__(self, data_iter, probability, area, ratio, fill, mean, std, seed):
        super(RandomErasingIter, self).__init__(data_iter.batch_size)
        self.data_iter = data_iter
        self.probability, self.area, self.ratio, self.fill = probability, area, ratio, fill
        self.mean, self.std = mean, std
        self.provide_data = data_iter.provide_data
        self.provide_label = data_iter.provide_label
        self.seed = seed
        self.rng = np.random.RandomState(seed)

    def reset(self):
        self.data_iter.reset()
        self.rng = np.random.RandomState(self.seed)

    def next(self):
        batch = self.data_iter.next()
        images = batch.data[0].asnumpy()
        erase(images, self.rng, self.probability, self.area, self.ratio, self.fill,
              self.mean, self.std)
        return mx.io.DataBatch([mx.nd.array(images, ctx=batch.data[0].context)], batch.label,
                               pad=batch.pad, index=batch.index)


def wrap(train, args, seed):
    """``train`` with random erasing when the flags ask for it, else ``train``."""
    chosen = settings(args)
    if chosen is None:
        return train
    from .data import parse_floats
    return RandomErasingIter(train, *chosen, mean=parse_floats(args.rgb_mean, 'rgb-mean'),
                             std=parse_floats(args.rgb_std, 'rgb-std'), seed=seed)
