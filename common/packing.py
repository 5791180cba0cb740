"""Packing the images a .lst names into RecordIO (tools/im2rec.py's library), and what it
did to them: the pack info (center crop, resize, colour), recorded beside the records as
PREFIX.pack.json, copied by training into the model info (``pack``), and applied by
tools/predict.py to a raw image first: a model trained on records resized to 40 pixels is
then fed a raw 64-pixel image at 40, as it was trained (score.py reads the records, which
already are).

Packing decodes and encodes in a pool of threads (OpenCV releases the GIL) feeding an
ordered writer; an image that is empty, not decodable, or over the pixel cap before or
after the resize (measured from the file's header before decoding) is skipped, counted
and named; the outputs appear complete or not at all (common.recordio).
"""
import collections
import concurrent.futures
import glob
import json
import logging
import os
import time

import cv2
import numpy as np

from . import image_lists, record_checks, recordio
from .atomic import write_text
from .errors import UserError
from .images import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, header_size, resized_size
from .progress import Progress

COLORS = (-1, 0, 1)  # as stored, grey, colour (im2rec's --color)


def pack_info_path(rec_path):
    return os.path.splitext(rec_path)[0] + '.pack.json'


def transform(img, resize, center_crop):
    """im2rec's transform of a decoded image: the center square first (``center_crop``),
    then the shorter side to ``resize`` (0: as is), OpenCV's bilinear resize."""
    if center_crop and img.shape[0] != img.shape[1]:
        side = min(img.shape[:2])
        top, left = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
        img = img[top:top + side, left:left + side]
    if resize:
        img = cv2.resize(img, resized_size(img.shape[1], img.shape[0], resize))
    return img


def write_pack_info(rec_path, resize, center_crop, color):
    write_text(pack_info_path(rec_path), json.dumps(
        {'resize': int(resize), 'center_crop': bool(center_crop), 'color': int(color)}))


def check_pack_info(info, source):
    """``info`` as a pack info, or a UserError naming ``source`` and the bad key."""
    if not isinstance(info, dict):
        raise UserError('%s: the pack info must be an object, got %r' % (source, info))
    resize, crop, color = info.get('resize'), info.get('center_crop'), info.get('color')
    if isinstance(resize, bool) or not isinstance(resize, int) or not 0 <= resize <= MAX_IMAGE_SIDE:
        raise UserError("%s: the pack info's 'resize' must be a whole number in 0..%d, got %r"
                        % (source, MAX_IMAGE_SIDE, resize))
    if not isinstance(crop, bool):
        raise UserError("%s: the pack info's 'center_crop' must be true or false, got %r"
                        % (source, crop))
    if color not in COLORS or isinstance(color, bool):
        raise UserError("%s: the pack info's 'color' must be -1, 0 or 1, got %r" % (source, color))
    return {'resize': resize, 'center_crop': crop, 'color': color}


def read_pack_info(rec_path):
    """The pack info beside ``rec_path``, or None when there is none (records made by
    another tool)."""
    path = pack_info_path(rec_path)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            info = json.load(f)
    except ValueError as err:
        raise UserError('%s is not JSON (%s); repack with tools/im2rec.py or delete it'
                        % (path, err))
    return check_pack_info(info, path)


class PackOptions(collections.namedtuple('PackOptions', [
        'resize', 'center_crop', 'color', 'encoding', 'quality', 'pass_through',
        'pack_label', 'max_image_pixels', 'strict', 'num_thread'])):
    """How to pack (tools/im2rec.py's flags of the same names): ``resize`` the shorter side
    (0: off) after the ``center_crop``; ``color`` 1, 0 (grey) or -1 (as stored);
    ``encoding`` '.jpg' or '.png' at ``quality``; ``pass_through`` stores the files as
    they are; ``pack_label`` keeps every label column; ``strict`` fails on an image it
    would skip."""


def pack_options(resize=0, center_crop=False, color=1, encoding='.jpg', quality=95,
                 pass_through=False, pack_label=False, max_image_pixels=MAX_IMAGE_PIXELS,
                 strict=False, num_thread=1):
    """PackOptions with im2rec's defaults."""
    return PackOptions(resize, center_crop, color, encoding, quality, pass_through, pack_label,
                       max_image_pixels, strict, num_thread)


def output_size(options, width, height):
    """(width, height) of an image of this size after --center-crop and --resize."""
    if options.center_crop:
        width = height = min(width, height)
    return resized_size(width, height, options.resize)


def too_large(options, width, height):
    """Why an image of this size is over --max-image-pixels, decoded or resized, or None."""
    cap = options.max_image_pixels
    if width * height > cap:
        return '%d x %d pixels, over --max-image-pixels %d' % (width, height, cap)
    out_w, out_h = output_size(options, width, height)
    if out_w * out_h > cap:
        return ('%d x %d pixels after --resize %d (from %d x %d), over --max-image-pixels %d'
                % (out_w, out_h, options.resize, width, height, cap))
    return None


