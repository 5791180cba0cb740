#!/usr/bin/env python
"""Pack image folders into RecordIO (.rec + .idx), with MXNet's im2rec command line.

    # list: one label per class folder, 95% train / 5% val, shuffled
    python tools/im2rec.py data/imagenet/train ~/ILSVRC2012/train --list --recursive
    # pack every PREFIX*.lst, shorter side 480, 16 threads
    python tools/im2rec.py data/imagenet/train ~/ILSVRC2012/train --resize 480 --quality 95 --num-thread 16
    # check a packed file
    python tools/im2rec.py --verify data/imagenet/train

Same flags, .lst format (index, label(s), relative path, tab-separated) and record layout
as the im2rec.py in the mxnet wheel, so commands from MXNet's documentation work. On top:
decoding and encoding run in a pool of threads (OpenCV releases the GIL) feeding an
ordered writer; progress with rate and ETA; unreadable images are skipped, counted and
listed (--strict makes them an error); outputs are written under temporary names and
renamed when complete; --verify checks a packed file.
"""
import collections
import concurrent.futures
import glob
import logging
import os
import random
import time

import _path  # noqa: F401
from common import recordio
from common.atomic import atomic_path
from common.cli import ArgumentParser, UserError, run, setup_logging
from common.progress import Progress
from common.recfile import AtomicRecordWriter

import cv2
import numpy as np

# MXNet's list mode shuffles with this seed; the same folder gives the same .lst.
LIST_SEED = 100


def list_images(root, recursive, exts):
    """[(index, relative path, label)] and {folder: label}: one label per folder holding
    images, in sorted walk order; without --recursive every image of root has label 0."""
    exts = {e.lower() for e in exts}
    items, classes = [], collections.OrderedDict()
    if recursive:
        for folder, dirs, files in os.walk(root, followlinks=True):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(folder, name)
                if os.path.splitext(name)[1].lower() in exts and os.path.isfile(path):
                    label = classes.setdefault(folder, len(classes))
                    items.append((len(items), os.path.relpath(path, root), label))
    else:
        for name in sorted(os.listdir(root)):
            path = os.path.join(root, name)
            if os.path.splitext(name)[1].lower() in exts and os.path.isfile(path):
                items.append((len(items), os.path.relpath(path, root), 0))
    return items, classes


def write_list(path, items):
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        for index, rel, label in items:
            f.write('%d\t%f\t%s\n' % (index, label, rel))


