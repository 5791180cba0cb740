"""What train_imagenet.py and train_cifar.py share: their flags (MXNet example's), the
checks of those flags, and the network they ask for. The training loop is common/fit.py."""
import math

import symbol
from symbol.builder import resolve_layout

from . import averaging, data, erasing
from .checkpoint import SHIPPED_MODELS
from .classes import find_class_names, read_class_names
from .cli import ArgumentParser, add_gpus_argument
from .errors import UserError
from .packing import read_pack_info

SCHEDULES = ('multifactor', 'cosine')
TTA_CHOICES = ('none', 'flip')


def add_fit_args(parser):
    train = parser.add_argument_group('Training', 'model training')
    train.add_argument('--network', type=str, help='registered network (symbol/), any case')
    train.add_argument('--multiplier', type=float, default=1.0, help='width multiplier')
    train.add_argument('--width-rule', type=str, default='upstream', choices=('upstream', 'standard'),
                       help='how the multiplier rounds widths (symbol/widths.py)')
    train.add_argument('--cpu-training-form', '--fast-group-conv', dest='fast_group_conv',
                       type=int, default=None, choices=(0, 1),
                       help='1: train the CPU training form (grouped 1x1 convs of at most 4 '
                            'groups as block-diagonal dense convs with the permutation after '
                            'them folded into parameters, BatchNorm fused with ReLU and ReLU6 '
                            'inside oneDNN; on AVX-512 CPUs, where the widths allow, the '
                            '24-channel activations padded to 32 for AVX-512 kernels, else '
                            'AVX2 kernels (the log says which): same parameters and '
                            'function, faster on CPUs; docs/speed.md); 0: the released ops; '
                            'default 1 on the CPU, 0 with GPUs. Checkpoints keep the released '
                            'graph either way. (--fast-group-conv, its first name, still works)')
    add_gpus_argument(train)
    train.add_argument('--kv-store', type=str, default='device',
                       help='local, device, dist_sync, dist_device_sync or dist_async')
    train.add_argument('--num-epochs', type=int, default=100, help='epochs to train')
    train.add_argument('--lr', type=float, default=0.1, help='initial learning rate')
    train.add_argument('--lr-scheduler', type=str, default='multifactor', choices=SCHEDULES,
                       help='multifactor: x lr-factor at each of lr-step-epochs; cosine: to 0 '
                            'at the last epoch')
    train.add_argument('--lr-factor', type=float, default=0.1,
                       help='learning rate multiplier at each step epoch')
    train.add_argument('--lr-step-epochs', type=str, default='',
                       help="epochs after which the rate is multiplied by lr-factor: a comma "
                            "list, or 'every' for after every epoch")
    train.add_argument('--warmup-epochs', type=float, default=0,
                       help='linear warm-up from --warmup-begin-lr over these epochs')
    train.add_argument('--warmup-begin-lr', type=float, default=0.0, help='lr at step 0 of warm-up')
    train.add_argument('--optimizer', type=str, default='sgd', choices=('sgd', 'nag'),
                       help='SGD or Nesterov, with momentum')
    train.add_argument('--mom', type=float, default=0.9, help='momentum')
    train.add_argument('--wd', type=float, default=1e-4, help='weight decay')
    train.add_argument('--initializer', type=str, default='xavier', choices=('xavier', 'msra'),
                       help="xavier: Xavier(gaussian, 'in', 2) as upstream; msra: MSRAPrelu")
    train.add_argument('--label-smoothing', type=float, default=0.0,
                       help='label smoothing (SoftmaxOutput smooth_alpha)')
    averaging.add_averaging_args(train)
    train.add_argument('--tta', type=str, default='none', choices=TTA_CHOICES,
                       help="the model's evaluation protocol, recorded in its model info: "
                            'flip scores each image and its mirror, probabilities averaged '
                            '(needs --random-mirror 1); validation, score.py and '
                            'tools/predict.py then default to it')
    train.add_argument('--batch-size', type=int, default=128,
                       help='total batch size per machine, split evenly over its GPUs')
    train.add_argument('--disp-batches', type=int, default=20,
                       help='log speed and metrics every this many batches')
    train.add_argument('--model-prefix', type=str, help='checkpoint prefix: PREFIX-%%04d.params')
    train.add_argument('--save-period', type=int, default=1, help='checkpoint every N epochs')
    train.add_argument('--load-epoch', type=int, help='resume from the checkpoint of this epoch')
    train.add_argument('--resume', action='store_true',
                       help='resume from the last complete checkpoint of --model-prefix, if any')
    train.add_argument('--top-k', type=int, default=0, help='also report top-k accuracy (0: off)')
    train.add_argument('--seed', type=int, default=None,
                       help='seed python, numpy, mxnet and the data iterators')
    train.add_argument('--dist-timeout', type=float, default=600,
                       help='distributed kvstores: stop with an error when no batch has '
                            'finished for this many seconds (a peer died)')
    train.add_argument('--log-file', type=str, default='',
                       help='also log to this file (its folder is created)')
    return train


