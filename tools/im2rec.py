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
ordered writer; progress with rate and ETA; unreadable images (empty, not decodable,
over --max-image-pixels before or after --resize, measured from the file's header before
decoding) are skipped, counted and listed (--strict makes them an error); outputs are
written under temporary names and renamed when complete; --verify checks a packed file
the way training will read it. List mode refuses a symbolic link loop in the image tree
and file names a .lst cannot hold (a tab or line break, a leading or trailing space).
"""
import collections
import concurrent.futures
import contextlib
import glob
import logging
import os
import random
import time

import _path  # noqa: F401
from common import packing, recordio
from common import atomic
from common.classes import read_class_names
from common.images import MAX_IMAGE_PIXELS, header_size, resized_size
from common.cli import ArgumentParser, UserError, run, setup_logging
from common.progress import Progress
from common.recfile import AtomicRecordWriter

import cv2
import numpy as np
import PIL.Image

# MXNet's list mode shuffles with this seed; the same folder gives the same .lst.
LIST_SEED = 100

# What MXNet's image decoder (its own OpenCV 3.4, not the cv2 module) reads, by the first
# bytes of the file; it fails on WebP, GIF, PPM/PGM, HDR, PFM and Sun raster that cv2
# decodes (tested).
MXNET_FORMATS = ((b'\xff\xd8\xff', 'JPEG'), (b'\x89PNG\r\n\x1a\n', 'PNG'), (b'BM', 'BMP'),
                 (b'II*\x00', 'TIFF'), (b'MM\x00*', 'TIFF'))


def _within(path, folder):
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _walk(root):
    """os.walk following symbolic links, refusing a link to a folder that holds the folder
    it sits in (a loop, which would list the tree again and again) and any folder it cannot
    read. Links to other folders are followed."""
    def fail(err):
        raise err
    chains = {root: (os.path.realpath(root),)}  # real paths from root down to the folder
    for folder, dirs, files in os.walk(root, followlinks=True, onerror=fail):
        chain = chains.pop(folder)
        for name in dirs:
            path = os.path.join(folder, name)
            target = os.path.realpath(path)
            if any(_within(above, target) for above in chain):
                raise UserError('%s is a symbolic link to %s, which holds it: a loop; remove the '
                                'link or move it out of %s' % (path, target, root))
            chains[path] = chain + (target,)
        dirs.sort()
        yield folder, sorted(files)


def check_list_name(root, rel):
    """A relative path that a .lst line cannot hold so that it reads back is a UserError."""
    if '\t' in rel or '\n' in rel or '\r' in rel:
        why = 'holds a tab or a line break, which cannot be written in a .lst line'
    elif rel != rel.strip():
        why = 'starts or ends with a space, which .lst readers (this tool and MXNet) strip'
    else:
        try:
            rel.encode('utf-8')
            return
        except UnicodeEncodeError:
            why = 'is not valid UTF-8'
    raise UserError('%r in %s %s; rename it' % (rel, root, why))


def list_images(root, recursive, exts):
    """[(index, relative path, label)] and {folder: label}: one label per folder holding
    images, in sorted walk order; without --recursive every image of root has label 0."""
    exts = {e.lower() for e in exts}
    items, classes = [], collections.OrderedDict()
    if recursive:
        for folder, files in _walk(root):
            for name in files:
                path = os.path.join(folder, name)
                if os.path.splitext(name)[1].lower() in exts and os.path.isfile(path):
                    label = classes.setdefault(folder, len(classes))
                    items.append((len(items), os.path.relpath(path, root), label))
    else:
        for name in sorted(os.listdir(root)):
            path = os.path.join(root, name)
            if os.path.splitext(name)[1].lower() in exts and os.path.isfile(path):
                items.append((len(items), os.path.relpath(path, root), 0))
    for _, rel, _ in items:
        check_list_name(root, rel)
    return items, classes


def read_label_file(path):
    """{image name: class} of a flat folder's label file: CSV lines ``name,class`` (a header
    line is skipped; ImageNet's LOC_val_solution.csv, whose second field starts with the
    synset, reads as is) or ``name class`` lines; names may lack their extension."""
    try:
        with open(path, encoding='utf-8') as f:
            lines = [line.strip() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise UserError('--label-file %s: %s' % (path, getattr(err, 'strerror', None) or err))
    labels = {}
    for number, line in enumerate(lines, 1):
        fields = line.split(',', 1) if ',' in line else line.split(None, 1)
        if len(fields) != 2 or not fields[1].split():
            raise UserError('--label-file %s line %d is not "name,class" or "name class": %r'
                            % (path, number, line[:80]))
        name, cls = fields[0].strip(), fields[1].split()[0]
        if number == 1 and name.lower() in ('imageid', 'image', 'name', 'filename', 'file'):
            continue
        labels[name] = cls
    if not labels:
        raise UserError('--label-file %s holds no labels' % path)
    return labels


def label_flat_folder(items, label_file, classes_file):
    """The (index, path, label) of a flat folder's images, labelled from ``label_file``;
    class names map to labels through ``classes_file`` (the training list's
    PREFIX_classes.txt, so that both share labels), else in sorted order (integers as they
    are). Returns the items and {class name: label}."""
    names = read_label_file(label_file)
    if classes_file:
        ordered = read_class_names(classes_file)
        to_label = {name: i for i, name in enumerate(ordered)}
    else:
        found = sorted(set(names.values()))
        if all(v.isdigit() for v in found):
            to_label = {v: int(v) for v in found}
        else:
            to_label = {v: i for i, v in enumerate(found)}
    out, missing = [], []
    for index, rel, _ in items:
        cls = names.get(rel, names.get(os.path.splitext(rel)[0]))
        if cls is None:
            missing.append(rel)
            continue
        if cls not in to_label:
            raise UserError('--label-file %s: %s has class %s, which %s does not name'
                            % (label_file, rel, cls, classes_file or 'the file'))
        out.append((index, rel, to_label[cls]))
    if missing:
        raise UserError('--label-file %s has no label for %d of the images (e.g. %s); give a '
                        'label file covering the folder' % (label_file, len(missing), missing[0]))
    return out, to_label


@contextlib.contextmanager
def naming(path):
    """An OSError while writing ``path`` (under its temporary name) names ``path``."""
    try:
        yield
    except OSError as err:
        raise OSError(err.errno, err.strerror or str(err), path) from err


def write_text(path, lines):
    with naming(path):
        atomic.write_text(path, lines)


def write_list(path, items):
    write_text(path, ['%d\t%f\t%s\n' % (index, label, rel) for index, rel, label in items])


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
    if args.label_file:
        if args.recursive:
            raise UserError('--label-file labels a flat folder; with --recursive each folder '
                            'is a class: give one of them')
        items, named = label_flat_folder(items, args.label_file, args.classes)
        classes = collections.OrderedDict(sorted(((os.path.join(args.root, n), l)
                                                  for n, l in named.items()), key=lambda x: x[1]))
    folder = os.path.dirname(args.prefix)
    if folder:
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise UserError('%s is a file, not a folder: choose another PREFIX' % folder)
        os.makedirs(folder, exist_ok=True)
    if args.recursive or args.label_file:
        lines = ['%s\t%d' % (os.path.relpath(folder, args.root), label)
                 for folder, label in classes.items()]
        write_text(args.prefix + '_classes.txt', [line + '\n' for line in lines])
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


def _numbered_lines(path, f):
    """(number, text) of the lines of a .lst opened in binary, decoded as UTF-8."""
    for number, line in enumerate(f, 1):
        try:
            yield number, line.decode('utf-8')
        except UnicodeDecodeError:
            raise UserError('%s line %d is not UTF-8 text; write the .lst in UTF-8 (--list '
                            'does)' % (path, number))


def read_list(path):
    """Yield (index, relative path, [labels]) of a .lst, with a clear error for bad lines."""
    with open(path, 'rb') as f:
        for number, line in _numbered_lines(path, f):
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


def mxnet_format(raw):
    """The name of the format of encoded image bytes if MXNet's decoder reads it, else None."""
    for magic, name in MXNET_FORMATS:
        if raw.startswith(magic):
            return name
    return None


