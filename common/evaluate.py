"""Scoring a bound Module on an iterator, every image counted exactly once."""
import logging
import time

import mxnet as mx
import numpy as np

from .data import safe_batches, safe_reset


def make_metrics(top_k, num_classes):
    """Accuracy, and top-k accuracy when 0 < top_k < num_classes (else it would be 1)."""
    metrics = [mx.metric.Accuracy()]
    if 0 < top_k < num_classes:
        metrics.append(mx.metric.TopKAccuracy(top_k=top_k))
    elif top_k >= num_classes:
        logging.info('--top-k %d: not below the %d classes, so not reported', top_k, num_classes)
    return metrics


class PerClass(object):
    """Per-class counts, updated like an mx.metric (``update(labels, outputs)``, ``reset()``)
    so common.evaluate.evaluate feeds it the same rows as the metrics: for each label, its
    images, how many the top-1 gets right and, when 0 < ``top_k`` < ``num_classes`` (as in
    make_metrics), how many have the label among the top k."""

    def __init__(self, num_classes, top_k=0):
        self.num_classes = num_classes
        self.top_k = top_k if 0 < top_k < num_classes else 0
        self.reset()

    def reset(self):
        self.images = np.zeros(self.num_classes, np.int64)
        self.correct = np.zeros(self.num_classes, np.int64)
        self.top_k_correct = np.zeros(self.num_classes, np.int64)

    def update(self, labels, outputs):
        for label, output in zip(labels, outputs):
            label = label.asnumpy().ravel().astype(np.int64)
            scores = output.asnumpy().reshape(len(label), -1)
            np.add.at(self.images, label, 1)
            np.add.at(self.correct, label, scores.argmax(1) == label)
            if self.top_k:
                top = np.argpartition(-scores, self.top_k - 1, axis=1)[:, :self.top_k]
                np.add.at(self.top_k_correct, label, (top == label[:, None]).any(1))

    def rows(self, names=None):
        """[{label, name, images, correct, accuracy (None without images)[, top_k_correct_K,
        top_k_accuracy_K]}] in label order; ``names`` in label order, or None."""
        out = []
        for c in range(self.num_classes):
            n = int(self.images[c])
            row = {'label': c, 'name': names[c] if names else None, 'images': n,
                   'correct': int(self.correct[c]),
                   'accuracy': float(self.correct[c] / n) if n else None}
            if self.top_k:
                row['top_k_correct_%d' % self.top_k] = int(self.top_k_correct[c])
                row['top_k_accuracy_%d' % self.top_k] = \
                    float(self.top_k_correct[c] / n) if n else None
            out.append(row)
        return out


TTA = ('none', 'flip')


def predict(mod, batch, tta='none'):
    """``mod``'s outputs for ``batch`` (probabilities); ``tta`` 'flip' averages them with
    those of the batch mirrored left-right (test-time augmentation)."""
    mod.forward(batch, is_train=False)
    outputs = mod.get_outputs()
    if tta == 'flip':
        first = [o.copy() for o in outputs]
        mirrored = mx.io.DataBatch([mx.nd.flip(batch.data[0], axis=3)] + list(batch.data[1:]),
                                   batch.label, pad=batch.pad)
        mod.forward(mirrored, is_train=False)
        outputs = [(a + b) * 0.5 for a, b in zip(first, mod.get_outputs())]
    elif tta != 'none':
        raise ValueError('unknown test-time augmentation %r' % tta)
    return outputs


def evaluate(mod, data_iter, metrics, num_images, max_examples=None, progress=None,
             flag='data-val', tta='none', stop=None):
    """Run ``mod`` over the ``num_images`` images of ``data_iter`` updating ``metrics``;
    returns (images, seconds).

    MXNet 1.9's ImageRecordIter with round_batch=False fills the last batch with zero
    images of label 0 and reports ``pad=0`` for it, and Module.score counts every row it
    gets, so a plain score silently includes fake images. Here the first ``num_images``
    rows (at most ``max_examples``) are counted, each once. ``tta``: see predict.
    ``stop``: a function, checked after each batch; when it is true the scoring ends there.
    """
    for m in metrics:
        m.reset()
    safe_reset(data_iter, flag)
    limit = num_images if max_examples is None else min(num_images, max_examples)
    count = 0
    tic = time.time()
    for batch in safe_batches(data_iter, flag):
        real = min(batch.data[0].shape[0] - (batch.pad or 0), limit - count)
        outputs = [o[:real] for o in predict(mod, batch, tta)]
        labels = [l[:real] for l in batch.label]
        for m in metrics:
            m.update(labels, outputs)
        count += real
        if progress is not None:
            progress.update(real)
        if count >= limit or (stop is not None and stop()):
            break
    seconds = time.time() - tic
    logging.debug('scored %d images in %.2f s', count, seconds)
    return count, seconds