def parse_step_epochs(text, num_epochs):
    if text.strip() == 'every':
        return list(range(1, num_epochs))
    try:
        return sorted(int(s) for s in text.split(',') if s.strip())
    except ValueError:
        raise UserError("--lr-step-epochs '%s' must be comma-separated epochs or 'every'" % text)


# Fields every TrainingConfig has, with these values where a script's parser has no such
# flag: train_imagenet.py's --layout follows the input; --dataset's name, only
# train_cifar.py's.
OPTIONAL_FIELDS = {'layout': None, 'dataset_name': None}


class TrainingConfig(object):
    """The training flags of a run, fixed once parsed: read as attributes (``args.lr``),
    never changed or added to; ``replace(lr=...)`` gives a changed copy, ``as_dict()``
    the values (in the parser's order). The training library (common.fit, common.data,
    ...) takes this one object, as MXNet's fit takes its flags; what it settles along the
    way (the epoch's examples) goes into a copy it keeps."""
    __slots__ = ('_values',)

    def __init__(self, values):
        values = dict(values)
        for name, default in OPTIONAL_FIELDS.items():
            values.setdefault(name, default)
        object.__setattr__(self, '_values', values)

    def __getattr__(self, name):
        if name.startswith('__') or name == '_values':  # (copy and pickle probe these)
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError('no training flag %r' % name) from None

    def __reduce__(self):
        return TrainingConfig, (self._values,)

    def __setattr__(self, name, value):
        raise AttributeError('the training flags are fixed once parsed: replace(%s=...) '
                             'gives a changed copy' % name)

    def __eq__(self, other):
        return isinstance(other, TrainingConfig) and self._values == other._values

    def __repr__(self):
        return 'TrainingConfig(%r)' % self._values

    def replace(self, **changes):
        unknown = sorted(set(changes) - set(self._values))
        if unknown:
            raise AttributeError('no training flag %s' % ', '.join(unknown))
        return TrainingConfig(dict(self._values, **changes))

    def as_dict(self):
        return dict(self._values)


def fixed(args):
    """The TrainingConfig of a parsed Namespace (or ``args`` itself if it is one)."""
    return args if isinstance(args, TrainingConfig) else TrainingConfig(vars(args))


def make_parser(description):
    parser = ArgumentParser(description=description)
    add_fit_args(parser)
    data.add_data_args(parser)
    data.add_data_aug_args(parser)
    return parser


# Seeds are offset by the epoch and the worker and must stay below numpy's 2**32.
MAX_SEED = 2 ** 31 - 1
# (flag, the test its value must pass, what it must be): checked before anything runs.
NUMERIC_FLAGS = [
    ('num-classes', lambda v: v is not None and v >= 1, 'a positive number'),
    ('batch-size', lambda v: v >= 1, 'positive'),
    ('num-epochs', lambda v: v >= 1, 'positive'),
    ('disp-batches', lambda v: v >= 1, 'positive'),
    ('save-period', lambda v: v >= 1, 'at least 1 (a checkpoint every N epochs)'),
    ('data-nthreads', lambda v: v >= 1, 'at least 1'),
    ('num-examples', lambda v: v is None or v >= 1, 'positive'),
    ('num-val-examples', lambda v: v is None or v >= 1, 'positive'),
    ('load-epoch', lambda v: v is None or v >= 1,
     'the number of a saved checkpoint, at least 1 (PREFIX-%04d.params)'),
    ('lr', lambda v: math.isfinite(v) and v > 0, 'a positive number'),
    ('lr-factor', lambda v: math.isfinite(v) and v > 0, 'a positive number'),
    ('warmup-epochs', lambda v: math.isfinite(v) and v >= 0, 'a number of epochs, 0 or more'),
    ('warmup-begin-lr', lambda v: math.isfinite(v) and v >= 0, '0 or more'),
    ('mom', lambda v: 0 <= v < 1, 'in [0, 1)'),
    ('wd', lambda v: math.isfinite(v) and v >= 0, '0 or more'),
    ('label-smoothing', lambda v: 0 <= v < 1, 'in [0, 1)'),
    ('multiplier', lambda v: math.isfinite(v) and v > 0, 'a positive number'),
    ('dist-timeout', lambda v: v > 0, 'a positive number of seconds'),
    ('top-k', lambda v: v >= 0, '0 (off) or more'),
    ('pad-size', lambda v: v >= 0, '0 or more'),
    ('seed', lambda v: v is None or 0 <= v <= MAX_SEED, 'in 0..%d' % MAX_SEED),
]