def output_size(args, width, height):
    """(width, height) of an image of this size after --center-crop and --resize."""
    if args.center_crop:
        width = height = min(width, height)
    return resized_size(width, height, args.resize)


def too_large(args, width, height):
    """Why an image of this size is over --max-image-pixels, decoded or resized, or None."""
    cap = args.max_image_pixels
    if width * height > cap:
        return '%d x %d pixels, over --max-image-pixels %d' % (width, height, cap)
    out_w, out_h = output_size(args, width, height)
    if out_w * out_h > cap:
        return ('%d x %d pixels after --resize %d (from %d x %d), over --max-image-pixels %d'
                % (out_w, out_h, args.resize, width, height, cap))
    return None


def _last_line(err):
    return [l for l in str(err).splitlines() if l.strip()][-1].strip()[:120]


def encode_image(args, root, item):
    """(index, packed record, None), or (index, None, reason) when the image cannot be
    read, decoded or encoded, or is over --max-image-pixels, for one .lst entry. The size
    is read from the header before decoding (Pillow); formats Pillow does not know are
    decoded first and measured then, before --resize."""
    index, rel, labels = item
    label = labels if args.pack_label else labels[0]
    path = os.path.join(root, rel)
    try:
        with open(path, 'rb') as f:
            raw = f.read()
    except OSError as err:
        return index, None, '%s: %s' % (rel, err.strerror or err)
    if not raw:
        return index, None, '%s: empty file' % rel
    size = header_size(raw)
    if args.pass_through:
        # Stored as it is: training decodes it, so the decoded size is what counts.
        if size is not None and size[0] * size[1] > args.max_image_pixels:
            return index, None, '%s: %d x %d pixels, over --max-image-pixels %d' % (
                rel, size[0], size[1], args.max_image_pixels)
        if mxnet_format(raw) is None:
            return index, None, ("%s: not JPEG, PNG, BMP or TIFF, which MXNet's decoder cannot "
                                 "read; pack it without --pass-through" % rel)
        return index, recordio.pack_image_record(label, index, raw), None
    problem = size and too_large(args, *size)
    if problem:
        return index, None, '%s: %s' % (rel, problem)
    try:
        img = cv2.imdecode(np.frombuffer(raw, np.uint8), args.color)
    except cv2.error:
        img = None
    if img is None:
        return index, None, '%s: not a decodable image' % rel
    problem = too_large(args, img.shape[1], img.shape[0])
    if problem:
        return index, None, '%s: %s' % (rel, problem)
    if args.encoding == '.jpg':
        params = [cv2.IMWRITE_JPEG_QUALITY, args.quality]
    else:
        params = [cv2.IMWRITE_PNG_COMPRESSION, args.quality]
    try:
        img = packing.transform(img, args.resize, args.center_crop)
        ok, buf = cv2.imencode(args.encoding, img, params)
    except cv2.error as err:
        return index, None, '%s: could not be encoded as %s (%s)' % (rel, args.encoding,
                                                                    _last_line(err))
    if not ok:
        return index, None, '%s: could not be encoded as %s' % (rel, args.encoding)
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
        if not writer.count:
            raise UserError('none of the %d images of %s could be packed (%s); nothing written'
                            % (len(items), lst_path, '; '.join(skipped[:3])))
    # What was done to the images travels with them (training copies it into the model
    # info; tools/predict.py applies it to raw images). Stored as they are: nothing.
    packing.write_pack_info(writer.rec, 0 if args.pass_through else args.resize,
                            False if args.pass_through else args.center_crop,
                            -1 if args.pass_through else args.color)
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


