"""Learning-rate schedules as pure functions of the (fractional) epoch.

Kept free of heavy imports: with a distributed kvstore the optimizer, this scheduler
included, is pickled to the parameter servers, which unpickle it while mxnet itself is
still being imported there; ``mxnet.lr_scheduler`` imports on its own, ``mxnet`` does not.
"""
import math

from mxnet.lr_scheduler import LRScheduler


def learning_rate(epoch, base_lr, num_epochs, schedule='multifactor', factor=0.1, steps=(),
                  warmup_epochs=0.0, warmup_begin_lr=0.0):
    """Learning rate at (fractional) ``epoch``.

    multifactor: base_lr * factor ** (number of steps <= epoch); cosine: half a cosine from
    base_lr down to 0 at num_epochs. A linear warm-up from warmup_begin_lr comes first.
    """
    if epoch < warmup_epochs:
        return warmup_begin_lr + (base_lr - warmup_begin_lr) * epoch / warmup_epochs
    if schedule == 'cosine':
        span = max(num_epochs - warmup_epochs, 1e-12)
        progress = min(max((epoch - warmup_epochs) / span, 0.0), 1.0)
        return 0.5 * base_lr * (1 + math.cos(math.pi * progress))
    passed = sum(1 for s in steps if s <= epoch + 1e-9)
    return base_lr * factor ** passed


class EpochLRScheduler(LRScheduler):
    """``learning_rate`` evaluated at update ``num_update`` of ``epoch_size`` per epoch."""

    def __init__(self, epoch_size, **schedule):
        super(EpochLRScheduler, self).__init__(base_lr=schedule['base_lr'])
        self.epoch_size = epoch_size
        self.schedule = schedule

    def __call__(self, num_update):
        return learning_rate(num_update / float(self.epoch_size), **self.schedule)
