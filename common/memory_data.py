"""Small datasets decoded once and augmented in memory (``--data-in-memory``).

On a machine with few cores, mx.io.ImageRecordIter's decoding and prefetch threads
share the cores with the training's OpenMP team on every batch: on this project's 2-core
machine a Fashion-MNIST epoch trained at 95 images/s from records and at 136 on
synthetic data of the same shape (docs/speed.md). A set whose decoded images fit in
memory, all of the network's input size, and whose training augmentations are only
ImageRecordIter's padding, random crop and mirror is therefore decoded once (OpenCV,
with ImageRecordIter's channel flag; the first images are checked against MXNet's own
decoder, the one ImageRecordIter calls, pixel for pixel), and each batch is cut from it
with numpy on the training thread: the same pixels, the same augmentations drawn from the
same distributions (crop offsets uniform over the padded image, a mirror with
probability 1/2, padding of ``fill_value``), then ``(x - mean) / std`` in float32.
Anything else (other augmentations, images of other sizes, a set too large) reads the
records through ImageRecordIter as before; common.data.get_rec_iter decides, and logs
which.
"""
import logging
import os

import mxnet as mx
import numpy as np

from . import recordio
from .errors import UserError

# Decoded bytes (uint8 pixels) a set may take in memory.
MEMORY_LIMIT = 2 << 30

# Training flags (attribute names) whose non-default values only ImageRecordIter applies.
RECORD_ITER_ONLY = dict(
    max_random_h=0, max_random_s=0, max_random_l=0, max_random_aspect_ratio=0,
    max_random_rotate_angle=0, max_random_shear_ratio=0, max_random_scale=1,
    min_random_scale=1, random_resized_crop=0, max_crop_size=-1, min_crop_size=-1,
    brightness=0, contrast=0, saturation=0, pca_noise=0)

_decoded = {}


def unsupported_augmentation(args):
    """The first training flag (as --flag value) that only ImageRecordIter applies, or None."""
    for name, default in sorted(RECORD_ITER_ONLY.items()):
        value = getattr(args, name)
        if value != default:
            return '--%s %s' % (name.replace('_', '-'), value)
    if args.min_random_aspect_ratio is not None:
        return '--min-random-aspect-ratio %s' % args.min_random_aspect_ratio
    return None


def decode(rec_path, offsets, image_shape):
    """(images uint8 (N, C, H, W), labels float32) of the records at ``offsets`` (a .rec in
    file order), decoded as ImageRecordIter decodes them for ``image_shape``'s channels;
    None when a record's image is not H x W (ImageRecordIter would crop or resize it) or
    the first images' pixels differ from ImageRecordIter's (another decoder build).
    Kept for the process's life, keyed by the file, its size and time, and the shape."""
    import cv2
    stat = os.stat(rec_path)
    key = (os.path.abspath(rec_path), stat.st_size, stat.st_mtime_ns, tuple(image_shape))
    if key not in _decoded:
        _decoded[key] = _decode(rec_path, offsets, image_shape, cv2)
    return _decoded[key]


def _decode(rec_path, offsets, image_shape, cv2):
    channels, height, width = image_shape
    images = np.empty((len(offsets), height, width, channels), np.uint8)
    labels = np.empty(len(offsets), np.float32)
    flag = cv2.IMREAD_COLOR if channels == 3 else cv2.IMREAD_GRAYSCALE
    with open(rec_path, 'rb') as f:
        for i, offset in enumerate(offsets):
            label, _, _, payload = recordio.unpack_image_record(recordio.read_record_at(f, offset))
            img = cv2.imdecode(np.frombuffer(payload, np.uint8), flag)
            if img is None:
                raise UserError('%s: the image of record %d does not decode; find bad records '
                                'with tools/im2rec.py --verify' % (rec_path, i))
            if img.shape[:2] != (height, width):
                logging.info('%s: record %d is %dx%d, not the input %dx%d', rec_path, i,
                             img.shape[0], img.shape[1], height, width)
                return None
            images[i] = img[:, :, ::-1].reshape(height, width, channels) if channels == 3 \
                else img.reshape(height, width, 1)
            labels[i] = np.float32(label if np.isscalar(label) else label[0])
    images = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    return (images, labels) if _same_as_mxnet(rec_path, offsets, images, image_shape) else None


