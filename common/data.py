"""Data arguments and iterators: RecordIO through mx.io.ImageRecordIter, or synthetic data.

Augmentation runs in ImageRecordIter's C++ threads. The flags are those of MXNet's
example/image-classification; ``--aug-level`` presets are applied as parser defaults
before parsing, so a flag given on the command line always wins over its level.
"""
import logging
import os
import time

import mxnet as mx
import numpy as np

from symbol import NetworkConfigError, parse_image_shape
from symbol.registry import IMAGENET_MEAN

from . import erasing, memory_data, record_checks
from .errors import UserError, reason
from .images import MAX_IMAGE_SIDE

# Presets of MXNet's example, cumulative: level 2 includes level 1.
AUG_LEVELS = {
    1: dict(random_crop=1, random_mirror=1),
    2: dict(max_random_h=36, max_random_s=50, max_random_l=50),
    3: dict(max_random_rotate_angle=10, max_random_shear_ratio=0.1,
            max_random_aspect_ratio=0.25),
}


def add_data_args(parser):
    data = parser.add_argument_group('Data', 'the input images')
    data.add_argument('--data-train', type=str, help='training .rec (its .idx beside it)')
    data.add_argument('--data-train-idx', type=str, default='', help='training .idx, if not beside')
    data.add_argument('--data-val', type=str, help='validation .rec')
    data.add_argument('--data-val-idx', type=str, default='', help='validation .idx, if not beside')
    data.add_argument('--rgb-mean', type=str, default=','.join('%g' % v for v in IMAGENET_MEAN),
                      help='per-channel mean subtracted from the pixels')
    data.add_argument('--rgb-std', type=str, default='1,1,1',
                      help='per-channel std the pixels are divided by')
    data.add_argument('--pad-size', type=int, default=0, help='padding around training images')
    data.add_argument('--fill-value', type=int, default=127, help='value of padded pixels')
    data.add_argument('--image-shape', type=str, default='3,224,224',
                      help='channels,height,width fed to the network')
    data.add_argument('--val-resize', type=int, default=256,
                      help='validation: shorter side resized to this before the center crop '
                           '(0 keeps the packed size)')
    data.add_argument('--num-classes', type=int, help='number of classes')
    data.add_argument('--class-names', type=str, default='',
                      help="class names, one per line in label order (or im2rec's "
                           "PREFIX_classes.txt); default: classes.txt or NAME_classes.txt beside "
                           "--data-train, if there; saved with the checkpoints")
    data.add_argument('--num-examples', type=int,
                      help='training examples an epoch: default every record of --data-train; '
                           'fewer trains each epoch on that many of them (shuffled anew)')
    data.add_argument('--num-val-examples', type=int,
                      help='validate each epoch on the first N records of --data-val only '
                           '(default: all of them); a quick curve, not the checkpoint\'s score')
    data.add_argument('--data-nthreads', type=int, default=4, help='decoding threads')
    data.add_argument('--data-in-memory', type=str, default='auto', choices=('auto', '0', '1'),
                      help='decode the training (and validation) images once and augment them '
                           'in memory instead of reading them through ImageRecordIter every '
                           'epoch (faster on few cores; common/memory_data.py): auto where the '
                           'decoded set fits in 2 GiB, every image has the input size and the '
                           'augmentations are padding, random crop and mirror only; 1 requires '
                           'it; 0 never')
    data.add_argument('--benchmark', type=int, default=0,
                      help='1: train on synthetic data, to measure speed')
    data.add_argument('--test-io', type=int, default=0,
                      help='1: only read the training data, to time the pipeline')
    data.add_argument('--dtype', type=str, default='float32',
                      choices=('float32', 'float16', 'bfloat16'),
                      help='precision of the network\'s compute: float16 for GPUs, bfloat16 for '
                           'CPUs with AVX512_BF16 (parameters and checkpoints stay float32)')
    return data


