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
from common.summaries import network_summary, paper_tables, zoo_table  # noqa: E402
from symbol.widths import WIDTH_RULES  # noqa: E402


def main():
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--network', default='igcv3',
                        help='one of ' + ', '.join(symbol.list_networks()))
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
        text = network_summary(args.network, args.image_shape, args.num_classes,
                               args.multiplier, args.width_rule, args.markdown)
    # The table is this tool's output, for the terminal or a pipe.
    print(text)


if __name__ == '__main__':
    run(main)