def make_lists(args):
    if not os.path.isdir(args.root):
        raise UserError('%s: no such folder of images' % args.root)
    if not 0 <= args.test_ratio <= 1 or not 0 < args.train_ratio <= 1 \
            or args.train_ratio + args.test_ratio > 1:
        raise UserError('--train-ratio %g and --test-ratio %g must be fractions summing to at '
                        'most 1' % (args.train_ratio, args.test_ratio))
    if args.chunks < 1:
        raise UserError('--chunks must be at least 1')
    items, classes = list_images(args.root, args.recursive, args.exts)
    if not items:
        raise UserError('no images with extensions %s under %s' % (' '.join(args.exts), args.root))
    if os.path.dirname(args.prefix):
        os.makedirs(os.path.dirname(args.prefix), exist_ok=True)
    if args.recursive:
        lines = ['%s\t%d' % (os.path.relpath(folder, args.root), label)
                 for folder, label in classes.items()]
        with atomic_path(args.prefix + '_classes.txt') as tmp, open(tmp, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        logging.info('%d classes (saved to %s_classes.txt):\n%s', len(classes), args.prefix,
                     '\n'.join(lines))
    if args.shuffle:
        random.seed(LIST_SEED)
        random.shuffle(items)
    chunk_size = (len(items) + args.chunks - 1) // args.chunks
    written = []
    for c in range(args.chunks):
        chunk = items[c * chunk_size:(c + 1) * chunk_size]
        base = args.prefix + ('_%d' % c if args.chunks > 1 else '')
        n_train, n_test = int(chunk_size * args.train_ratio), int(chunk_size * args.test_ratio)
        if args.train_ratio == 1.0:
            parts = [(base + '.lst', chunk)]
        else:
            parts = [(base + '_train.lst', chunk[n_test:n_test + n_train])]
            if args.test_ratio:
                parts.append((base + '_test.lst', chunk[:n_test]))
            if args.train_ratio + args.test_ratio < 1.0:
                parts.append((base + '_val.lst', chunk[n_test + n_train:]))
        for path, part in parts:
            write_list(path, part)
            written.append('%s (%d)' % (path, len(part)))
    logging.info('wrote %s', ', '.join(written))


def read_list(path):
    """Yield (index, relative path, [labels]) of a .lst, with a clear error for bad lines."""
    with open(path) as f:
        for number, line in enumerate(f, 1):
            fields = [s.strip() for s in line.rstrip('\n').split('\t')]
            if not line.strip():
                continue
            try:
                if len(fields) < 3:
                    raise ValueError
                yield int(fields[0]), fields[-1], [float(v) for v in fields[1:-1]]
            except ValueError:
                raise UserError('%s line %d is not "index<TAB>label<TAB>path": %r'
                                % (path, number, line.strip()[:80]))


def encode_image(args, root, item):
    """(index, packed record, None), or (index, None, reason) when the image cannot be
    read, decoded or encoded, for one .lst entry."""
    index, rel, labels = item
    label = labels if args.pack_label else labels[0]
    path = os.path.join(root, rel)
    try:
        with open(path, 'rb') as f:
            raw = f.read()
    except OSError as err:
        return index, None, '%s: %s' % (rel, err.strerror or err)
    if args.pass_through:
        return index, recordio.pack_image_record(label, index, raw), None
    img = cv2.imdecode(np.frombuffer(raw, np.uint8), args.color)
    if img is None:
        return index, None, '%s: not a decodable image' % rel
    if args.center_crop and img.shape[0] != img.shape[1]:
        side = min(img.shape[:2])
        top, left = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
        img = img[top:top + side, left:left + side]
    if args.resize:
        h, w = img.shape[:2]
        size = (args.resize, h * args.resize // w) if h > w else (w * args.resize // h, args.resize)
        img = cv2.resize(img, size)
    if args.encoding == '.jpg':
        params = [cv2.IMWRITE_JPEG_QUALITY, args.quality]
    else:
        params = [cv2.IMWRITE_PNG_COMPRESSION, args.quality]
    ok, buf = cv2.imencode(args.encoding, img, params)
    if not ok:
        return index, None, '%s: could not be encoded' % rel
    return index, recordio.pack_image_record(label, index, buf.tobytes()), None


def remove_stale_temporaries(out_prefix):
    """Temporary files of an earlier run that was killed (their process is gone)."""
    for path in glob.glob(glob.escape(out_prefix) + '.tmp-*.*'):
        pid = path.rsplit('.tmp-', 1)[1].split('.')[0]
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            os.remove(path)
        except PermissionError:
            pass


def pack_list(args, lst_path, root):
    out_prefix = os.path.splitext(lst_path)[0]
    items = list(read_list(lst_path))
    if not items:
        raise UserError('%s lists no images' % lst_path)
    remove_stale_temporaries(out_prefix)
    cv2.setNumThreads(1)
    threads = max(1, args.num_thread)
    window = threads * 8
    skipped = []
    start = time.time()
    progress = Progress(len(items), os.path.basename(lst_path))
    pending = collections.deque()
    with AtomicRecordWriter(out_prefix) as writer, \
            concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        feed = iter(items)
        for item in feed:
            pending.append(pool.submit(encode_image, args, root, item))
            if len(pending) >= window:
                break
        while pending:
            index, record, problem = pending.popleft().result()
            nxt = next(feed, None)
            if nxt is not None:
                pending.append(pool.submit(encode_image, args, root, nxt))
            if record is None:
                skipped.append(problem)
                logging.warning('skipped %s', problem)
                if args.strict:
                    raise UserError('--strict: %s; fix or remove it from %s' % (problem, lst_path))
            else:
                writer.write_packed(index, record)
            progress.update()
    seconds = time.time() - start
    size = os.path.getsize(writer.rec)
    logging.info('%s: %d records, %.1f MB, %.1f images/s, %d skipped%s', writer.rec,
                 writer.count, size / 1e6, len(items) / max(seconds, 1e-9), len(skipped),
                 (': ' + '; '.join(skipped[:20]) + (' ...' if len(skipped) > 20 else ''))
                 if skipped else '')
    return writer.count, skipped


def list_files_to_pack(prefix):
    if os.path.isdir(prefix):
        folder, stem = prefix, ''
    else:
        folder, stem = os.path.dirname(prefix) or '.', os.path.basename(prefix)
    if not os.path.isdir(folder):
        raise UserError('%s: no such folder for the .lst files' % folder)
    found = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                   if f.startswith(stem) and f.endswith('.lst')
                   and os.path.isfile(os.path.join(folder, f)))
    if not found:
        raise UserError('no %s*.lst to pack; make one with --list first' % prefix)
    return found


def verify(prefix):
    """Check every record decodes and the .idx matches the .rec; log counts per label."""
    rec, idx = prefix + '.rec', prefix + '.idx'
    for path in (rec, idx):
        if not os.path.isfile(path):
            raise UserError('%s: no such file' % path)
    try:
        starts = sum(1 for _ in recordio.scan_headers(rec))
    except recordio.CorruptRecordError as err:
        raise UserError('%s is corrupt or truncated (%s); repack it' % (rec, err))
    try:
        entries = recordio.read_index(idx)
    except ValueError as err:
        raise UserError(str(err))
    if len(entries) != starts:
        raise UserError('%s lists %d records but %s holds %d; repack both together'
                        % (idx, len(entries), rec, starts))
    problems, counts = [], collections.Counter()
    with open(rec, 'rb') as f:
        for n, (key, offset) in enumerate(entries):
            record = recordio.read_record_at(f, offset)
            if record is None:
                problems.append('.idx key %d: offset %d is not the start of a record' % (key, offset))
                continue
            label, index, _, payload = recordio.unpack_image_record(record)
            if index != key:
                problems.append('.idx key %d points at record id %d' % (key, index))
            if cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_UNCHANGED) is None:
                problems.append('record %d (id %d) does not decode' % (n, index))
            counts[float(label if np.isscalar(label) else label[0])] += 1
    per_label = ', '.join('%g: %d' % (k, v) for k, v in sorted(counts.items()))
    logging.info('%s: %d records, %d labels; per label %s', rec, len(entries), len(counts), per_label)
    if problems:
        raise UserError('%s: %d problem(s): %s' % (rec, len(problems), '; '.join(problems[:10])))
    logging.info('%s: OK', rec)
    return counts


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('prefix', nargs='?', help='prefix of the .lst and .rec files')
    parser.add_argument('root', nargs='?', help='folder holding the images')
    parser.add_argument('--verify', metavar='PREFIX',
                        help='check PREFIX.rec/.idx instead of packing')
    lst = parser.add_argument_group('Options for creating image lists')
    lst.add_argument('--list', action='store_true', help='make .lst files instead of packing')
    lst.add_argument('--exts', nargs='+', default=['.jpeg', '.jpg', '.png'],
                     help='image file extensions')
    lst.add_argument('--chunks', type=int, default=1, help='number of chunks')
    lst.add_argument('--train-ratio', type=float, default=1.0, help='fraction for training')
    lst.add_argument('--test-ratio', type=float, default=0, help='fraction for testing')
    lst.add_argument('--recursive', action='store_true',
                     help='walk subfolders; each folder of images is a class')
    lst.add_argument('--no-shuffle', dest='shuffle', action='store_false',
                     help='keep the sorted order')
    rec = parser.add_argument_group('Options for creating database')
    rec.add_argument('--pass-through', action='store_true',
                     help='store the files as they are, without decoding')
    rec.add_argument('--resize', type=int, default=0, help='shorter side resized to this (0: off)')
    rec.add_argument('--center-crop', action='store_true', help='crop the center square first')
    rec.add_argument('--quality', type=int, default=95,
                     help='JPEG quality (1-100) or PNG compression (0-9)')
    rec.add_argument('--num-thread', type=int, default=1, help='decoding/encoding threads')
    rec.add_argument('--color', type=int, default=1, choices=[-1, 0, 1],
                     help='1 color, 0 grayscale, -1 as stored (alpha kept)')
    rec.add_argument('--encoding', type=str, default='.jpg', choices=['.jpg', '.png'],
                     help='encoding of the stored images')
    rec.add_argument('--pack-label', action='store_true',
                     help='store every label column of the .lst (multi-label)')
    rec.add_argument('--strict', action='store_true',
                     help='fail on an unreadable image instead of skipping it')
    args = parser.parse_args(argv)
    if not args.verify and (args.prefix is None or args.root is None):
        parser.error('give PREFIX ROOT, or --verify PREFIX')
    return args


def main():
    setup_logging()
    args = parse_args()
    if args.verify:
        verify(args.verify)
    elif args.list:
        make_lists(args)
    else:
        if not os.path.isdir(args.root):
            raise UserError('%s: no such folder of images' % args.root)
        for lst in list_files_to_pack(args.prefix):
            logging.info('packing %s', lst)
            pack_list(args, lst, args.root)


if __name__ == '__main__':
    run(main)
