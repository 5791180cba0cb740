"""What train_imagenet.py and train_cifar.py share: the parser and the network from flags."""

import symbol

from . import data, fit
from .cli import ArgumentParser
from .errors import UserError


def make_parser(description):
    parser = ArgumentParser(description=description)
    fit.add_fit_args(parser)
    data.add_data_args(parser)
    data.add_data_aug_args(parser)
    return parser


def network_kwargs(args):
    """The keywords of symbol.get_symbol that the flags set (every network takes them)."""
    return dict(num_classes=args.num_classes, multiplier=args.multiplier,
                image_shape=data.image_shape(args), layout=getattr(args, 'layout', None),
                width_rule=args.width_rule, dtype=args.dtype,
                label_smoothing=args.label_smoothing)


def get_network(args, form):
    """The registered network for these flags, in ``form`` (symbol.forms.Form)."""
    try:
        return symbol.get_symbol(args.network, form=form, **network_kwargs(args))
    except symbol.UnknownNetworkError:
        raise
    except symbol.NetworkConfigError as err:
        raise UserError('--network %s: %s' % (args.network, err))


def default_prefix(args):
    """models/NETWORK, with the multiplier when it is not 1."""
    name = args.network.lower()
    if args.multiplier != 1.0:
        name += '_x%g' % args.multiplier
    return 'models/' + name