def _same_as_mxnet(rec_path, offsets, images, image_shape, count=256):
    """The first ``count`` images equal MXNet's own decoding of them (mx.image.imdecode:
    the OpenCV inside libmxnet, which ImageRecordIter decodes with), pixel for pixel.

    Not ImageRecordIter itself: making one, even dropped at once, leaves a thread of its
    OpenMP pool alive, and with more OpenMP threads than cores GNU libgomp throttles the
    spin-wait of every team (gomp_managed_threads > available CPUs), so the training
    step's OpenMP team sleeps in futex calls between parallel regions: on this project's
    2-core machine a Fashion-MNIST step fell from about 170 to 125 images/s for the rest
    of the process (docs/speed.md). tests/test_memory_data.py compares the batches with
    ImageRecordIter's."""
    n = min(count, len(images))
    flag = 1 if image_shape[0] == 3 else 0
    theirs = np.empty_like(images[:n])
    with open(rec_path, 'rb') as f:
        for i in range(n):
            _, _, _, payload = recordio.unpack_image_record(recordio.read_record_at(f, offsets[i]))
            img = mx.image.imdecode(payload, flag=flag).asnumpy()
            theirs[i] = img.transpose(2, 0, 1)
    if not np.array_equal(theirs, images[:n]):
        logging.warning('%s: OpenCV decodes its images unlike MXNet (largest pixel '
                        'difference %d)', rec_path,
                        np.abs(theirs.astype(int) - images[:n]).max())
        return False
    return True


def fits(count, image_shape):
    return count * int(np.prod(image_shape)) <= MEMORY_LIMIT


def _normalize(pixels, mean, std):
    channels = pixels.shape[1]
    mean = np.asarray(mean[:channels], np.float32).reshape(1, channels, 1, 1)
    scale = np.float32(1) / np.asarray(std[:channels], np.float32).reshape(1, channels, 1, 1)
    return (pixels.astype(np.float32) - mean) * scale  # (ImageRecordIter's rounding)


class _MemoryIter(mx.io.DataIter):
    def __init__(self, batch_size, image_shape):
        super(_MemoryIter, self).__init__(batch_size)
        self.provide_data = [mx.io.DataDesc('data', (batch_size,) + tuple(image_shape),
                                            np.float32)]
        self.provide_label = [mx.io.DataDesc('softmax_label', (batch_size,), np.float32)]
        self.cursor = 0

    def reset(self):
        self.cursor = 0


class MemoryTrainIter(_MemoryIter):
    """Training batches from decoded ``images``: ``num_batches`` a pass, in an order
    shuffled by ``seed`` (the last batch filled from the start of the order, as
    ImageRecordIter's round_batch), each image padded by ``pad`` pixels of ``fill_value``,
    cropped at a random offset (``rand_crop``; else the centre) and mirrored with
    probability 1/2 (``rand_mirror``). A reset starts the same pass again, as an epoch's
    ImageRecordIter does; common.data makes one per epoch, seeded by the epoch."""

    def __init__(self, images, labels, batch_size, num_batches, pad, fill_value, rand_crop,
                 rand_mirror, mean, std, seed):
        super(MemoryTrainIter, self).__init__(batch_size, images.shape[1:])
        self.labels, self.num_batches = labels, num_batches
        self.mean, self.std, self.rand_crop, self.rand_mirror = mean, std, rand_crop, rand_mirror
        self.pad = pad
        self.padded = np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad)),
                             constant_values=fill_value) if pad else images
        self.seed = seed
        self.reset()

    def reset(self):
        self.cursor = 0
        self.rng = np.random.RandomState(self.seed)
        self.order = self.rng.permutation(len(self.labels))

    def next(self):
        if self.cursor >= self.num_batches:
            raise StopIteration
        n = self.batch_size
        picked = self.order[(self.cursor * n + np.arange(n)) % len(self.order)]
        self.cursor += 1
        _, channels, height, width = self.provide_data[0].shape
        span = 2 * self.pad + 1
        top, left = ((self.rng.randint(0, span, n), self.rng.randint(0, span, n))
                     if self.rand_crop else (np.full(n, self.pad), np.full(n, self.pad)))
        rows = top[:, None] + np.arange(height)
        cols = left[:, None] + np.arange(width)
        if self.rand_mirror:
            mirror = self.rng.randint(0, 2, n).astype(bool)
            cols[mirror] = cols[mirror, ::-1]
        pixels = self.padded[picked[:, None, None, None], np.arange(channels)[:, None, None],
                             rows[:, None, :, None], cols[:, None, None, :]]
        return mx.io.DataBatch([mx.nd.array(_normalize(pixels, self.mean, self.std))],
                               [mx.nd.array(self.labels[picked])], pad=0)


class MemoryEvalIter(_MemoryIter):
    """Every decoded image once, in record order, ``(x - mean) / std``; the last batch's
    missing rows are zeros, counted in its ``pad``."""

    def __init__(self, images, labels, batch_size, mean, std):
        super(MemoryEvalIter, self).__init__(batch_size, images.shape[1:])
        self.images, self.labels, self.mean, self.std = images, labels, mean, std

    def next(self):
        start = self.cursor * self.batch_size
        if start >= len(self.labels):
            raise StopIteration
        self.cursor += 1
        pixels = self.images[start:start + self.batch_size]
        labels = self.labels[start:start + self.batch_size]
        pad = self.batch_size - len(labels)
        data = _normalize(pixels, self.mean, self.std)
        if pad:
            data = np.concatenate([data, np.zeros((pad,) + data.shape[1:], np.float32)])
            labels = np.concatenate([labels, np.zeros(pad, np.float32)])
        return mx.io.DataBatch([mx.nd.array(data)], [mx.nd.array(labels)], pad=pad)