def add_data_aug_args(parser):
    aug = parser.add_argument_group('Augmentation', 'training augmentations (C++ threads)')
    aug.add_argument('--aug-level', type=int, default=0, choices=(0, 1, 2, 3),
                     help='preset: 1 crop+mirror, 2 +HSL jitter, 3 +rotate/shear/aspect; '
                          'explicit flags override it')
    aug.add_argument('--random-crop', type=int, default=0, help='1: random crop')
    aug.add_argument('--random-mirror', type=int, default=0, help='1: random horizontal flip')
    aug.add_argument('--max-random-h', type=int, default=0, help='max change of hue')
    aug.add_argument('--max-random-s', type=int, default=0, help='max change of saturation')
    aug.add_argument('--max-random-l', type=int, default=0, help='max change of lightness')
    aug.add_argument('--min-random-aspect-ratio', type=float, default=None,
                     help='min aspect ratio (with --random-resized-crop)')
    aug.add_argument('--max-random-aspect-ratio', type=float, default=0,
                     help='max change of aspect ratio')
    aug.add_argument('--max-random-rotate-angle', type=int, default=0, help='max rotation, degrees')
    aug.add_argument('--max-random-shear-ratio', type=float, default=0, help='max shear ratio')
    aug.add_argument('--max-random-scale', type=float, default=1, help='max image scale')
    aug.add_argument('--min-random-scale', type=float, default=1,
                     help='min image scale; the crop is image-shape at this scale')
    aug.add_argument('--random-resized-crop', type=int, default=0,
                     help='1: crop a random area and aspect ratio, resized to image-shape')
    aug.add_argument('--max-random-area', type=float, default=1,
                     help='max crop area fraction (with --random-resized-crop)')
    aug.add_argument('--min-random-area', type=float, default=1,
                     help='min crop area fraction (with --random-resized-crop)')
    aug.add_argument('--max-crop-size', type=int, default=-1, help='max crop size (-1: off)')
    aug.add_argument('--min-crop-size', type=int, default=-1, help='min crop size (-1: off)')
    aug.add_argument('--brightness', type=float, default=0, help='brightness jitter')
    aug.add_argument('--contrast', type=float, default=0, help='contrast jitter')
    aug.add_argument('--saturation', type=float, default=0, help='saturation jitter')
    aug.add_argument('--pca-noise', type=float, default=0, help='PCA (lighting) noise')
    erasing.add_erasing_args(aug)
    return aug


def set_data_aug_level(parser, level):
    """Make augmentation ``level``'s settings the parser's defaults (before parsing); the
    settings of higher levels go back to off."""
    defaults = {'aug_level': level}
    for lvl, settings in sorted(AUG_LEVELS.items()):
        defaults.update({k: (v if lvl <= level else 0) for k, v in settings.items()})
    parser.set_defaults(**defaults)


def parse_args(parser, argv=None):
    """Parse with the --aug-level preset applied first, so explicit flags win over it."""
    known, _ = parser.parse_known_args(argv)
    level = getattr(known, 'aug_level', 0)
    if level:
        set_data_aug_level(parser, level)
    return parser.parse_args(argv)


def parse_floats(text, name, count=3):
    try:
        values = [float(v) for v in str(text).split(',')]
    except ValueError:
        raise UserError("--%s '%s' must be %d comma-separated numbers" % (name, text, count))
    if len(values) != count:
        raise UserError("--%s '%s' must be %d comma-separated numbers" % (name, text, count))
    return values


def check_normalization(mean, std, where):
    """Every mean finite and every std finite and positive: (x - mean) / std of anything
    else is NaN or infinite, which trains and scores without a word."""
    bad = [('mean', v) for v in mean if not np.isfinite(v)] + \
        [('std', v) for v in std if not (np.isfinite(v) and v > 0)]
    if bad:
        raise UserError('%s: a %s of %g cannot normalize images (means must be finite, stds '
                        'finite and above 0)' % (where, bad[0][0], bad[0][1]))


def parse_image_shape_flag(text, flag='image-shape'):
    """--image-shape as (C, H, W); a malformed one is a UserError naming the flag."""
    try:
        shape = parse_image_shape(text)
    except NetworkConfigError:
        raise UserError("bad --%s '%s': give channels,height,width, e.g. 3,224,224"
                        % (flag, text))
    if max(shape[1:]) > MAX_IMAGE_SIDE:
        raise UserError('--%s %s: a side of at most %d pixels' % (flag, text, MAX_IMAGE_SIDE))
    return shape


def image_shape(args):
    """args.image_shape as (C, H, W) (parse_image_shape_flag)."""
    return parse_image_shape_flag(args.image_shape)


def _index_path(rec, idx):
    return idx or os.path.splitext(rec)[0] + '.idx'


def _existing_index(rec, idx, flag):
    path = _index_path(rec, idx)
    if os.path.isfile(path):
        return path
    if idx:
        raise UserError('--%s-idx %s: no such file' % (flag, idx))
    logging.warning('%s has no .idx beside it: records are read in file order; pack with '
                    'tools/im2rec.py to get one', rec)
    return ''


