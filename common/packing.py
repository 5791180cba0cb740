"""What tools/im2rec.py did to the images when it packed them (center crop, resize, colour),
recorded beside the records as PREFIX.pack.json, copied by training into the model info
(``pack``), and applied by tools/predict.py to a raw image first: a model trained on
records resized to 40 pixels is then fed a raw 64-pixel image at 40, as it was trained
(score.py reads the records, which already are)."""
import json
import os

from .atomic import write_text
from .errors import UserError
from .images import MAX_IMAGE_SIDE, resized_size

COLORS = (-1, 0, 1)  # as stored, grey, colour (im2rec's --color)


def pack_info_path(rec_path):
    return os.path.splitext(rec_path)[0] + '.pack.json'


def transform(img, resize, center_crop):
    """im2rec's transform of a decoded image: the center square first (``center_crop``),
    then the shorter side to ``resize`` (0: as is), OpenCV's bilinear resize."""
    import cv2
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