def check_record(record):
    """(labels as a float32 array, id, problem or None) of one record's data, checked as
    training reads it: the header, the image format and its decoding."""
    if record is None:
        return None, None, None
    if len(record) < recordio.IR_HEADER.size:
        return None, None, 'is too short for an image header'
    flag = recordio.IR_HEADER.unpack_from(record)[0]
    if len(record) < recordio.IR_HEADER.size + 4 * flag:
        return None, None, 'has a header announcing %d labels it does not hold' % flag
    label, index, _, payload = recordio.unpack_image_record(record)
    labels = np.atleast_1d(np.asarray(label, dtype=np.float32))
    if not payload:
        return labels, index, 'holds an empty image'
    if mxnet_format(payload) is None:
        return labels, index, ("is not JPEG, PNG, BMP or TIFF, which MXNet's decoder cannot read; "
                               "repack without --pass-through")
    with decoder_messages() as said:
        try:
            decoded = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error:
            decoded = None
    if decoded is None:
        return labels, index, 'does not decode'
    if said:
        # libjpeg decodes a JPEG corrupt inside to an image with garbage in it, and only
        # says so on stderr ("Corrupt JPEG data: ..."): that image would train as it is.
        return labels, index, 'decodes with errors (%s); repack it' % ' '.join(said[0].split())
    return labels, index, None


@contextlib.contextmanager
def decoder_messages():
    """Collect what the image decoders (libjpeg, libpng) write to the process's stderr
    meanwhile: a list, filled with the non-empty lines when the block ends. One thread at a
    time (it redirects file descriptor 2)."""
    import sys
    import tempfile
    said = []
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield said
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            said.extend(l for l in sink.read().decode('utf-8', 'replace').splitlines()
                        if l.strip())


