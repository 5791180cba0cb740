"""A worker of the distributed test: trains with common.fit, then writes its own weights
to OUT/rank-R.params so the test can compare the workers."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402,F401
import mxnet as mx  # noqa: E402
from common import data, fit, train  # noqa: E402
from common.cli import run  # noqa: E402


def main():
    parser = train.make_parser('distributed test worker')
    parser.add_argument('--out', required=True)
    args = data.parse_args(parser)
    mod = fit.fit(args, train.get_network)
    arg, aux = fit.synced_params(mod)
    mx.nd.save(os.path.join(args.out, 'rank-%d.params' % mod._kvstore.rank),
               {'arg:' + k: v for k, v in arg.items()})


if __name__ == '__main__':
    run(main)