def _read_error(flag, err):
    detail = reason(err)
    return UserError('reading --%s failed (%s); find the bad record with tools/im2rec.py '
                     '--verify' % (flag, detail.strip()[:200]))


def record_iter(flag, **kwargs):
    """mx.io.ImageRecordIter(**kwargs); it decodes its first batch at once, so a bad image
    can fail here already: that ends in a UserError naming --flag."""
    try:
        return mx.io.ImageRecordIter(**kwargs)
    except mx.base.MXNetError as err:
        raise _read_error(flag, err)


def eval_record_iter(flag, path, idx, image_shape, batch_size, resize, mean, std, threads,
                     shuffle=False, seed=0, round_batch=False):
    """The evaluation ImageRecordIter (validation, scoring, calibration): shorter side
    resized to ``resize`` (0: as packed), center crop of ``image_shape``, (x - mean) / std,
    no augmentation. Without ``round_batch`` the last batch is not filled from the start
    (common.evaluate counts each image once)."""
    return record_iter(
        flag, path_imgrec=path, path_imgidx=_existing_index(path, idx, flag),
        data_shape=image_shape, batch_size=batch_size, label_width=1, shuffle=shuffle,
        seed=seed, round_batch=round_batch, rand_crop=False, rand_mirror=False,
        resize=resize if resize > 0 else -1, mean_r=mean[0], mean_g=mean[1], mean_b=mean[2],
        std_r=std[0], std_g=std[1], std_b=std[2], preprocess_threads=threads, dtype='float32')


def safe_reset(data_iter, flag):
    """``data_iter.reset()``; ImageRecordIter's prefetching thread may already have met an
    image it cannot decode, and reports it here: a UserError naming --flag."""
    try:
        data_iter.reset()
    except mx.base.MXNetError as err:
        raise _read_error(flag, err)


def safe_batches(data_iter, flag):
    """Iterate ``data_iter``; an image the decoder cannot read ends in a UserError."""
    it = iter(data_iter)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except mx.base.MXNetError as err:
            raise _read_error(flag, err)
        yield batch


def how_to_make(path):
    """How the user makes the records at ``path``: the converter of the dataset its
    folder names (this repository's default paths), else tools/im2rec.py."""
    parts = os.path.normpath(path).split(os.sep)
    if 'fashion-mnist' in parts:
        return 'make them with make fashion-mnist (or tools/mnist_to_rec.py SRC_DIR OUT_DIR)'
    for name in ('cifar10', 'cifar100'):
        if name in parts:
            return ('convert the archive with tools/cifar_to_rec.py %s-python.tar.gz data/%s'
                    % (name.replace('cifar', 'cifar-'), name))
    return 'pack one with tools/im2rec.py'


def require_file(path, flag):
    if not path:
        raise UserError('--%s is required (a .rec made by tools/im2rec.py)' % flag)
    if not os.path.isfile(path):
        raise UserError('--%s %s: no such file; %s' % (flag, path, how_to_make(path)))


_scanned = {}


def scan_records(rec_path, flag):
    """(offsets, labels) of every record in a .rec, reading only the headers (seeking
    past the images); a record with several labels is refused (training takes one).
    Kept for the process's life, keyed by the file, its size and time: each epoch's
    loader asks again."""
    stat = os.stat(rec_path)
    key = (os.path.abspath(rec_path), stat.st_size, stat.st_mtime_ns)
    if key not in _scanned:
        _scanned[key] = _scan_records(rec_path, flag)
    offsets, labels = _scanned[key]
    return list(offsets), list(labels)


def _scan_records(rec_path, flag):
    heads = record_checks.scan(rec_path)
    several = next((i for i, h in enumerate(heads) if h[3] > 1), None)
    if several is not None:
        raise UserError('--%s %s: record %d has %d labels, but training takes one label per '
                        'image; pack it without --pack-label'
                        % (flag, rec_path, several, heads[several][3]))
    return [h[0] for h in heads], [h[1] for h in heads]


def check_index(rec_path, idx_path, record_offsets, flag):
    """The .idx lists exactly the records of the .rec, each at a record's start."""
    problem = record_checks.index_problem(record_checks.read_index(idx_path, flag),
                                          record_offsets)
    if problem:
        raise UserError('--%s: %s does not match %s (%s); repack both with tools/im2rec.py'
                        % (flag, idx_path, rec_path, problem))


