"""How a checkpoint is fed at evaluation: input shape, mean, std, resize, class names.

Training writes them to PREFIX-model.json (common.checkpoint); score.py, tools/predict.py,
tools/export_onnx.py and tools/quantize.py default to them. An explicit flag wins, with a
warning when it contradicts the file; the released weights (no file) get the released
protocol from the registry (symbol.registry.RELEASED_PROTOCOL); a checkpoint with neither
gets the released protocol too, and the tool says so in one line.
"""
import logging

from symbol.builder import resolve_layout
from symbol.registry import RELEASED_PROTOCOL

from . import checkpoint
from .data import check_normalization, parse_floats, parse_image_shape_flag
from .errors import UserError
from .evaluate import TTA


class Protocol(object):
    def __init__(self, image_shape, mean, std, resize, classes, source, info=None, tta='none'):
        self.image_shape, self.mean, self.std = tuple(image_shape), list(mean), list(std)
        self.resize, self.classes, self.source = resize, classes, source
        self.info = info  # the model info file's contents, if any
        self.tta = tta  # test-time augmentation (common.evaluate.predict)

    def model_info(self, **changes):
        """Model info for a checkpoint derived from this one (e.g. its INT8 form): the
        original's, with this protocol and ``changes``."""
        info = dict(self.info or {})
        info.update(image_shape=list(self.image_shape), mean=self.mean, std=self.std,
                    resize=self.resize, classes=self.classes, **changes)
        return info


def add_protocol_args(parser, resize=True, normalize=True, tta=False):
    """--image-shape [--resize] [--rgb-mean --rgb-std] [--tta], each defaulting to the
    checkpoint's."""
    where = "default: the checkpoint's (PREFIX-model.json), else the released protocol"
    parser.add_argument('--image-shape', default=None, help='channels,height,width; ' + where)
    if resize:
        parser.add_argument('--resize', type=int, default=None,
                            help='shorter side resized to this before the center crop (0: as '
                                 'packed); ' + where)
    if normalize:
        parser.add_argument('--rgb-mean', default=None, help='per-channel mean; ' + where)
        parser.add_argument('--rgb-std', default=None, help='per-channel std; ' + where)
    if tta:
        parser.add_argument('--tta', default=None, choices=TTA,
                            help='test-time augmentation: flip averages the probabilities of '
                                 'each image and its mirror (twice the compute); ' + where)
    parser.add_argument('--any-shape', action='store_true',
                        help='bind at an --image-shape whose layout the model was not trained '
                             'for (refused otherwise)')


def _same(a, b):
    return [round(float(x), 4) for x in a] == [round(float(x), 4) for x in b]


def given_flags(args):
    """The protocol flags (add_protocol_args's) of a tool's parsed ``args``, as resolve's
    keywords: None for each one not given, or that the tool does not have."""
    return dict(image_shape=getattr(args, 'image_shape', None),
                mean=getattr(args, 'rgb_mean', None), std=getattr(args, 'rgb_std', None),
                resize=getattr(args, 'resize', None), tta=getattr(args, 'tta', None),
                any_shape=getattr(args, 'any_shape', False))


def resolve(model, epoch, image_shape=None, mean=None, std=None, resize=None, tta=None,
            any_shape=False):
    """The Protocol for ``model`` at ``epoch`` (see the module): its model info's, or the
    released one, overridden by each of the flags given (their text as typed: --image-shape
    'C,H,W', --rgb-mean and --rgb-std 'a,b,c', --resize and --tta); ``any_shape`` allows
    an --image-shape of another layout than the model was trained for."""
    prefix, network = checkpoint.resolve(model, epoch)
    info = checkpoint.read_model_info(prefix)
    if info is not None:
        base = dict(image_shape=info['image_shape'], mean=info['mean'], std=info['std'],
                    resize=info['resize'], tta=info.get('tta', 'none'))
        source = checkpoint.model_info_path(prefix)
    else:
        base = dict(RELEASED_PROTOCOL, tta='none')
        source = 'the released protocol'
        if network is None:
            logging.info('%s not found: assuming the released ImageNet protocol (shape %s, '
                         'resize %d, mean %s, std %s); give --image-shape, --resize, --rgb-mean '
                         'and --rgb-std if the model was trained otherwise',
                         checkpoint.model_info_path(prefix),
                         ','.join(map(str, base['image_shape'])), base['resize'],
                         ','.join('%g' % v for v in base['mean']),
                         ','.join('%g' % v for v in base['std']))
    given = dict(image_shape=image_shape, mean=mean, std=std, resize=resize)
    parsed = dict(image_shape=parse_image_shape_flag(given['image_shape'])
                  if given['image_shape'] else None,
                  mean=parse_floats(given['mean'], 'rgb-mean') if given['mean'] else None,
                  std=parse_floats(given['std'], 'rgb-std') if given['std'] else None,
                  resize=given['resize'], tta=tta)
    flags = dict(image_shape='--image-shape', mean='--rgb-mean', std='--rgb-std',
                 resize='--resize', tta='--tta')
    out = {}
    for key, value in parsed.items():
        if value is None:
            out[key] = base[key]
            continue
        out[key] = value
        same = value == base[key] if key in ('resize', 'tta') else _same(value, base[key])
        if info is not None and not same:
            logging.warning('%s %s differs from what the model was trained with (%s in %s)',
                            flags[key], given.get(key, value), base[key], source)
    if info is not None and parsed['image_shape'] and not any_shape:
        trained = resolve_layout(None, info['image_shape'])
        asked = resolve_layout(None, parsed['image_shape'])
        if info.get('network_args', {}).get('layout', trained) != asked:
            raise UserError('--image-shape %s gives the %s layout, but the model was trained '
                            'with the %s layout at %s: leave --image-shape out, or add '
                            '--any-shape to bind it anyway'
                            % (given['image_shape'], asked,
                               info.get('network_args', {}).get('layout', trained),
                               ','.join(map(str, info['image_shape']))))
    layout = (info or {}).get('network_args', {}).get('layout')
    if layout and not parsed['image_shape'] and not any_shape \
            and resolve_layout(None, info['image_shape']) != layout:
        raise UserError('%s: image_shape %s gives the %s layout, but its network_args say the '
                        'model has the %s layout; correct the file, or give --image-shape '
                        '(with --any-shape to bind another layout)'
                        % (source, ','.join(map(str, info['image_shape'])),
                           resolve_layout(None, info['image_shape']), layout))
    check_normalization(out['mean'], out['std'],
                        '--rgb-mean/--rgb-std' if parsed['mean'] or parsed['std'] else source)
    classes = info.get('classes') if info is not None else None
    return Protocol(out['image_shape'], out['mean'], out['std'], out['resize'], classes, source,
                    info, out['tta'])
