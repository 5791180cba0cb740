"""A worker of the distributed test: trains with common.fit, then writes its own weights
to OUT/rank-R.params so the test can compare the workers."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import runtime  # noqa: E402
runtime.configure()
import mxnet as mx  # noqa: E402
from common import data, fit, training_flags  # noqa: E402
from common.cli import run  # noqa: E402


class DyingIter(object):
    """Wraps a training iterator; the process dies (as if killed) at batch ``at``."""

    def __init__(self, it, at):
        self.it, self.at, self.count = it, at, 0

    def __iter__(self):
        for batch in self.it:
            self.count += 1
            if self.count > self.at:
                os._exit(9)
            yield batch

    def __getattr__(self, name):
        return getattr(self.it, name)


def main():
    parser = training_flags.make_parser('distributed test worker')
    parser.add_argument('--out', required=True)
    parser.add_argument('--rank1-dies-at-batch', type=int, default=-1)
    args = data.parse_args(parser)

    def loader(args, kv, epoch):
        it, val = data.get_rec_iter(args, kv, epoch)
        if kv.rank == 1 and args.rank1_dies_at_batch >= 0:
            it = DyingIter(it, args.rank1_dies_at_batch)
        return it, val
    mod = fit.fit(args, training_flags.get_network, loader)
    arg, aux = mod.get_params()
    mx.nd.save(os.path.join(args.out, 'rank-%d.params' % mod._kvstore.rank),
               {'arg:' + k: v for k, v in arg.items()})


if __name__ == '__main__':
    run(main)