def check_labels(rec_path, num_classes, flag, idx=''):
    """Every label an integer in [0, num_classes), and the index (``idx``, or the .idx
    beside the .rec if any) in agreement with the .rec; returns the record count."""
    offsets, labels = scan_records(rec_path, flag)
    idx_path = _index_path(rec_path, idx)
    if idx and not os.path.isfile(idx_path):
        raise UserError('--%s-idx %s: no such file' % (flag, idx))
    if os.path.isfile(idx_path):
        check_index(rec_path, idx_path, offsets, flag)
    labels = np.asarray(labels)
    if labels.size == 0:
        raise UserError('--%s %s holds no records; pack a non-empty dataset' % (flag, rec_path))
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes) | (labels != np.floor(labels)))
    if bad.size:
        raise UserError('--%s %s: record %d has label %g, outside 0..%d of --num-classes %d; '
                        'fix --num-classes or the dataset'
                        % (flag, rec_path, bad[0], labels[bad[0]], num_classes - 1, num_classes))
    return int(labels.size)


def _worker_part(kv):
    return (kv.rank, kv.num_workers) if kv is not None else (0, 1)


def batches_per_epoch(args, kv=None):
    """Training batches each worker runs in an epoch: its share of --num-examples in whole
    batches, the last one filled from the start (all workers run the same number; the
    iterator is cut or extended to it, and the learning-rate schedule counts it)."""
    _, num_workers = _worker_part(kv)
    return max(1, -(-args.num_examples // (args.batch_size * num_workers)))


def get_rec_iter(args, kv=None, epoch=0):
    """(train, val) ImageRecordIters; ``val`` is None without --data-val.

    Each epoch gets its own shuffle and augmentation seeds derived from --seed, so a run
    resumed at epoch N sees the same data order as an uninterrupted one. With several
    workers each trains on its part and the iterator is resized so that all of them run
    the same number of batches (dist_sync would hang otherwise); every worker validates on
    the whole validation set (the count of a part is not known, see common.evaluate).
    """
    shape = image_shape(args)
    mean = parse_floats(args.rgb_mean, 'rgb-mean')
    std = parse_floats(args.rgb_std, 'rgb-std')
    rank, num_workers = _worker_part(kv)
    require_file(args.data_train, 'data-train')
    seed = (args.seed if args.seed is not None else 0) + epoch
    base = dict(data_shape=shape, batch_size=args.batch_size, label_width=1,
                mean_r=mean[0], mean_g=mean[1], mean_b=mean[2],
                std_r=std[0], std_g=std[1], std_b=std[2],
                preprocess_threads=args.data_nthreads, dtype='float32')
    aug = dict(rand_crop=args.random_crop, rand_mirror=args.random_mirror,
               random_h=args.max_random_h, random_s=args.max_random_s,
               random_l=args.max_random_l, max_aspect_ratio=args.max_random_aspect_ratio,
               max_rotate_angle=args.max_random_rotate_angle,
               max_shear_ratio=args.max_random_shear_ratio,
               max_random_scale=args.max_random_scale, min_random_scale=args.min_random_scale,
               random_resized_crop=args.random_resized_crop,
               max_random_area=args.max_random_area, min_random_area=args.min_random_area,
               max_crop_size=args.max_crop_size, min_crop_size=args.min_crop_size,
               brightness=args.brightness, contrast=args.contrast, saturation=args.saturation,
               pca_noise=args.pca_noise, pad=args.pad_size, fill_value=args.fill_value)
    if args.min_random_aspect_ratio is not None:
        aug['min_aspect_ratio'] = args.min_random_aspect_ratio
    memory = _memory_sets(args, shape, rank, num_workers)
    if memory is not None:
        (images, labels), val_set = memory
        num_batches = batches_per_epoch(args, kv) if args.num_examples is not None \
            else -(-len(labels) // args.batch_size)
        train = memory_data.MemoryTrainIter(
            images, labels, args.batch_size, num_batches, args.pad_size, args.fill_value,
            args.random_crop, args.random_mirror, mean, std, seed=(seed, rank))
        val = memory_data.MemoryEvalIter(val_set[0], val_set[1], args.batch_size, mean, std) \
            if val_set is not None else None
        if args.data_val and val is None:
            val = eval_record_iter('data-val', args.data_val, args.data_val_idx, shape,
                                   args.batch_size, args.val_resize, mean, std,
                                   args.data_nthreads)
        return erasing.wrap(train, args, (seed, rank, 1)), val
    train = record_iter(
        'data-train', path_imgrec=args.data_train,
        path_imgidx=_existing_index(args.data_train, args.data_train_idx, 'data-train'),
        shuffle=True, seed=seed, seed_aug=seed, round_batch=True, num_parts=num_workers,
        part_index=rank, **dict(base, **aug))
    if args.num_examples is not None:  # (common.fit sets it: the records, or fewer)
        train = mx.io.ResizeIter(train, batches_per_epoch(args, kv))
    val = None
    if args.data_val:
        require_file(args.data_val, 'data-val')
        val = eval_record_iter('data-val', args.data_val, args.data_val_idx, shape,
                               args.batch_size, args.val_resize, mean, std, args.data_nthreads)
    return erasing.wrap(train, args, (seed, rank, 1)), val


_said = set()


def _say_once(message, *values):
    text = message % values
    if text not in _said:
        _said.add(text)
        logging.info(text)


def _memory_sets(args, shape, rank, num_workers):
    """((images, labels) of this worker's part of --data-train, (images, labels) of
    --data-val or None) decoded in memory (common.memory_data), or None to read the
    records through ImageRecordIter, as --data-in-memory and the data allow."""
    choice = args.data_in_memory
    if choice == '0':
        return None
    offsets, _ = scan_records(args.data_train, 'data-train')
    why = memory_data.unsupported_augmentation(args)
    if why is None and not memory_data.fits(len(offsets), shape):
        why = '%d images of %s take more than %d MB' % (
            len(offsets), 'x'.join(map(str, shape)), memory_data.MEMORY_LIMIT >> 20)
    train_set = memory_data.decode(args.data_train, offsets, shape) if why is None else None
    if why is None and train_set is None:
        why = 'its images are not all of the input size %s' % 'x'.join(map(str, shape[1:]))
    if why is not None:
        if choice == '1':
            raise UserError('--data-in-memory 1: %s cannot be decoded into memory (%s); use '
                            '--data-in-memory auto or 0' % (args.data_train, why))
        _say_once('training data read through ImageRecordIter (not in memory: %s)', why)
        return None
    part = np.array_split(np.arange(len(train_set[1])), num_workers)[rank]
    if num_workers > 1:
        train_set = train_set[0][part], train_set[1][part]
    val_set = None
    if args.data_val and args.val_resize <= 0:
        val_offsets, _ = scan_records(args.data_val, 'data-val')
        if memory_data.fits(len(val_offsets), shape):
            val_set = memory_data.decode(args.data_val, val_offsets, shape)
    _say_once('training data decoded once into memory (%d images, %.0f MB%s); validation %s',
              len(train_set[1]), train_set[0].nbytes / 1e6,
              ', part %d of %d' % (rank + 1, num_workers) if num_workers > 1 else '',
              'in memory' if val_set is not None else
              'none' if not args.data_val else 'through ImageRecordIter')
    return train_set, val_set


class SyntheticDataIter(mx.io.DataIter):
    """Random images and labels of the training shape, made once; for --benchmark 1."""

    def __init__(self, num_classes, data_shape, num_batches, dtype='float32', seed=0):
        super(SyntheticDataIter, self).__init__(data_shape[0])
        self.num_batches = num_batches
        self.cursor = 0
        rng = np.random.RandomState(seed)
        data = mx.nd.array(rng.uniform(-1, 1, data_shape), dtype=dtype)
        label = mx.nd.array(rng.randint(0, num_classes, (data_shape[0],)))
        self.batch = mx.io.DataBatch([data], [label], pad=0)
        self.provide_data = [mx.io.DataDesc('data', data_shape, dtype)]
        self.provide_label = [mx.io.DataDesc('softmax_label', (data_shape[0],), np.float32)]

    def reset(self):
        self.cursor = 0

    def next(self):
        if self.cursor >= self.num_batches:
            raise StopIteration
        self.cursor += 1
        return self.batch


def get_synthetic_iter(args, kv=None, epoch=0):
    shape = (args.batch_size,) + image_shape(args)
    return SyntheticDataIter(args.num_classes, shape, batches_per_epoch(args, kv),
                             seed=epoch), None


def time_data_pipeline(train, batch_size, disp_batches):
    """--test-io: read an epoch of training batches, logging images/s; returns images/s."""
    tic = start = time.time()
    count = 0
    for nbatch, _ in enumerate(train, 1):
        count += batch_size
        if nbatch % disp_batches == 0:
            logging.info('Batch [%d]\tSpeed: %.2f samples/sec', nbatch,
                         disp_batches * batch_size / (time.time() - tic))
            tic = time.time()
    rate = count / max(time.time() - start, 1e-9)
    logging.info('Read %d images at %.2f samples/sec', count, rate)
    return rate
