"""A trained checkpoint released as files anyone can check: its graph, the weights of one
epoch, its model info and its training log copied under a name (the weights keep their
epoch number; the optimizer state stays behind), and the card of numbers read off those
files alone: each file's size and SHA-256, the parameters, every epoch's accuracies and
time from the log, and the run's arguments. models/README.md's tables are the card's
Markdown, so every number there comes from the files beside it; tools/model_card.py is
the command line."""
import hashlib
import json
import os
import shutil

from . import checkpoint, training_log
from .atomic import atomic_path, write_text
from .errors import UserError


def sha256(path):
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def release_files(prefix, epoch, out_prefix):
    """(source, target) of the files a release copies: PREFIX-symbol.json,
    PREFIX-%04d.params of ``epoch``, PREFIX-model.json and PREFIX.log, to OUT_PREFIX's
    names. A missing source is a UserError naming it."""
    pairs = [(prefix + '-symbol.json', out_prefix + '-symbol.json'),
             (checkpoint.checkpoint_paths(prefix, epoch)[1],
              checkpoint.checkpoint_paths(out_prefix, epoch)[1]),
             (checkpoint.model_info_path(prefix), checkpoint.model_info_path(out_prefix)),
             (prefix + '.log', out_prefix + '.log')]
    for source, _ in pairs:
        if not os.path.isfile(source):
            raise UserError('%s: no such file; a release needs the graph, the epoch\'s '
                            'weights, the model info and the training log' % source)
    return pairs


def release(prefix, epoch, out_prefix):
    """Copy the files of ``prefix`` at ``epoch`` to ``out_prefix`` (each complete or not at
    all); a target that exists already is refused (nothing is copied then), as is a target
    that is its own source."""
    pairs = release_files(prefix, epoch, out_prefix)
    for source, target in pairs:
        if os.path.exists(target):
            if os.path.abspath(source) == os.path.abspath(target):
                raise UserError('%s is the checkpoint itself; give another output prefix'
                                % target)
            raise UserError('%s exists; remove it or give another output prefix' % target)
    for source, target in pairs:
        with atomic_path(target, keep_extension=True) as tmp:
            shutil.copyfile(source, tmp)
    return [target for _, target in pairs]


def card(prefix, epoch):
    """The numbers of a released checkpoint, from its files: {'files': [{name, bytes,
    sha256}], 'parameters', 'epochs': [{epoch, train, val, seconds, images_per_sec, form}]
    for the epochs 1..``epoch`` the log holds (validation as the log scored it; the CPU
    training form its run logged: a run resumed on another machine may train in another),
    'seconds' (their sum), 'arguments' (the last run's), 'model_info'}."""
    paths = [p for _, p in release_files(prefix, epoch, prefix)]
    info = checkpoint.read_model_info(prefix)
    arg, aux = checkpoint.load_params(checkpoint.checkpoint_paths(prefix, epoch)[1])
    curves = training_log.parse_log(prefix + '.log')
    missing = [e for e in range(epoch) if e not in curves['train']]
    if missing:
        raise UserError('%s.log has no Train-accuracy line of epoch %d (of the %d the '
                        'checkpoint trained); release the log the run wrote'
                        % (prefix, missing[0] + 1, epoch))
    epochs = [{'epoch': e + 1, 'train': curves['train'][e], 'val': curves['val'].get(e),
               'seconds': curves['seconds'].get(e), 'images_per_sec': curves['speed'].get(e),
               'form': training_log.form_name(curves['form'].get(e))}
              for e in range(epoch)]
    return {'files': [{'name': os.path.basename(p), 'bytes': os.path.getsize(p),
                       'sha256': sha256(p)} for p in paths],
            'parameters': int(sum(v.size for v in arg.values())),
            'running_values': int(sum(v.size for v in aux.values())),
            'epochs': epochs,
            'seconds': sum(e['seconds'] or 0 for e in epochs),
            'arguments': curves.get('arguments', {}), 'model_info': info}


def markdown(card):
    """The card's tables, as models/README.md shows them."""
    lines = ['| file | bytes | SHA-256 |', '|---|---|---|']
    lines += ['| `%s` | %s | `%s` |' % (f['name'], '{:,}'.format(f['bytes']), f['sha256'])
              for f in card['files']]
    by_form = {}
    for e in card['epochs']:
        if e['seconds'] is not None:
            by_form.setdefault(e.get('form', '-'), []).append(e['seconds'])
    medians = '; '.join('%s: %d epochs, median %.0f s' % (
        form, len(times), sorted(times)[len(times) // 2]) for form, times in by_form.items())
    lines += ['', '%s learnable parameters, %s BatchNorm running values; %d epochs, %.1f h '
              'of training (the sum of the epochs\' Time cost, a pause while other jobs ran '
              'included), by CPU training form: %s'
              % ('{:,}'.format(card['parameters']), '{:,}'.format(card['running_values']),
                 len(card['epochs']), card['seconds'] / 3600.0, medians), '',
              '| epoch | train top-1 % | validation top-1 % | seconds | images/s | CPU form |',
              '|---|---|---|---|---|---|']

    def cell(value, fmt, scale=1):
        return fmt % (scale * value) if value is not None else '-'
    lines += ['| %d | %s | %s | %s | %s | %s |' % (
        e['epoch'], cell(e['train'], '%.2f', 100), cell(e['val'], '%.2f', 100),
        cell(e['seconds'], '%.0f'), cell(e['images_per_sec'], '%.1f'), e.get('form', '-'))
        for e in card['epochs']]
    return '\n'.join(lines) + '\n'


def write_card(path, card):
    """The card as JSON, complete or not at all."""
    write_text(path, json.dumps(card, indent=1, sort_keys=True) + '\n')
