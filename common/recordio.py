"""MXNet's RecordIO image format in plain Python (no mxnet import, so tools start fast).

A .rec is a sequence of records, each ``magic, lrec, data, padding to 4 bytes`` with
``lrec = cflag << 29 | length``. A payload containing the magic number at a 4-byte
boundary is split there into parts (cflag 1 first, 2 middle, 3 last) and the reader puts
the magic back between them, as dmlc-core's RecordIOWriter does. An image record's data
starts with IRHeader ``(flag, label, id, id2)`` (uint32, float32, uint64, uint64); flag > 0
means that many float32 labels follow the header. The .idx lists ``key<TAB>offset``.
Interoperability with mx.recordio and ImageRecordIter is tested.
"""
import struct

import numpy as np

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
