#!/usr/bin/env python
"""Parameters and multiply-adds of any registered network, counted on the built graph.

    python tools/summary.py --network igcv3                      # one network, by operator
    python tools/summary.py --network igcv3 --image-shape 3,32,32 --num-classes 10
    python tools/summary.py --zoo --markdown                     # the README's network table
    python tools/summary.py --paper-tables                       # the paper's tables beside ours
"""

import _path  # noqa: F401
from common import runtime
runtime.configure()  # before mxnet loads

import symbol  # noqa: E402
from common.cli import ArgumentParser, UserError, run, setup_logging  # noqa: E402
from common.complexity import complexity  # noqa: E402
from symbol.paper import PAPER_CIFAR, PAPER_IMAGENET  # noqa: E402
from symbol.widths import WIDTH_RULES  # noqa: E402

ZOO_SHAPES = (('3,224,224', 1000), ('3,32,32', 10))


def count(network, image_shape, num_classes, **kwargs):
    sym = symbol.get_symbol(network, image_shape=image_shape, num_classes=num_classes, **kwargs)
    return complexity(sym, symbol.parse_image_shape(image_shape))


def render(header, rows, markdown):
    if markdown:
        lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
        lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
        return '\n'.join(lines)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    fmt = '  '.join('%%-%ds' % w for w in widths)
    return '\n'.join(fmt % tuple(r) for r in [header] + [tuple(map(str, r)) for r in rows])


def millions(n):
    return '%.2fM' % (n / 1e6)


def zoo_table(markdown):
    header = ['network']
    for shape, classes in ZOO_SHAPES:
        tag = '%s/%d' % (shape.split(',', 1)[1].replace(',', 'x'), classes)
        header += ['params %s' % tag, 'MACs %s' % tag]
    rows = []
    for name in symbol.list_networks():
        row = [name]
        for shape, classes in ZOO_SHAPES:
            c = count(name, shape, classes)
            row += ['{:,}'.format(c['params']), '{:,}'.format(c['macs'])]
        rows.append(row)
    return render(header, rows, markdown)


def paper_tables(markdown):
    out = []
    for title, classes, col in (('CIFAR-10', 10, 0), ('CIFAR-100', 100, 1)):
        rows = []
        for label, net, paper_m, acc in PAPER_CIFAR:
            c = count(net, '3,32,32', classes)
            rows.append([label, net, '%.1fM' % paper_m, millions(c['params']),
                         '{:,}'.format(c['macs']), '%.2f' % acc[col]])
        out.append('%s (32x32, %d classes)\n%s' % (title, classes, render(
            ['network', '--network', 'paper params', 'our params', 'our MACs',
             'paper top-1'], rows, markdown)))
    rows = []
    for label, net, paper_m, before, after in PAPER_IMAGENET:
        c = count(net, '3,224,224', 1000)
        rows.append([label, net, '%.1fM' % paper_m, millions(c['params']),
                     '{:,}'.format(c['macs']), before, after])
    out.append('ImageNet (224x224, 1000 classes)\n' + render(
        ['network', '--network', 'paper params', 'our params', 'our MACs',
         'paper top-1/5', 'after retrain'], rows, markdown))
    return '\n\n'.join(out)


def network_summary(args, markdown):
    c = count(args.network, args.image_shape, args.num_classes, multiplier=args.multiplier,
              width_rule=args.width_rule)
    rows = [[op, n] for op, n in sorted(c['ops'].items())]
    rows += [['learnable parameters', '{:,}'.format(c['params'])],
             ['  convolution', '{:,}'.format(c['conv_params'])],
             ['  batchnorm gamma/beta', '{:,}'.format(c['bn_params'])],
             ['  fully connected', '{:,}'.format(c['fc_params'])],
             ['batchnorm running values', '{:,}'.format(c['aux'])],
             ['multiply-adds (conv + fc)', '{:,}'.format(c['macs'])]]
    title = '%s (%s) x%g (%s rule), input %s, %d classes' % (
        args.network, symbol.get_spec(args.network).description, args.multiplier,
        args.width_rule, args.image_shape, args.num_classes)
    return title + '\n' + render(['', 'count'], rows, markdown)


def main():
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--network', default='igcv3', help='one of ' + ', '.join(symbol.list_networks()))
    parser.add_argument('--multiplier', type=float, default=1.0, help='width multiplier')
    parser.add_argument('--width-rule', default='upstream', choices=WIDTH_RULES,
                        help='how the multiplier rounds widths')
    parser.add_argument('--image-shape', default='3,224,224', help='channels,height,width')
    parser.add_argument('--num-classes', type=int, default=1000)
    parser.add_argument('--zoo', action='store_true', help='table of every registered network')
    parser.add_argument('--paper-tables', action='store_true',
                        help="the paper's CIFAR and ImageNet tables with our counts")
    parser.add_argument('--markdown', action='store_true', help='markdown tables')
    args = parser.parse_args()
    setup_logging()
    if args.zoo and args.paper_tables:
        raise UserError('give --zoo or --paper-tables, not both')
    if args.zoo:
        text = zoo_table(args.markdown)
    elif args.paper_tables:
        text = paper_tables(args.markdown)
    else:
        text = network_summary(args, args.markdown)
    # The table is this tool's output, for the terminal or a pipe.
    print(text)


if __name__ == '__main__':
    run(main)
