"""Checkpoint files: ``PREFIX-symbol.json``, ``PREFIX-%04d.params`` (number = epochs
completed; keys ``arg:NAME``/``aux:NAME``) and ``PREFIX-%04d.states`` (optimizer state).

Everything that writes, reads or checks them: their paths, the atomic save, loading for
training and inference (a prefix, or a registered network whose released weights sit in
models/), the check of parameters against a graph, the check of an optimizer state
before MXNet unpickles it, and the last complete epoch of a prefix.
"""
import glob
import json
import logging
import os
import re

import mxnet as mx

import symbol

from . import safe_pickle
from .atomic import atomic_path
from .errors import UserError

MODELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'models')
WHERE_RELEASED = 'see models/README.md for where the released weights come from'


def checkpoint_paths(prefix, epoch):
    """(symbol, params, states) paths of epoch ``epoch`` of ``prefix``."""
    return ('%s-symbol.json' % prefix, '%s-%04d.params' % (prefix, epoch),
            '%s-%04d.states' % (prefix, epoch))


def save_checkpoint(prefix, epoch, sym, arg_params, aux_params, save_states=None):
    """PREFIX-symbol.json, PREFIX-%04d.states (``save_states(path)`` writes it), then
    PREFIX-%04d.params, each atomically. The .params file is written last: its presence
    marks a complete checkpoint."""
    sym_path, params_path, states_path = checkpoint_paths(prefix, epoch)
    with atomic_path(sym_path) as tmp:
        sym.save(tmp)
    if save_states is not None:
        with atomic_path(states_path) as tmp:
            save_states(tmp)
    blob = {'arg:' + k: v for k, v in arg_params.items()}
    blob.update({'aux:' + k: v for k, v in aux_params.items()})
    with atomic_path(params_path) as tmp:
        mx.nd.save(tmp, blob)
    logging.info('Saved checkpoint to "%s"', params_path)


def load_params(path):
    """(arg_params, aux_params) of a PREFIX-%04d.params file."""
    if not os.path.isfile(path):
        raise UserError('checkpoint %s not found' % path)
    try:
        saved = mx.nd.load(path)
    except mx.base.MXNetError:
        raise UserError('%s is not a readable MXNet parameter file' % path)
    if not isinstance(saved, dict):
        raise UserError('%s holds no named parameters' % path)
    arg = {k[4:]: v for k, v in saved.items() if k.startswith('arg:')}
    aux = {k[4:]: v for k, v in saved.items() if k.startswith('aux:')}
    return arg, aux


def last_complete_epoch(prefix):
    """Highest N with a loadable PREFIX-%04d.params (0 if none)."""
    found = []
    for path in glob.glob(glob.escape(prefix) + '-*.params'):
        match = re.match(r'.*-(\d{4,})\.params$', path)
        if match:
            found.append(int(match.group(1)))
    for epoch in sorted(found, reverse=True):
        try:
            load_params(checkpoint_paths(prefix, epoch)[1])
            return epoch
        except UserError:
            logging.warning('skipping unreadable checkpoint of epoch %d', epoch)
    return 0


# What an optimizer state file written by Module.save_optimizer_states references.
STATES_GLOBALS = {('mxnet.ndarray.ndarray', 'NDArray'), ('builtins', 'bytearray')}


def check_states_file(path):
    """Optimizer .states files are pickles, which can run code when loaded (MXNet's
    Module.load_optimizer_states unpickles them as they are). Read the file first with an
    unpickler that admits only NDArrays, refusing anything else, before MXNet loads it."""
    try:
        with open(path, 'rb') as f:
            states = safe_pickle.load(f.read(), STATES_GLOBALS, ('optimizer state', 'arrays'))
    except UserError:
        raise
    except Exception as err:
        raise UserError('%s is not a readable optimizer state (%s); resume without it by '
                        'removing it' % (path, err.__class__.__name__))
    if not isinstance(states, dict):
        raise UserError('%s is not an optimizer state written by this project' % path)


def resolve(model, epoch):
    """(prefix, network name or None): ``model`` is a prefix, or a registered network
    whose checkpoint is models/NAME-%04d.params."""
    registered = model.lower() in symbol.list_networks()
    if registered and not os.path.exists('%s-%04d.params' % (model, epoch)):
        return os.path.join(MODELS_DIR, model.lower()), model.lower()
    return model, None


def load_symbol_json(path):
    """A symbol from JSON text, parsed as data (no code runs while loading it)."""
    try:
        with open(path) as f:
            json.load(f)
        return mx.sym.load(path)
    except (ValueError, mx.base.MXNetError) as err:
        raise UserError('%s is not an MXNet symbol file (%s)' % (path, str(err).splitlines()[0]))


def num_classes_of(arg_params):
    if 'fc_weight' not in arg_params:
        raise UserError('the checkpoint has no fc_weight; is it a classification network?')
    return arg_params['fc_weight'].shape[0]


def load_model(model, epoch, image_shape, **network_kwargs):
    """(symbol, arg_params, aux_params, params_path) ready to bind for ``image_shape``."""
    prefix, network = resolve(model, epoch)
    params_path = '%s-%04d.params' % (prefix, epoch)
    if not os.path.isfile(params_path):
        hint = WHERE_RELEASED if network else 'check --model and --load-epoch'
        raise UserError('%s: no such checkpoint; %s' % (params_path, hint))
    arg, aux = load_params(params_path)
    symbol_path = prefix + '-symbol.json'
    if os.path.isfile(symbol_path):
        sym = load_symbol_json(symbol_path)
    elif network:
        sym = symbol.get_symbol(network, num_classes=num_classes_of(arg), image_shape=image_shape,
                                **network_kwargs)
    else:
        raise UserError('%s: no such symbol file next to %s' % (symbol_path, params_path))
    check_params(sym, arg, aux, image_shape, params_path)
    return sym, arg, aux, params_path


def check_params(sym, arg, aux, image_shape, params_path):
    """Every parameter the graph needs is in the checkpoint with its shape, and no other."""
    try:
        arg_shapes, _, aux_shapes = sym.infer_shape(data=(1,) + tuple(image_shape))
    except mx.base.MXNetError as err:
        raise UserError('the graph cannot take input %s: %s'
                        % (','.join(map(str, image_shape)), str(err).splitlines()[0]))
    if arg_shapes is None:
        raise UserError('cannot infer the graph shapes for input %s' % (image_shape,))
    want = dict(zip(sym.list_arguments(), arg_shapes))
    want_aux = dict(zip(sym.list_auxiliary_states(), aux_shapes))
    for name in ('data', 'softmax_label'):
        want.pop(name, None)
    missing = sorted(set(want) - set(arg)) + sorted(set(want_aux) - set(aux))
    unexpected = sorted(set(arg) - set(want)) + sorted(set(aux) - set(want_aux))
    wrong = ['%s %s (graph wants %s)' % (n, arr.shape, want.get(n, want_aux.get(n)))
             for n, arr in list(arg.items()) + list(aux.items())
             if n in want or n in want_aux
             if tuple(arr.shape) != tuple(want.get(n, want_aux.get(n)))]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append('missing %d: %s' % (len(missing), ', '.join(missing[:8])))
        if unexpected:
            parts.append('unexpected %d: %s' % (len(unexpected), ', '.join(unexpected[:8])))
        if wrong:
            parts.append('wrong shape %d: %s' % (len(wrong), ', '.join(wrong[:4])))
        raise UserError('%s does not match the graph: %s' % (params_path, '; '.join(parts)))
