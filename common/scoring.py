"""Scoring a checkpoint on a validation .rec, as score.py does: the model found and fed
as its model info says (common.protocol), its labels checked against its classes, bound in
its inference form, every image counted once (common.evaluate), with test-time
augmentation and per-class counts; and the --per-class table."""
import logging
import os

from . import checkpoint, evaluate, protocol, runtime
from .data import check_labels, eval_record_iter, how_to_make
from .errors import UserError
from .inference import bind_for_inference
from .progress import Progress


def score(model, load_epoch, data_val, gpus=None, batch_size=32, data_nthreads=4,
          max_num_examples=None, top_k=5, fused=True, per_class=False, **protocol_flags):
    """Score a checkpoint (a prefix, a model in models/ named alone, or a registered
    network's released weights; ``load_epoch`` None: the last complete one) on every image
    of the .rec ``data_val`` once (the first ``max_num_examples``), fed as its protocol says
    (common.protocol, overridden by ``protocol_flags``: resolve's keywords), on ``gpus``
    (common.runtime.get_devices: None every visible GPU, else the CPU); returns (a dict
    of the results, the metrics)."""
    model, load_epoch = checkpoint.find_model(model, load_epoch)
    proto = protocol.resolve(model, load_epoch, **protocol_flags)
    shape, mean, std = proto.image_shape, proto.mean, proto.std
    if batch_size < 1:
        raise UserError('--batch-size must be positive')
    if max_num_examples is not None and max_num_examples < 1:
        raise UserError('--max-num-examples must be at least 1 (leave it out to score every '
                        'image), got %d' % max_num_examples)
    if data_nthreads < 1:
        raise UserError('--data-nthreads must be at least 1, got %d' % data_nthreads)
    if not os.path.isfile(data_val):
        raise UserError('--data-val %s: no such file; %s'
                        % (data_val, how_to_make(data_val)))
    sym, arg, aux, params_path = checkpoint.load_model(model, load_epoch, shape)
    classes = checkpoint.num_classes_of(arg)
    total = check_labels(data_val, classes, 'data-val')
    shown = total if max_num_examples is None else min(total, max_num_examples)
    devices = runtime.get_devices(gpus)
    # A batch larger than the images only allocates more (--batch-size 100000 on 70 images
    # asked for gigabytes): at most the images scored.
    batch_size = min(batch_size, max(shown, 1))
    mod = bind_for_inference(sym, arg, aux, batch_size, shape, devices, fused)
    data = eval_record_iter('data-val', data_val, '', shape, batch_size, proto.resize,
                            mean, std, data_nthreads)
    metrics = evaluate.make_metrics(top_k, classes)
    per_class = evaluate.PerClass(classes, top_k) if per_class else None
    logging.info('scoring %s on %d images of %s (%s; input %s, resize %d, mean %s, std %s, '
                 'tta %s: %s)', params_path, shown, data_val,
                 'fused' if fused else 'not fused', ','.join(map(str, shape)), proto.resize,
                 ','.join('%g' % v for v in mean), ','.join('%g' % v for v in std), proto.tta,
                 proto.source)
    count, seconds = evaluate.evaluate(mod, data, metrics + [per_class] if per_class else metrics,
                                       total, max_num_examples, Progress(shown, 'score'),
                                       tta=proto.tta)
    result = {'model': params_path, 'data': data_val, 'images': count,
              'images_per_sec': count / max(seconds, 1e-9), 'fused': fused, 'tta': proto.tta}
    result.update(dict(m.get() for m in metrics))
    if per_class is not None:
        names = proto.classes if proto.classes and len(proto.classes) == classes else None
        result['per_class'] = per_class.rows(names)
        seen = [r['accuracy'] for r in result['per_class'] if r['images']]
        result['mean_class_accuracy'] = sum(seen) / len(seen) if seen else None
    return result, metrics


def per_class_table(result):
    """The --per-class table: one line per class, then all images and the class mean."""
    rows = result['per_class']
    top_k = [k for k in rows[0] if k.startswith('top_k_accuracy_')] if rows else []
    width = max([len('all images')] + [len(r['name'] or '') for r in rows])

    def pct(value):
        return '%7.2f%%' % (100 * value) if value is not None else '%8s' % '-'
    head = '%5s  %-*s  %7s  %8s' % ('label', width, 'name', 'images', 'top-1')
    lines = [head + ''.join('  %8s' % ('top-' + k.rsplit('_', 1)[1]) for k in top_k)]
    for r in rows:
        lines.append('%5d  %-*s  %7d  %s' % (r['label'], width, r['name'] or '', r['images'],
                                            pct(r['accuracy']))
                     + ''.join('  ' + pct(r[k]) for k in top_k))
    lines.append('%5s  %-*s  %7d  %s' % ('', width, 'all images', result['images'],
                                        pct(result['accuracy']))
                 + ''.join('  ' + pct(result.get(k)) for k in top_k))
    lines.append('%5s  %-*s  %7s  %s' % ('', width, 'class mean', '',
                                        pct(result['mean_class_accuracy'])))
    return '\n'.join(lines) + '\n'
