"""MXNet's RecordIO image format in plain Python (no mxnet import, so tools start fast).

A .rec is a sequence of records, each ``magic, lrec, data, padding to 4 bytes`` with
``lrec = cflag << 29 | length``. A payload containing the magic number at a 4-byte
boundary is split there into parts (cflag 1 first, 2 middle, 3 last) and the reader puts
the magic back between them, as dmlc-core's RecordIOWriter does. An image record's data
starts with IRHeader ``(flag, label, id, id2)`` (uint32, float32, uint64, uint64); flag > 0
means that many float32 labels follow the header. The .idx lists ``key<TAB>offset``.
Interoperability with mx.recordio and ImageRecordIter is tested.

Writing goes through AtomicRecordWriter, so that an interrupted write never looks
finished: the .rec and .idx appear complete, together, or not at all.
"""
import logging
import os
import struct

import numpy as np

from .atomic import naming, temporary_path

MAGIC = 0xced7230a
_MAGIC_BYTES = struct.pack('<I', MAGIC)
_LENGTH_MASK = (1 << 29) - 1
IR_HEADER = struct.Struct('<IfQQ')


def pack_image_record(label, index, payload, id2=0):
    """IRHeader + payload; ``label`` a number, or a sequence for several labels."""
    if np.isscalar(label):
        return IR_HEADER.pack(0, float(label), index, id2) + payload
    labels = np.asarray(label, dtype=np.float32)
    return IR_HEADER.pack(len(labels), 0.0, index, id2) + labels.tobytes() + payload


def unpack_image_record(record):
    """(label or float32 labels, id, id2, payload) of an image record."""
    flag, label, index, id2 = IR_HEADER.unpack_from(record)
    body = record[IR_HEADER.size:]
    if flag > 0:
        label = np.frombuffer(body[:4 * flag], dtype=np.float32)
        body = body[4 * flag:]
    return label, index, id2, body