def verify(prefix, multi_label=False):
    """Check every record decodes the way training reads it (its format, one label unless
    ``multi_label``, the same label count in every record) and the .idx matches the .rec;
    log counts per (first) label."""
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
    problems, found, counts, widths = [], 0, collections.Counter(), collections.Counter()
    several, first_several = 0, None  # records with more than one label; (number, count)
    with open(rec, 'rb') as f:
        for n, (key, offset) in enumerate(entries):
            record = recordio.read_record_at(f, offset)
            labels, index, problem = check_record(record)
            if record is None:
                problem = '(.idx key %d): offset %d is not the start of a record' % (key, offset)
            elif problem is None and index != key:
                problem = 'is id %d but its .idx key is %d' % (index, key)
            if problem:
                found += 1
                if len(problems) < 10:
                    problems.append('record %d %s' % (n, problem))
            if labels is not None:
                counts[float(labels[0])] += 1
                widths[len(labels)] += 1
                if len(labels) > 1:
                    several += 1
                    first_several = first_several or (n, len(labels))
    if several and not multi_label:
        found += several
        problems.insert(0, 'record %d has %d labels: pack without --pack-label for single-label '
                        'training, or verify with --multi-label if several labels are expected '
                        '(%d such records)' % (first_several + (several,)))
    elif multi_label and len(widths) > 1:
        found += 1
        problems.insert(0, 'records hold different numbers of labels (%s), but an iterator takes '
                        'one label width: repack' % ', '.join(
                            '%d with %d' % (v, k) for k, v in sorted(widths.items())))
    per_label = ', '.join('%g: %d' % (k, v) for k, v in sorted(counts.items()))
    logging.info('%s: %d records, %d labels; per label %s', rec, len(entries), len(counts), per_label)
    if problems:
        raise UserError('%s: %d problem(s): %s' % (rec, found, '; '.join(problems[:10])))
    logging.info('%s: OK%s', rec, ' (%d labels per record)' % max(widths) if multi_label and widths
                 else '')
    return counts


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('prefix', nargs='?', help='prefix of the .lst and .rec files')
    parser.add_argument('root', nargs='?', help='folder holding the images')
    parser.add_argument('--verify', metavar='PREFIX',
                        help='check PREFIX.rec/.idx instead of packing: every record decodes '
                             "with MXNet's decoder and holds one label, the .idx matches")
    parser.add_argument('--multi-label', action='store_true',
                        help='with --verify: records with several labels (--pack-label) are '
                             'expected')
    lst = parser.add_argument_group('Options for creating image lists')
    lst.add_argument('--list', action='store_true', help='make .lst files instead of packing')
    lst.add_argument('--exts', nargs='+', default=['.jpeg', '.jpg', '.png'],
                     help='image file extensions')
    lst.add_argument('--chunks', type=int, default=1, help='number of chunks')
    lst.add_argument('--train-ratio', type=float, default=1.0, help='fraction for training')
    lst.add_argument('--test-ratio', type=float, default=0, help='fraction for testing')
    lst.add_argument('--label-file', default='',
                     help='labels of a flat folder (ImageNet\'s validation images): CSV '
                          '"name,class" lines such as LOC_val_solution.csv, or "name class"')
    lst.add_argument('--classes', default='',
                     help="with --label-file: the training list's PREFIX_classes.txt, so that "
                          "class names get the training labels (else sorted order)")
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
    rec.add_argument('--max-image-pixels', type=int, default=MAX_IMAGE_PIXELS,
                     help='skip (or with --strict, fail on) an image of more pixels, or one '
                          '--resize would make larger; the size is read from the file header '
                          'before decoding, and each thread holds one image of up to this '
                          'many pixels x 3 bytes')
    # Options may come between the positionals (OUT --list --recursive ROOT), as MXNet's
    # own im2rec takes them.
    args = parser.parse_intermixed_args(argv)
    if args.verify and args.verify.endswith(('.rec', '.idx')):
        args.verify = args.verify[:-4]  # the file itself named instead of its prefix
    if not args.verify and (args.prefix is None or args.root is None):
        parser.error('give PREFIX ROOT, or --verify PREFIX')
    if args.resize < 0:
        parser.error('--resize must be 0 (off) or a positive size, not %d' % args.resize)
    if args.max_image_pixels < 1:
        parser.error('--max-image-pixels must be positive, not %d' % args.max_image_pixels)
    return args


def main():
    setup_logging()
    args = parse_args()
    # Pillow reads headers only here; --max-image-pixels is the limit, not Pillow's own.
    PIL.Image.MAX_IMAGE_PIXELS = None
    if args.verify:
        verify(args.verify, args.multi_label)
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
