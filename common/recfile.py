"""Writing RecordIO files so that an interrupted write never looks finished."""
import os

from .atomic import temporary_path
from .recordio import IndexedRecordWriter, pack_image_record


class AtomicRecordWriter(object):
    """``with AtomicRecordWriter('out/train') as w: w.write(index, label, image_bytes)``

    Writes ``out/train.rec`` and ``.idx`` under temporary names (common.atomic) and
    renames both only when the block ends without an error; on an error the temporary
    files are removed. (Two files, so not common.atomic.atomic_path: the old .rec must go
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
        self.writer = IndexedRecordWriter(self.tmp_rec, self.tmp_idx)
        return self

    def write(self, index, label, payload):
        """One image record: ``payload`` is the encoded image (JPEG/PNG bytes); ``label`` a
        number or a sequence of numbers."""
        self.write_packed(index, pack_image_record(label, index, payload))

    def write_packed(self, index, record):
        self.writer.write(index, record)
        self.count += 1

    def __exit__(self, exc_type, exc, tb):
        self.writer.close()
        if exc_type is None:
            # The old .rec goes first and the new one comes last: a .rec only appears
            # once its own index is in place.
            if os.path.exists(self.rec):
                os.remove(self.rec)
            os.replace(self.tmp_idx, self.idx)
            os.replace(self.tmp_rec, self.rec)
        else:
            for path in (self.tmp_rec, self.tmp_idx):
                if os.path.exists(path):
                    os.remove(path)
        return False
