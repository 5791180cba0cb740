"""The training log: the lines common/fit.py writes, and the one reader of them.

Formats are MXNet's example/image-classification's, so MXNet's parse_log.py reads them
too: ``Epoch[e] Batch [a-b]\tSpeed: N samples/sec``, ``Epoch[e] Train-accuracy=``,
``Epoch[e] Validation-accuracy=``, ``Epoch[e] Learning-rate=``, ``Epoch[e] Time cost=``,
and the ``start with arguments`` line; besides them, after each epoch's Time cost,
``Epoch[e] Trained N images in S s: R images/s``.

Training speed has one definition here, used by every tool that prints or plots one
(tools/plot_log.py, tools/reproduce.py, tools/demo.py, tools/benchmark.py's training
loop): the images an epoch trained divided by its ``Time cost``, the wall time from its
first batch to its last update (data reading, metrics and all), not the mean of the Speed
lines' window rates (those leave out the epoch's first batch and the batches after the
last window: on a digits demo log of a busy machine, one epoch's windows averaged 37.2
images/s against a true 12.4). For a run, the images of all its epochs over the sum of
their times. Logs written before the Trained line existed are counted from the run's
arguments (--num-examples, or the records of --data-train, counted from its .idx, in
whole batches, the last one filled); when those do not tell (the training data gone, or a
distributed run, whose worker count is not logged), the Speed lines' last batch number
gives a lower bound, and ``counted`` says so.
"""
import ast
import os
import re

from . import recordio

NUMBER = r'([\d.eE+-]+|nan|inf)'
TRAIN = re.compile(r'Epoch\[(\d+)\] Train-accuracy=' + NUMBER)
VAL = re.compile(r'Epoch\[(\d+)\] Validation-accuracy=' + NUMBER)
TRAIN_LOSS = re.compile(r'Epoch\[(\d+)\] Train-cross-entropy=' + NUMBER)
VAL_LOSS = re.compile(r'Epoch\[(\d+)\] Validation-cross-entropy=' + NUMBER)
INTERRUPTED_FORMAT = 'Epoch[%d] Interrupted after %d of %d batches'
INTERRUPTED = re.compile(r'Epoch\[(\d+)\] Interrupted after (\d+) of (\d+) batches')
LR = re.compile(r'Epoch\[(\d+)\] Learning-rate=' + NUMBER)
TIME = re.compile(r'Epoch\[(\d+)\] Time cost=' + NUMBER)
TRAINED_FORMAT = 'Epoch[%d] Trained %d images in %.3f s: %.2f images/s'
TRAINED = re.compile(r'Epoch\[(\d+)\] Trained (\d+) images in ' + NUMBER + ' s')
VALIDATED_FORMAT = 'Epoch[%d] Validated %d images in %.3f s: %.2f images/s'
VALIDATED = re.compile(r'Epoch\[(\d+)\] Validated (\d+) images in ' + NUMBER + ' s')
SPEED = re.compile(r'Epoch\[(\d+)\] Batch \[\d+-(\d+)\]\tSpeed: ([\d.]+) samples/sec')
ARGUMENTS = re.compile(r'start with arguments (\{.*\})\s*$')
# common/runtime's line naming the CPU training form a run (or a resume) trains in.
FORM = re.compile(r'CPU training: (.*?)\s*$')
# common/fit.py when --num-examples exceeds the records: it trains on the records.
USING = re.compile(r'--num-examples \d+ but .* holds \d+ records; using (\d+)')
# The arguments an epoch's length depends on (common/fit.py, common/data.py).
KEYS = ('batch_size', 'num_examples', 'kv_store', 'benchmark', 'data_train', 'data_train_idx',
        'network', 'multiplier', 'dataset', 'num_epochs')  # (the last four name the run)


def parse_arguments(text):
    """{key: value} of KEYS found in a ``start with arguments {...}`` dict (each value read
    as a Python literal on its own, so one odd value does not hide the others)."""
    found = {}
    for key in KEYS:
        m = re.search(r"'%s': ('(?:[^'\\]|\\.)*'|[^,}]+)" % key, text)
        if m:
            try:
                found[key] = ast.literal_eval(m.group(1).strip())
            except (ValueError, SyntaxError):
                pass
    return found


def count_records(arguments):
    """The records of --data-train, from its .idx (None when it cannot be read)."""
    data = arguments.get('data_train')
    if not data:
        return None
    index = arguments.get('data_train_idx') or os.path.splitext(data)[0] + '.idx'
    try:
        return len(recordio.read_index(index))
    except (OSError, ValueError):
        return None


