"""Reading an image file safely: its size from the header before decoding, against a cap
on pixels (a 138-byte PNG can declare 1 x 20,000 pixels, and a --resize of its short side
to 480 would make 9.6 million by 480). tools/im2rec.py packs and tools/predict.py
classifies with the same cap."""
import io

import numpy as np

from .errors import UserError

# Pixels an image may have, decoded or once resized (about 190 MB as 8-bit RGB).
MAX_IMAGE_PIXELS = 64 * 1000 * 1000
# The largest image side a flag or a model info may give (input shape, resize): larger
# ones fail later in an allocation (a 100,000 x 100,000 input is 120 GB a batch).
MAX_IMAGE_SIDE = 8192


def header_size(raw):
    """(width, height) read from the image header without decoding, or None when Pillow
    does not know the format."""
    import PIL.Image
    try:
        with PIL.Image.open(io.BytesIO(raw)) as img:
            return img.size
    except Exception:  # noqa: BLE001 (any format or parse failure: decode instead)
        return None


def resized_size(width, height, resize):
    """(width, height) once the shorter side is ``resize`` (0: as is)."""
    if not resize:
        return width, height
    if height > width:
        return resize, height * resize // width
    return width * resize // height, resize


def read_image(path, grey, resize=0, max_pixels=MAX_IMAGE_PIXELS):
    """The image at ``path`` as OpenCV decodes it (BGR, or grey (H, W)), refused in one line
    when missing, not an image, or larger than ``max_pixels`` decoded or resized."""
    import cv2
    import PIL.Image
    PIL.Image.MAX_IMAGE_PIXELS = None  # (the cap here is max_pixels)
    try:
        with open(path, 'rb') as f:
            raw = f.read()
    except OSError as err:
        raise UserError('%s: cannot read it (%s)' % (path, err.strerror or err))
    size = header_size(raw)
    if size is not None:
        for what, (w, h) in (('is', size), ('resized would be', resized_size(*size, resize))):
            if w * h > max_pixels:
                raise UserError('%s %s %d x %d pixels, more than --max-image-pixels %d'
                                % (path, what, w, h, max_pixels))
    img = cv2.imdecode(np.frombuffer(raw, np.uint8),
                       cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
    if img is None:
        raise UserError('%s: not an image OpenCV decodes' % path)
    return img
