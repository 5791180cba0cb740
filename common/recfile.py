"""Writing RecordIO files so that an interrupted write never looks finished."""
import os

from .atomic import temporary_path
from .recordio import IndexedRecordWriter, pack_image_record


def _naming(err, path):
    """The OSError ``err`` (a full disk, a read-only folder) naming ``path``, the file the
    user asked for, rather than its temporary name or none."""
    return OSError(err.errno, err.strerror or str(err), path)


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
            self.writer = IndexedRecordWriter(self.tmp_rec, self.tmp_idx)
        except OSError as err:
            if os.path.exists(self.tmp_rec):
                os.remove(self.tmp_rec)
            raise _naming(err, self.rec) from err
        return self

    def write(self, index, label, payload):
        """One image record: ``payload`` is the encoded image (JPEG/PNG bytes); ``label`` a
        number or a sequence of numbers."""
        self.write_packed(index, pack_image_record(label, index, payload))

    def write_packed(self, index, record):
        try:
            self.writer.write(index, record)
        except OSError as err:
            raise _naming(err, self.rec) from err
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
            try:
                self._close()
            except OSError as err:
                raise _naming(err, self.rec) from err
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
    return writer.count