def epoch_batches(arguments, records):
    """Training batches of an epoch as common/fit.py runs them, or None when the log's
    arguments do not tell (``records``: --data-train's record count, or None)."""
    batch = arguments.get('batch_size')
    if not isinstance(batch, int) or batch < 1 or 'dist' in str(arguments.get('kv_store')):
        return None
    examples = arguments.get('num_examples')
    if arguments.get('benchmark'):
        return max(1, examples // batch) if examples else 10
    if records is not None:
        examples = records if examples is None else min(examples, records)
    if not isinstance(examples, int) or examples < 1:
        return None
    return max(1, -(-examples // batch))


def parse_log(path):
    """{'train', 'val': {epoch: accuracy}, 'lr': {epoch: learning rate}, 'seconds':
    {epoch: Time cost}, 'images': {epoch: training images}, 'speed': {epoch: images/s},
    'val_images', 'val_seconds': {epoch: images validated and the seconds it took},
    'counted': {epoch: how the images were counted: 'log' (the epoch's Trained line),
    'arguments' or 'speed lines' (logs written before that line existed)},
    'train_loss', 'val_loss': {epoch: cross-entropy}, 'form': {epoch: the CPU training form
    its run logged (common.runtime), when it logged one}, 'interrupted': {epoch: (batches
    run, batches of a full epoch)} for an epoch stopped part way and not run again since,
    'arguments': the last run's}. A log holding several runs (a resumed one appends) is read
    in order, each epoch with its own run's arguments; an epoch logged twice keeps its last
    values."""
    curves = {key: {} for key in ('train', 'val', 'lr', 'seconds', 'images', 'speed', 'counted',
                                  'val_images', 'val_seconds', 'train_loss', 'val_loss',
                                  'interrupted', 'form')}
    arguments, batches, last_batch, form = {}, None, {}, None
    with open(path, errors='replace') as f:
        for line in f:
            m = ARGUMENTS.search(line)
            if m:
                arguments = parse_arguments(m.group(1))
                batches = epoch_batches(arguments, count_records(arguments))
                last_batch, form = {}, None
                continue
            m = FORM.search(line)
            if m:
                form = m.group(1)
                continue
            m = USING.search(line)
            if m:
                arguments['num_examples'] = int(m.group(1))
                batches = epoch_batches(arguments, None)
                continue
            for key, pattern in (('train', TRAIN), ('val', VAL), ('lr', LR),
                                 ('train_loss', TRAIN_LOSS), ('val_loss', VAL_LOSS)):
                m = pattern.search(line)
                if m:
                    curves[key][int(m.group(1))] = float(m.group(2))
                    if key == 'train':  # (the epoch ran again: a resumed run)
                        curves['interrupted'].pop(int(m.group(1)), None)
            m = INTERRUPTED.search(line)
            if m:
                curves['interrupted'][int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
                continue
            m = SPEED.search(line)
            if m:
                epoch = int(m.group(1))
                last_batch[epoch] = max(last_batch.get(epoch, 0), int(m.group(2)))
            m = VALIDATED.search(line)
            if m:
                epoch = int(m.group(1))
                curves['val_images'][epoch] = int(m.group(2))
                curves['val_seconds'][epoch] = float(m.group(3))
                continue
            m = TRAINED.search(line)
            if m:  # (after the epoch's Time cost line: it replaces the count made there)
                epoch, images, seconds = int(m.group(1)), int(m.group(2)), float(m.group(3))
                curves['seconds'][epoch], curves['images'][epoch] = seconds, images
                _set_form(curves, epoch, form)
                curves['counted'][epoch] = 'log'
                curves['speed'][epoch] = training_speed(images, seconds)
                continue
            m = TIME.search(line)
            if m:
                epoch, seconds = int(m.group(1)), float(m.group(2))
                size = arguments.get('batch_size')
                if batches is not None:
                    images, counted = batches * size, 'arguments'
                elif isinstance(size, int) and epoch in last_batch:
                    # Batch [a-b] is logged after batch b (0-based): at least b + 1 ran.
                    images, counted = (last_batch[epoch] + 1) * size, 'speed lines'
                else:
                    continue
                curves['seconds'][epoch] = seconds
                curves['images'][epoch] = images
                curves['counted'][epoch] = counted
                _set_form(curves, epoch, form)
                if seconds > 0:
                    curves['speed'][epoch] = training_speed(images, seconds)
    curves['arguments'] = arguments
    return curves


def _set_form(curves, epoch, form):
    if form is not None:
        curves['form'][epoch] = form
    else:  # (an epoch run again without the line keeps no other run's form)
        curves['form'].pop(epoch, None)


def form_name(logged):
    """A short name for the training form a ``CPU training:`` line names."""
    if not logged:
        return '-'
    for word, name in (('padded', 'padded, AVX-512'), ('fused', 'fused, AVX2'),
                       ('training form', 'training form'), ('released', 'released ops')):
        if word in logged:
            return name
    return logged


def training_speed(images, seconds):
    """Images trained per second of wall time (0 for no time)."""
    return images / seconds if seconds > 0 else 0.0


def epoch_line(epoch, images, seconds):
    """The Trained line of an epoch (common/fit.py logs it after Time cost)."""
    return TRAINED_FORMAT % (epoch, images, seconds, training_speed(images, seconds))


def validation_line(epoch, images, seconds):
    """The Validated line of an epoch (common/fit.py logs it after the Validation lines)."""
    return VALIDATED_FORMAT % (epoch, images, seconds, training_speed(images, seconds))


def run_speed(curves):
    """(images, seconds, images/s) of every epoch of a parse_log result."""
    images = sum(curves['images'].values())
    seconds = sum(curves['seconds'][e] for e in curves['images'])
    return images, seconds, training_speed(images, seconds)
