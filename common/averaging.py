"""Weight averaging (``--ema-decay D``): an exponential moving average of every parameter
and of BatchNorm's running statistics, updated after each optimizer step, is the model
the run saves and validates.

After step t the average moves towards the trained weights w by
``avg = d * avg + (1 - d) * w`` with ``d = min(D, (1 + t) / (10 + t))`` (a short warm-up,
so the first epochs' average is not held at the initialization). t counts every step
since the run began, resumes included, so a resumed run averages as an uninterrupted
one. Off (D = 0) in the paper's recipes.

Checkpoints: with averaging, PREFIX-%04d.params holds the averaged weights (the model
that score.py, tools/predict.py and every other tool use) and PREFIX-%04d.training.params
the weights training goes on from, which --resume needs, as it needs the .states file;
neither is part of the model.
"""
import logging
import math

import mxnet as mx

from symbol.training_form import aux_to_graph, aux_to_released

from .errors import UserError


def add_averaging_args(train):
    train.add_argument('--ema-decay', type=float, default=0.0,
                       help='save and validate an exponential moving average of the weights '
                            'and BatchNorm statistics with this decay per step (e.g. 0.999; '
                            '0: off, the paper recipes); the trained weights go to '
                            'PREFIX-NNNN.training.params for --resume')


def check_decay(args):
    decay = args.ema_decay
    if not (math.isfinite(decay) and 0 <= decay < 1):
        raise UserError('--ema-decay must be in [0, 1) (0: off), got %s' % decay)


def decay_at(decay, step):
    """The decay applied at step ``step`` (counted from 0 at the run's first step)."""
    return min(decay, (1.0 + step) / (10.0 + step))


class WeightAverage(object):
    """The average of ``mod``'s parameters and auxiliary states (in the layout of its
    graph), on the first device. ``initial`` (arg, aux in the released layout) starts it,
    as from a checkpoint; else it starts from the module's current weights. ``step`` is
    the number of optimizer steps already taken."""

    def __init__(self, mod, decay, step=0, initial=None):
        self.mod, self.decay, self.step = mod, decay, step
        group = mod._exec_group
        self.param_names, self.aux_names = list(group.param_names), list(group.aux_names)
        arg, aux = (None, None) if initial is None else \
            (initial[0], aux_to_graph(mod.symbol, initial[1]))
        self.params = [self._start(block, arg, name)
                       for name, block in zip(self.param_names, group.param_arrays)]
        self.aux = [self._start(block, aux, name)
                    for name, block in zip(self.aux_names, group.aux_arrays)]

    @staticmethod
    def _start(block, given, name):
        ctx = block[0].context
        if given is not None and name in given:
            if given[name].shape != block[0].shape:
                raise UserError('the averaged weights of the checkpoint do not fit: %s has shape '
                                '%s, the network %s' % (name, given[name].shape, block[0].shape))
            return given[name].as_in_context(ctx).copy()
        return _mean(block).copy()

    def update(self):
        """One step of the average, after an optimizer step (and after the step's outputs
        were read, so BatchNorm's running statistics hold the step's update)."""
        d = decay_at(self.decay, self.step)
        self.step += 1
        group = self.mod._exec_group
        # MXNet 1.9's oneDNN BatchNorm writes its running statistics without the engine
        # ordering that write (common.module): wait for this step's to be written, and
        # (below) read them before the next batch's forward can change them; else a
        # resumed run's average differs from an uninterrupted one's.
        mx.nd.waitall()
        for avg, block in zip(self.params + self.aux, group.param_arrays + group.aux_arrays):
            avg *= d
            avg += (1.0 - d) * _mean(block)
        for avg in self.aux:
            avg.wait_to_read()

    def get_params(self):
        """(arg_params, aux_params) of the average on the CPU, in the released layout."""
        mx.nd.waitall()
        arg = {n: a.copyto(mx.cpu()) for n, a in zip(self.param_names, self.params)}
        aux = {n: a.copyto(mx.cpu()) for n, a in zip(self.aux_names, self.aux)}
        return arg, aux_to_released(self.mod.symbol, aux)


def _mean(block):
    if len(block) == 1:
        return block[0]
    ctx = block[0].context
    return sum(b.as_in_context(ctx) for b in block) / len(block)


def log_start(decay, step, resumed):
    logging.info('--ema-decay %g: saving and validating the weight average (%s, step %d)',
                 decay, resumed, step)
