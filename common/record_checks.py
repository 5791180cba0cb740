"""The checks a .rec must pass before training reads it, in one place: common/data.py
runs the cheap ones on every training start (headers, labels, the .idx against the
.rec), tools/im2rec.py --verify all of them (every image decoded as MXNet decodes it).
"""
import collections
import contextlib
import logging
import os
import sys
import tempfile

import cv2
import numpy as np

from . import recordio
from .errors import UserError

# What MXNet's image decoder (its own OpenCV 3.4, not the cv2 module) reads, by the first
# bytes of the file; it fails on WebP, GIF, PPM/PGM, HDR, PFM and Sun raster that cv2
# decodes (tested).
MXNET_FORMATS = ((b'\xff\xd8\xff', 'JPEG'), (b'\x89PNG\r\n\x1a\n', 'PNG'), (b'BM', 'BMP'),
                 (b'II*\x00', 'TIFF'), (b'MM\x00*', 'TIFF'))


def mxnet_format(raw):
    """The name of the format of encoded image bytes if MXNet's decoder reads it, else None."""
    for magic, name in MXNET_FORMATS:
        if raw.startswith(magic):
            return name
    return None


def scan(rec_path):
    """[(offset, label, id, number of labels)] of every record of a .rec, from the headers
    alone; a corrupt or truncated file is a UserError."""
    try:
        return list(recordio.scan_headers(rec_path))
    except recordio.CorruptRecordError as err:
        raise UserError('%s is corrupt or truncated (%s); repack it with tools/im2rec.py'
                        % (rec_path, err))


def read_index(idx_path, flag=None):
    """[(key, offset)] of an .idx; one that is not ``key<TAB>offset`` lines is a UserError
    (naming ``--flag`` when given)."""
    try:
        return recordio.read_index(idx_path)
    except ValueError as err:
        raise UserError('%s%s; repack with tools/im2rec.py'
                        % ('--%s: ' % flag if flag else '', err))


def index_problem(entries, record_offsets):
    """Why the .idx ``entries`` do not list each record (at ``record_offsets``) exactly
    once, or None."""
    if len(entries) != len(record_offsets):
        return '%d entries for %d records' % (len(entries), len(record_offsets))
    starts = set(record_offsets)
    stray = next(((k, o) for k, o in entries if o not in starts), None)
    if stray is not None:
        return 'key %d points at byte %d, which is not the start of a record' % stray
    if len({o for _, o in entries}) != len(entries) or len({k for k, _ in entries}) != len(entries):
        return 'its entries do not point once at each record'
    return None


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
    heads = scan(rec)
    entries = read_index(idx)
    problem = index_problem(entries, [h[0] for h in heads])
    if problem:
        raise UserError('%s does not match %s (%s); repack both together' % (idx, rec, problem))
    problems, found, counts, widths = [], 0, collections.Counter(), collections.Counter()
    several, first_several = 0, None  # records with more than one label; (number, count)
    with open(rec, 'rb') as f:
        for n, (key, offset) in enumerate(entries):
            record = recordio.read_record_at(f, offset)
            labels, index, problem = check_record(record)
            if problem is None and index != key:
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
