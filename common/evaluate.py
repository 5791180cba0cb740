"""Scoring a bound Module on an iterator, every image counted exactly once."""
import logging
import time

import mxnet as mx

from .data import safe_batches


def make_metrics(top_k, num_classes):
    """Accuracy, and top-k accuracy when 0 < top_k < num_classes (else it would be 1)."""
    metrics = [mx.metric.Accuracy()]
    if 0 < top_k < num_classes:
        metrics.append(mx.metric.TopKAccuracy(top_k=top_k))
    elif top_k >= num_classes:
        logging.info('--top-k %d: not below the %d classes, so not reported', top_k, num_classes)
    return metrics


def evaluate(mod, data_iter, metrics, num_images, max_examples=None, progress=None,
             flag='data-val'):
    """Run ``mod`` over the ``num_images`` images of ``data_iter`` updating ``metrics``;
    returns (images, seconds).

    MXNet 1.9's ImageRecordIter with round_batch=False fills the last batch with zero
    images of label 0 and reports ``pad=0`` for it, and Module.score counts every row it
    gets, so a plain score silently includes fake images. Here the first ``num_images``
    rows (at most ``max_examples``) are counted, each once.
    """
    for m in metrics:
        m.reset()
    data_iter.reset()
    limit = num_images if max_examples is None else min(num_images, max_examples)
    count = 0
    tic = time.time()
    for batch in safe_batches(data_iter, flag):
        mod.forward(batch, is_train=False)
        real = min(batch.data[0].shape[0] - (batch.pad or 0), limit - count)
        outputs = [o[:real] for o in mod.get_outputs()]
        labels = [l[:real] for l in batch.label]
        for m in metrics:
            m.update(labels, outputs)
        count += real
        if progress is not None:
            progress.update(real)
        if count >= limit:
            break
    seconds = time.time() - tic
    logging.debug('scored %d images in %.2f s', count, seconds)
    return count, seconds