def _last_line(err):
    return [l for l in str(err).splitlines() if l.strip()][-1].strip()[:120]


def encode_image(options, root, item):
    """(index, packed record, None), or (index, None, reason) when the image cannot be
    read, decoded or encoded, or is over --max-image-pixels, for one .lst entry. The size
    is read from the header before decoding (Pillow); formats Pillow does not know are
    decoded first and measured then, before --resize."""
    index, rel, labels = item
    label = labels if options.pack_label else labels[0]
    path = os.path.join(root, rel)
    try:
        with open(path, 'rb') as f:
            raw = f.read()
    except OSError as err:
        return index, None, '%s: %s' % (rel, err.strerror or err)
    if not raw:
        return index, None, '%s: empty file' % rel
    size = header_size(raw)
    if options.pass_through:
        # Stored as it is: training decodes it, so the decoded size is what counts.
        if size is not None and size[0] * size[1] > options.max_image_pixels:
            return index, None, '%s: %d x %d pixels, over --max-image-pixels %d' % (
                rel, size[0], size[1], options.max_image_pixels)
        if record_checks.mxnet_format(raw) is None:
            return index, None, ("%s: not JPEG, PNG, BMP or TIFF, which MXNet's decoder cannot "
                                 "read; pack it without --pass-through" % rel)
        return index, recordio.pack_image_record(label, index, raw), None
    problem = size and too_large(options, *size)
    if problem:
        return index, None, '%s: %s' % (rel, problem)
    try:
        img = cv2.imdecode(np.frombuffer(raw, np.uint8), options.color)
    except cv2.error:
        img = None
    if img is None:
        return index, None, '%s: not a decodable image' % rel
    problem = too_large(options, img.shape[1], img.shape[0])
    if problem:
        return index, None, '%s: %s' % (rel, problem)
    if options.encoding == '.jpg':
        params = [cv2.IMWRITE_JPEG_QUALITY, options.quality]
    else:
        params = [cv2.IMWRITE_PNG_COMPRESSION, options.quality]
    try:
        img = transform(img, options.resize, options.center_crop)
        ok, buf = cv2.imencode(options.encoding, img, params)
    except cv2.error as err:
        return index, None, '%s: could not be encoded as %s (%s)' % (rel, options.encoding,
                                                                    _last_line(err))
    if not ok:
        return index, None, '%s: could not be encoded as %s' % (rel, options.encoding)
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


def pack_list(lst_path, root, options):
    """PREFIX.rec/.idx (and PREFIX.pack.json) of the images a PREFIX.lst names under
    ``root``, encoded by ``options.num_thread`` threads and written in order; unreadable
    images are skipped and logged (``options.strict``: a UserError). Returns (records
    written, [why each skipped one was])."""
    out_prefix = os.path.splitext(lst_path)[0]
    items = list(image_lists.read_list(lst_path))
    if not items:
        raise UserError('%s lists no images' % lst_path)
    remove_stale_temporaries(out_prefix)
    cv2.setNumThreads(1)
    threads = max(1, options.num_thread)
    window = threads * 8
    skipped = []
    start = time.time()
    progress = Progress(len(items), os.path.basename(lst_path))
    pending = collections.deque()
    with recordio.AtomicRecordWriter(out_prefix) as writer, \
            concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        feed = iter(items)
        for item in feed:
            pending.append(pool.submit(encode_image, options, root, item))
            if len(pending) >= window:
                break
        while pending:
            index, record, problem = pending.popleft().result()
            nxt = next(feed, None)
            if nxt is not None:
                pending.append(pool.submit(encode_image, options, root, nxt))
            if record is None:
                skipped.append(problem)
                logging.warning('skipped %s', problem)
                if options.strict:
                    raise UserError('--strict: %s; fix or remove it from %s' % (problem, lst_path))
            else:
                writer.write_packed(index, record)
            progress.update()
        if not writer.count:
            raise UserError('none of the %d images of %s could be packed (%s); nothing written'
                            % (len(items), lst_path, '; '.join(skipped[:3])))
    # What was done to the images travels with them (training copies it into the model
    # info; tools/predict.py applies it to raw images). Stored as they are: nothing.
    write_pack_info(writer.rec, 0 if options.pass_through else options.resize,
                            False if options.pass_through else options.center_crop,
                            -1 if options.pass_through else options.color)
    seconds = time.time() - start
    size = os.path.getsize(writer.rec)
    logging.info('%s: %d records, %.1f MB, %.1f images/s, %d skipped%s', writer.rec,
                 writer.count, size / 1e6, len(items) / max(seconds, 1e-9), len(skipped),
                 (': ' + '; '.join(skipped[:20]) + (' ...' if len(skipped) > 20 else ''))
                 if skipped else '')
    return writer.count, skipped


def list_files_to_pack(prefix):
    """The PREFIX*.lst files to pack (PREFIX a folder: all of its .lst files)."""
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
