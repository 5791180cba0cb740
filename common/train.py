"""What train_imagenet.py and train_cifar.py share: the parser and the network from flags."""

import symbol

from .cli import ArgumentParser

from . import data, fit


def make_parser(description):
    parser = ArgumentParser(description=description)
    fit.add_fit_args(parser)
    data.add_data_args(parser)
    data.add_data_aug_args(parser)
    return parser


def get_network(args, exact=False):
    """The registered network for these flags (unknown keys are ignored by the builders);
    ``exact`` gives the released ops even when --fast-group-conv trains another form."""
    kwargs = dict(vars(args))
    kwargs['fast_group_conv'] = bool(kwargs.get('fast_group_conv')) and not exact
    return symbol.get_symbol(kwargs.pop('network'), **kwargs)


def default_prefix(args):
    """models/NETWORK, with the multiplier when it is not 1."""
    name = args.network.lower()
    if args.multiplier != 1.0:
        name += '_x%g' % args.multiplier
    return 'models/' + name
