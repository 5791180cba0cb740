"""SGD steps of a network in one form, for tests/test_form_training.py (a process of its
own: the form decides the oneDNN kernels, which a process picks once).

    form_steps.py chain|from NETWORK FORM START END SOURCE OUT

Trains steps START..END-1 on the fixed batches ``batch(i)`` with SGD (momentum 0.9,
weight decay 1e-4) in FORM (a symbol.forms.Form value) through common.module.Module,
saving after each step i the weights (released layout) to OUT/(i+1).params and the
optimizer state to OUT/(i+1).params.states, as a checkpoint does. ``chain`` starts from
SOURCE/START and goes on from its own steps; ``from`` starts every step i from
SOURCE/i (weights and momentum of another run): each step is a resume.
FS_BATCH, FS_SHAPE and FS_LR change the batch size, image shape and learning rate.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from common import runtime  # noqa: E402
runtime.configure()

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

import symbol  # noqa: E402
from common.module import Module  # noqa: E402
from symbol import Form  # noqa: E402

BATCH = int(os.environ.get('FS_BATCH', 8))
SHAPE = tuple(int(v) for v in os.environ.get('FS_SHAPE', '3,16,16').split(','))
CLASSES = 4
LR = float(os.environ.get('FS_LR', 0.05))


def build(network, form):
    return symbol.get_symbol(network, num_classes=CLASSES, image_shape=','.join(map(str, SHAPE)),
                             form=form)


def batch(i):
    """Batch i: images whose mean colour says the class, so the steps learn."""
    r = np.random.RandomState(1000 + i)
    labels = r.randint(0, CLASSES, BATCH)
    images = r.normal(0, 1, (BATCH,) + SHAPE)
    for n, label in enumerate(labels):
        images[n, label % 3] += 1.0 + label // 3
    return mx.io.DataBatch([mx.nd.array(images)], [mx.nd.array(labels)])


def load(path):
    saved = mx.nd.load(path)
    return ({k[4:]: v for k, v in saved.items() if k.startswith('arg:')},
            {k[4:]: v for k, v in saved.items() if k.startswith('aux:')})


def save(path, arg, aux):
    data = {'arg:' + k: v for k, v in arg.items()}
    data.update({'aux:' + k: v for k, v in aux.items()})
    mx.nd.save(path, data)


def state(folder, step):
    return os.path.join(folder, '%04d.params' % step)


def main():
    """chain: steps START..END-1 each from the last, from SOURCE/START; every step's
    weights and optimizer state saved to OUT/STEP. from: each step i from SOURCE/i (a
    chain of another form), to OUT/i+1."""
    mode, network, form, start, end, source, out = sys.argv[1:8]
    form = Form(form)
    if form is Form.CPU_TRAINING_PADDED:
        assert not os.environ.get('DNNL_MAX_CPU_ISA'), 'the padded form runs AVX-512 kernels'
    else:
        assert runtime.use_training_kernels() == 'AVX2', os.environ['DNNL_MAX_CPU_ISA']
    # FS_PLAIN_MODULE=1: MXNet's own Module, which does not convert the running statistics
    # (the test shows its check catches that)
    module = mx.mod.Module if os.environ.get('FS_PLAIN_MODULE') else Module
    mod = module(build(network, form), context=mx.cpu())
    mod.bind(data_shapes=[('data', (BATCH,) + SHAPE)], label_shapes=[('softmax_label', (BATCH,))])
    mod.init_params(None, *load(state(source, int(start))))
    mod.init_optimizer(optimizer='sgd', optimizer_params={
        'learning_rate': LR, 'momentum': 0.9, 'wd': 1e-4, 'rescale_grad': 1.0 / BATCH})
    os.makedirs(out, exist_ok=True)
    for i in range(int(start), int(end)):
        if mode == 'from' or i == int(start):
            mod.set_params(*load(state(source, i)))
            if os.path.isfile(state(source, i) + '.states'):
                mod.load_optimizer_states(state(source, i) + '.states')
        mod.forward_backward(batch(i))
        mod.update()
        save(state(out, i + 1), *mod.get_params())
        mod.save_optimizer_states(state(out, i + 1) + '.states')


if __name__ == '__main__':
    main()