def validate_args(args):
    """Every flag checked before the first batch: one line for the first bad one."""
    if not args.network:
        raise UserError('--network is required')
    for flag, ok, what in NUMERIC_FLAGS:
        value = getattr(args, flag.replace('-', '_'))
        if not ok(value):
            raise UserError('--%s must be %s, got %s' % (flag, what, value))
    if args.load_epoch is not None and args.resume:
        raise UserError('give --load-epoch or --resume, not both')
    if (args.load_epoch is not None or args.resume) and not args.model_prefix:
        raise UserError('--load-epoch and --resume need --model-prefix')
    data.check_normalization(data.parse_floats(args.rgb_mean, 'rgb-mean'),
                             data.parse_floats(args.rgb_std, 'rgb-std'), '--rgb-mean/--rgb-std')
    erasing.settings(args)
    averaging.check_decay(args)
    if args.tta != 'none' and not args.random_mirror:
        raise UserError('--tta flip evaluates each image and its mirror, but this run trains '
                        'without --random-mirror 1: the model never saw mirrored images; '
                        'add --random-mirror 1 or drop --tta')




def network_kwargs(args):
    """The keywords of symbol.get_symbol that the flags set (every network takes them)."""
    return dict(num_classes=args.num_classes, multiplier=args.multiplier,
                image_shape=data.image_shape(args), layout=args.layout,
                width_rule=args.width_rule, dtype=args.dtype,
                label_smoothing=args.label_smoothing)


def model_info(args):
    """How the model these flags train is fed and named, for PREFIX-model.json
    (common.checkpoint.read_model_info)."""
    shape = data.image_shape(args)
    names_path = args.class_names or (find_class_names(args.data_train)
                                      if args.data_train else None)
    classes = read_class_names(names_path, args.num_classes) if names_path else None
    return dict(
        network=args.network.lower(), num_classes=args.num_classes, image_shape=list(shape),
        network_args=dict(multiplier=args.multiplier, width_rule=args.width_rule,
                          layout=resolve_layout(args.layout, shape),
                          dtype=args.dtype),
        mean=data.parse_floats(args.rgb_mean, 'rgb-mean'),
        std=data.parse_floats(args.rgb_std, 'rgb-std'), resize=args.val_resize,
        classes=classes, dataset=args.dataset_name,
        data_train=args.data_train, tta=args.tta,
        pack=read_pack_info(args.data_train) if args.data_train else None)


def get_network(args, form):
    """The registered network for these flags, in ``form`` (symbol.forms.Form)."""
    try:
        return symbol.get_symbol(args.network, form=form, **network_kwargs(args))
    except symbol.UnknownNetworkError:
        raise
    except symbol.NetworkConfigError as err:
        raise UserError('--network %s: %s' % (args.network, err))


def default_prefix(args, dataset=None):
    """models/[DATASET-]NETWORK, with the multiplier when it is not 1; '-run' added where
    that is the name of a model this repository ships (common.checkpoint.SHIPPED_MODELS)."""
    name = args.network.lower()
    if args.multiplier != 1.0:
        name += '_x%g' % args.multiplier
    if dataset:
        name = '%s-%s' % (dataset, name)
    return 'models/' + name + ('-run' if name in SHIPPED_MODELS else '')