def frame(data):
    """The bytes of one record as written to a .rec."""
    aligned = len(data) // 4 * 4
    hits = np.flatnonzero(np.frombuffer(data, dtype='<u4', count=aligned // 4) == MAGIC) * 4
    out, start = [], 0
    for pos in hits:
        out += [_MAGIC_BYTES, struct.pack('<I', ((1 if start == 0 else 2) << 29) | (pos - start)),
                data[start:pos]]
        start = pos + 4
    tail = len(data) - start
    out += [_MAGIC_BYTES, struct.pack('<I', ((0 if start == 0 else 3) << 29) | tail),
            data[start:], b'\x00' * ((4 - tail % 4) % 4)]
    return b''.join(out)


class IndexedRecordWriter(object):
    """Appends records to a .rec and their offsets to an .idx."""

    def __init__(self, rec_path, idx_path):
        self.rec = open(rec_path, 'wb')
        self.idx = open(idx_path, 'w')
        self.offset = 0

    def write(self, key, data):
        framed = frame(data)
        self.rec.write(framed)
        self.idx.write('%d\t%d\n' % (key, self.offset))
        self.offset += len(framed)

    def close(self):
        self.rec.close()
        self.idx.close()


def read_record_at(f, offset):
    """The data of the record starting at ``offset`` in an open .rec, or None if no record
    starts there or it is cut short."""
    f.seek(offset)
    parts = []
    while True:
        head = f.read(8)
        if len(head) < 8:
            return None
        magic, lrec = struct.unpack('<II', head)
        if magic != MAGIC:
            return None
        cflag, length = lrec >> 29, lrec & _LENGTH_MASK
        data = f.read(length)
        if len(data) < length:
            return None
        parts.append(data)
        f.seek((4 - length % 4) % 4, 1)
        if cflag in (0, 3):
            return _MAGIC_BYTES.join(parts)
        if cflag == 2 and len(parts) == 1:
            return None


def read_index(path):
    """[(key, offset)] of an .idx file; a line that is not ``key<TAB>offset`` is a
    ValueError naming it."""
    entries = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                key, offset = line.split('\t')
                entries.append((int(key), int(offset)))
            except ValueError:
                raise ValueError('%s line %d is not "key<TAB>offset"' % (path, number))
    return entries


class CorruptRecordError(ValueError):
    def __init__(self, offset, reason):
        super(CorruptRecordError, self).__init__('%s at byte %d' % (reason, offset))
        self.offset = offset


def scan_headers(path):
    """Yield (offset, label, id, number of labels) of every image record, seeking past the
    images; ``label`` is the first label of a record with several."""
    with open(path, 'rb') as f:
        f.seek(0, 2)
        size = f.tell()
        offset = 0
        while offset < size:
            f.seek(offset)
            head = f.read(8 + IR_HEADER.size)
            if len(head) < 8:
                raise CorruptRecordError(offset, 'truncated record')
            magic, lrec = struct.unpack('<II', head[:8])
            cflag, length = lrec >> 29, lrec & _LENGTH_MASK
            if magic != MAGIC:
                raise CorruptRecordError(offset, 'no record starts')
            end = offset + 8 + length
            if end > size:
                raise CorruptRecordError(offset, 'truncated record')
            if cflag in (0, 1):
                if len(head) < 8 + IR_HEADER.size or length < IR_HEADER.size and cflag == 0:
                    raise CorruptRecordError(offset, 'record too short for an image header')
                flag, label, index, _ = IR_HEADER.unpack(head[8:])
                if flag > 0:
                    f.seek(offset + 8 + IR_HEADER.size)
                    label = struct.unpack('<f', f.read(4))[0]
                yield offset, label, index, max(flag, 1)
            offset = end + (4 - length % 4) % 4

class AtomicRecordWriter(object):
    """``with AtomicRecordWriter('out/train') as w: w.write(index, label, image_bytes)``

    Writes ``out/train.rec`` and ``.idx`` under temporary names (common.atomic) and
    renames both only when the block ends without an error and both files are closed; on
    an error (a full disk included) the temporary files are removed, and an OSError names
    ``out/train.rec``. (Two files, so not common.atomic.atomic_path: the old .rec must go
    before the new .idx arrives.)
    """

    def __init__(self, prefix):
        self.rec, self.idx = prefix + '.rec', prefix + '.idx'
        self.tmp_rec = temporary_path(self.rec, keep_extension=True)
        self.tmp_idx = temporary_path(self.idx, keep_extension=True)
        self.count = 0

    def __enter__(self):
        folder = os.path.dirname(self.rec)
        if folder:
            os.makedirs(folder, exist_ok=True)
        try:
            with naming(self.rec):
                self.writer = IndexedRecordWriter(self.tmp_rec, self.tmp_idx)
        except OSError:
            if os.path.exists(self.tmp_rec):
                os.remove(self.tmp_rec)
            raise
        return self

    def write(self, index, label, payload):
        """One image record: ``payload`` is the encoded image (JPEG/PNG bytes); ``label`` a
        number or a sequence of numbers."""
        self.write_packed(index, pack_image_record(label, index, payload))

    def write_packed(self, index, record):
        with naming(self.rec):
            self.writer.write(index, record)
        self.count += 1

    def _close(self):
        """Close both files, the second even when closing the first fails (on a full disk
        it is the last flush that fails)."""
        try:
            self.writer.rec.close()
        finally:
            self.writer.idx.close()

    def __exit__(self, exc_type, exc, tb):
        try:
            with naming(self.rec):
                self._close()
            if exc_type is None:
                # The old .rec goes first and the new one comes last: a .rec only appears
                # once its own index is in place.
                if os.path.exists(self.rec):
                    os.remove(self.rec)
                os.replace(self.tmp_idx, self.idx)
                os.replace(self.tmp_rec, self.rec)
        finally:
            # After an error (in the block, or closing a file on a full disk): nothing left.
            for path in (self.tmp_rec, self.tmp_idx):
                if os.path.exists(path):
                    os.remove(path)
        return False


def encode_image(image, ext='.png', rgb=False):
    """The bytes of ``image`` (uint8, HxW or HxWx3; ``rgb``: its channels in RGB order,
    else OpenCV's BGR) encoded as ``ext`` ('.png', '.jpg')."""
    import cv2
    if rgb and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(ext, image)
    if not ok:
        raise RuntimeError('OpenCV could not encode an image of shape %s as %s'
                           % (image.shape, ext))
    return buf.tobytes()


def write_image_records(prefix, images, labels, ext='.png', rgb=False):
    """PREFIX.rec and PREFIX.idx (written as AtomicRecordWriter writes them): record i is
    image i of ``images`` (arrays, see encode_image) with label i; returns the count."""
    with AtomicRecordWriter(prefix) as writer:
        for i, (image, label) in enumerate(zip(images, labels)):
            writer.write(i, float(label), encode_image(image, ext, rgb))
    logging.info('wrote %d images to %s', writer.count, writer.rec)
    return writer.count
