"""Checkpoint files: ``PREFIX-symbol.json``, ``PREFIX-%04d.params`` (number = epochs
completed; keys ``arg:NAME``/``aux:NAME``) and ``PREFIX-%04d.states`` (optimizer state).

Everything that writes, reads or checks them: their paths, the atomic save, loading for
training and inference (a prefix, or a registered network whose released weights sit in
models/), the check of parameters against a graph, the check of an optimizer state
before MXNet unpickles it, and the last complete epoch of a prefix.
"""
import fcntl
import glob
import json
import logging
import os
import re
import shutil

import mxnet as mx
import numpy as np

import symbol

from . import packing, safe_pickle
from .atomic import atomic_path
from .errors import UserError, reason
from .images import MAX_IMAGE_SIDE

MODELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'models')
WHERE_RELEASED = 'see models/README.md for where the released weights come from'


# Models this repository ships in models/ (models/README.md): no run or tool writes over
# them.
SHIPPED_MODELS = ('fashion-mnist-igcv3',)


def refuse_shipped(prefix, flag='--model-prefix'):
    """A UserError when ``prefix`` is a model shipped in models/."""
    for name in SHIPPED_MODELS:
        if os.path.realpath(prefix) == os.path.realpath(os.path.join(MODELS_DIR, name)):
            raise UserError('%s %s is the model this repository ships (models/README.md), '
                            'which nothing overwrites; give another prefix, e.g. %s-mine'
                            % (flag, prefix, prefix))


# The model info file beside PREFIX-symbol.json: how the checkpoint is to be fed.
MODEL_INFO = 'igcv3-mxnet model info'
MODEL_INFO_VERSION = 1


def model_info_path(prefix):
    return '%s-model.json' % prefix


def read_model_info(prefix):
    """PREFIX-model.json as a dict (network, network_args, num_classes, image_shape, mean,
    std, resize, classes, dataset), or None when the checkpoint has none."""
    path = model_info_path(prefix)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            info = json.load(f)
    except (OSError, ValueError) as err:
        raise UserError('%s is not readable model info (%s); fix or remove it' % (path, reason(err)))
    if not isinstance(info, dict) or info.get('format') != MODEL_INFO:
        raise UserError('%s is not a model info file of this project; remove it' % path)
    if not isinstance(info.get('version', 0), int) or info.get('version', 0) > MODEL_INFO_VERSION:
        raise UserError('%s has version %s, newer than this code reads (%d); update the code'
                        % (path, info.get('version'), MODEL_INFO_VERSION))
    problem = _model_info_problem(info)
    if problem:
        raise UserError('%s: %s; fix it or remove the file (the tools then need --image-shape, '
                        '--resize, --rgb-mean and --rgb-std)' % (path, problem))
    return info


def _numbers(value, count=None):
    return isinstance(value, list) and (count is None or len(value) == count) and \
        all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


def _model_info_problem(info):
    """What is wrong with a model info's keys (their types and sizes), or None."""
    for key in ('image_shape', 'mean', 'std', 'resize'):
        if key not in info:
            return "it has no '%s'" % key
    shape = info['image_shape']
    if not (_numbers(shape, 3) and all(float(v).is_integer() and v >= 1 for v in shape)):
        return "'image_shape' must be a list of 3 positive whole numbers, got %r" % (shape,)
    if max(shape[1:]) > MAX_IMAGE_SIDE:
        return "'image_shape' sides must be at most %d pixels, got %r" % (MAX_IMAGE_SIDE, shape)
    for key in ('mean', 'std'):
        if not _numbers(info[key], 3):
            return "'%s' must be a list of 3 numbers, got %r" % (key, info[key])
    resize = info['resize']
    if isinstance(resize, bool) or not isinstance(resize, int) or resize < 0:
        return "'resize' must be a whole number, 0 or more, got %r" % (resize,)
    if resize > MAX_IMAGE_SIDE:
        return "'resize' must be at most %d (a shorter side in pixels), got %r" \
            % (MAX_IMAGE_SIDE, resize)
    classes, count = info.get('classes'), info.get('num_classes')
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        return "'num_classes' must be a positive whole number, got %r" % (count,)
    if classes is not None:
        if not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
            return "'classes' must be a list of names, got %r" % (classes,)
        if count is not None and len(classes) != count:
            return "'classes' names %d classes, 'num_classes' is %d" % (len(classes), count)
    if info.get('tta', 'none') not in ('none', 'flip'):
        return "'tta' must be 'none' or 'flip', got %r" % (info.get('tta'),)
    if not isinstance(info.get('network_args', {}), dict):
        return "'network_args' must be an object, got %r" % (info.get('network_args'),)
    if info.get('pack') is not None:
        try:
            packing.check_pack_info(info['pack'], 'its pack')
        except UserError as err:
            return "'pack': %s" % err
    return None


def checkpoint_paths(prefix, epoch):
    """(symbol, params, states) paths of epoch ``epoch`` of ``prefix``."""
    return ('%s-symbol.json' % prefix, '%s-%04d.params' % (prefix, epoch),
            '%s-%04d.states' % (prefix, epoch))


def training_params_path(prefix, epoch):
    """The trained (not averaged) weights of a run with --ema-decay (common.averaging):
    what --resume goes on from; not part of the model."""
    return '%s-%04d.training.params' % (prefix, epoch)


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(path, write, verify):
    """write(tmp), then flush it to the disk and verify(tmp) reads it back, and only then
    rename it over ``path`` (a full disk can truncate a file without any error from the
    writer: MXNet's nd.save does not check its close)."""
    with atomic_path(path) as tmp:
        write(tmp)
        _fsync(tmp)
        verify(tmp)
    _fsync(os.path.dirname(os.path.abspath(path)))


def _verify_params(blob):
    def verify(path):
        loaded = mx.nd.load(path)
        if not isinstance(loaded, dict) or sorted(loaded) != sorted(blob):
            raise ValueError('it reads back with %d of %d arrays'
                             % (len(loaded) if isinstance(loaded, dict) else 0, len(blob)))
        for key, value in blob.items():
            if loaded[key].shape != value.shape or loaded[key].dtype != value.dtype:
                raise ValueError('%s reads back as %s %s' % (key, loaded[key].shape,
                                                             loaded[key].dtype))
    return verify


def _write_text(path, text):
    with open(path, 'w') as f:
        f.write(text + '\n')


def _verify_json(path):
    with open(path) as f:
        json.load(f)


def _blob(arg_params, aux_params):
    blob = {'arg:' + k: v for k, v in arg_params.items()}
    blob.update({'aux:' + k: v for k, v in aux_params.items()})
    return blob


def save_checkpoint(prefix, epoch, sym, arg_params, aux_params, save_states=None,
                    then='resume with --resume', info=None, training_params=None):
    """PREFIX-symbol.json, PREFIX-%04d.states (``save_states(path)`` writes it), then
    PREFIX-%04d.params, each written under a temporary name, read back and only then
    renamed. The .params file comes last: its presence marks a complete checkpoint. A
    file that cannot be written or does not read back (a full disk) is a UserError whose
    advice ends with ``then``; what was published before stays as it was. ``info``, how
    the model is fed (see read_model_info), goes to PREFIX-model.json first.
    ``training_params`` (arg, aux), the trained weights when the .params are their
    average (common.averaging), go to PREFIX-%04d.training.params before the .params."""
    sym_path, params_path, states_path = checkpoint_paths(prefix, epoch)
    blob = _blob(arg_params, aux_params)
    steps = [(sym_path, sym.save, _verify_json)]
    if info is not None:
        text = json.dumps(dict(info, format=MODEL_INFO, version=MODEL_INFO_VERSION), indent=1,
                          sort_keys=True)
        steps.insert(0, (model_info_path(prefix), lambda p: _write_text(p, text), _verify_json))
    if save_states is not None:
        steps.append((states_path, save_states, check_states_file))
    if training_params is not None:
        trained = _blob(*training_params)
        steps.append((training_params_path(prefix, epoch), lambda p: mx.nd.save(p, trained),
                      _verify_params(trained)))
    elif os.path.exists(training_params_path(prefix, epoch)):
        # An earlier run's: --resume would take it for these .params' trained weights.
        os.remove(training_params_path(prefix, epoch))
    steps.append((params_path, lambda p: mx.nd.save(p, blob), _verify_params(blob)))
    published = []
    for path, write, verify in steps:
        try:
            _publish(path, write, verify)
        except (OSError, ValueError, UserError, mx.base.MXNetError) as err:
            for done in published[1 + (info is not None):]:  # (every epoch's files stay)
                os.remove(done)
            free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
            raise UserError('could not write checkpoint %s (%s; %.1f MB free there); it was '
                            'not published and earlier checkpoints are untouched: free disk '
                            'space, then %s' % (path, reason(err), free / 1e6, then))
        published.append(path)
    logging.info('Saved checkpoint to "%s"', params_path)


def checkpoint_bytes(sym, image_shape, with_states):
    """About how many bytes a float32 checkpoint of ``sym`` takes (its parameters and
    running statistics, twice with an optimizer state of their size)."""
    arg_shapes, _, aux_shapes = sym.infer_shape(data=(1,) + tuple(image_shape))
    values = sum(int(np.prod(s)) for n, s in zip(sym.list_arguments(), arg_shapes)
                 if n not in ('data', 'softmax_label'))
    values += sum(int(np.prod(s)) for s in aux_shapes)
    return 4 * values * (2 if with_states else 1)


def check_room(prefix, needed, flag='--model-prefix'):
    """Before the work: the folder of ``prefix`` is (or can be made) a folder we can write
    in, with ``needed`` bytes free; ``flag`` is the option that named it."""
    folder = os.path.dirname(os.path.abspath(prefix))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UserError('%s %s: %s is a file, not a folder; choose another %s'
                        % (flag, prefix, folder, flag))
    probe = os.path.join(folder, '.write-test-%d' % os.getpid())
    try:
        os.makedirs(folder, exist_ok=True)
        with open(probe, 'w') as f:
            f.write('x')
    except OSError as err:
        raise UserError('%s %s: cannot write in %s (%s); choose a writable folder'
                        % (flag, prefix, folder, err.strerror or err))
    finally:
        if os.path.exists(probe):
            os.remove(probe)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise UserError('%s %s: %s has %.1f MB free but the checkpoint takes about %.1f MB; '
                        'free disk space or choose another %s'
                        % (flag, prefix, folder, free / 1e6, needed / 1e6, flag))


def lock_prefix(prefix):
    """Hold PREFIX.lock for the life of the process, so that two runs never interleave
    their checkpoints under one prefix; returns the open file (keep a reference)."""
    path = prefix + '.lock'
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    f = open(path, 'a+')
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or 'another process'
        f.close()
        raise UserError('another run (pid %s) is training into --model-prefix %s; wait for it '
                        'to end or choose another prefix' % (holder, prefix))
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f


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
        match = re.match(re.escape(prefix) + r'-(\d{4,})\.params$', path)
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


# NDArray's raw bytes (MXNDArrayLoadFromRawBytes): a magic number, the storage type, the
# shape (ndim, then int64 dims), the context, the dtype code, then the data.
NDARRAY_MAGICS = (0xF993FAC9, 0xF993FACA)
DTYPE_BYTES = {0: 4, 1: 8, 2: 2, 3: 1, 4: 4, 5: 1, 6: 8, 7: 1, 8: 2, 9: 2, 10: 4, 11: 8, 12: 2}


def raw_ndarray_problem(raw):
    """Why ``raw`` is not a dense NDArray whose data it holds, or None. MXNet reads the
    shape from the bytes and allocates it before reading the data: 7 bytes of garbage had
    it allocate 19 GB here."""
    import struct
    if raw is None:
        return None
    raw = bytes(raw)
    if len(raw) < 12:
        return 'an array of %d bytes' % len(raw)
    magic, stype, ndim = struct.unpack_from('<Iii', raw)
    if magic not in NDARRAY_MAGICS or stype != 0:
        return 'not a dense array (magic 0x%08X, storage %d)' % (magic, stype)
    if not 0 <= ndim <= 8 or len(raw) < 12 + 8 * ndim + 12:
        return 'an array header of %d dimensions in %d bytes' % (ndim, len(raw))
    dims = struct.unpack_from('<%dq' % ndim, raw, 12)
    dtype = struct.unpack_from('<i', raw, 12 + 8 * ndim + 8)[0]
    if any(d < 0 for d in dims) or dtype not in DTYPE_BYTES:
        return 'an array of shape %s and dtype code %d' % (dims, dtype)
    size = DTYPE_BYTES[dtype]
    for d in dims:
        size *= d
    if len(raw) - (12 + 8 * ndim + 12) < size:
        return 'an array of shape %s whose data is not in the file' % (dims,)
    return None


class _CheckedNDArray(mx.nd.NDArray):
    """An NDArray unpickled only once its bytes were checked (raw_ndarray_problem)."""

    def __setstate__(self, state):
        problem = raw_ndarray_problem(state.get('handle'))
        if problem:
            raise UserError('it holds %s' % problem)
        super(_CheckedNDArray, self).__setstate__(state)


def check_states_file(path):
    """Optimizer .states files are pickles, which can run code when loaded (MXNet's
    Module.load_optimizer_states unpickles them as they are). Read the file first with an
    unpickler that admits only NDArrays, refusing anything else, before MXNet loads it.
    Returns the states: {update index: NDArray, None or a tuple of them}."""
    try:
        with open(path, 'rb') as f:
            states = safe_pickle.load(f.read(), STATES_GLOBALS, ('optimizer state', 'arrays'),
                                      {('mxnet.ndarray.ndarray', 'NDArray'): _CheckedNDArray})
    except UserError as err:
        if str(err).startswith('it holds'):
            raise UserError('%s is not a readable optimizer state (%s); resume without it by '
                            'removing it' % (path, str(err)[3:]))
        raise
    except Exception as err:
        raise UserError('%s is not a readable optimizer state (%s); resume without it by '
                        'removing it' % (path, err.__class__.__name__))
    if not isinstance(states, dict):
        raise UserError('%s is not an optimizer state written by this project' % path)
    return states


def _state_arrays(state):
    if isinstance(state, (tuple, list)):
        return [a for s in state for a in _state_arrays(s)]
    return [] if state is None else [state]


def check_states(path, states, expected, momentum, multi_precision):
    """The optimizer state of ``path`` fits this run: exactly the update keys of
    ``expected`` ({key: (parameter name, shape)}; the kvstore keys updates by parameter
    name, a Python updater by index), each of its parameter's shape, with a momentum array
    exactly when ``momentum`` > 0 (SGD and NAG keep one)."""
    fix = ('; to start the optimizer afresh (momentum from zero), move %s away and resume'
           % path)
    if set(states) != set(expected):
        other = sorted(str(k) for k in set(states) ^ set(expected))
        raise UserError('%s holds optimizer state for %d parameters, this network trains %d '
                        '(%d differ, e.g. %s): it was saved by another network%s'
                        % (path, len(states), len(expected), len(other), other[0], fix))
    for key, (name, shape) in expected.items():
        state = states[key]
        if multi_precision and isinstance(state, (tuple, list)) and len(state) == 2:
            state = state[0]
        arrays = _state_arrays(state)
        if momentum > 0 and not arrays:
            raise UserError('%s was saved without momentum (--mom 0) but --mom is %g%s'
                            % (path, momentum, fix))
        if momentum == 0 and arrays:
            raise UserError('%s was saved with momentum but --mom is 0%s' % (path, fix))
        for array in arrays:
            if tuple(array.shape) != tuple(shape):
                raise UserError('%s: the state of %s has shape %s, the parameter %s: it was '
                                'saved by another network%s'
                                % (path, name, tuple(array.shape), tuple(shape), fix))


def resolve(model, epoch):
    """(prefix, network name or None): ``model`` is a prefix, or a registered network
    whose checkpoint is models/NAME-%04d.params."""
    registered = model.lower() in symbol.list_networks()
    if registered and not os.path.exists('%s-%04d.params' % (model, epoch)):
        return os.path.join(MODELS_DIR, model.lower()), model.lower()
    return model, None


def find_model(model, epoch):
    """(model, epoch) for a tool's --model and --load-epoch (None: not given): a model
    shipped in models/ may be named alone (``fashion-mnist-igcv3`` for
    models/fashion-mnist-igcv3-symbol.json), and without --load-epoch it is its last
    complete epoch; so is a training's prefix without an epoch 0; anything else is as
    given, epoch 0 when not given (the released weights' number)."""
    shipped = os.path.join(MODELS_DIR, model)
    if epoch is None and os.sep not in model and model.lower() not in symbol.list_networks() \
            and not os.path.exists(model + '-symbol.json') \
            and os.path.isfile(shipped + '-symbol.json'):
        found = last_complete_epoch(shipped)
        if found:
            logging.info('--model %s: %s, epoch %d', model, shipped, found)
            return shipped, found
    if os.sep not in model and not os.path.exists(model + '-symbol.json') \
            and os.path.isfile(shipped + '-symbol.json'):
        return shipped, epoch or 0
    if epoch is None and not os.path.isfile(checkpoint_paths(model, 0)[1]):
        # A training's prefix (no epoch 0): its last complete epoch, as for models/.
        found = last_complete_epoch(model)
        if found:
            logging.info('--model %s: no --load-epoch, its last complete epoch %d', model, found)
            return model, found
    return model, epoch or 0


def refuse_overwrite(prefix, epoch, outputs, flag):
    """A UserError when one of ``outputs`` (paths) is a file of the checkpoint read
    (PREFIX-symbol.json, -model.json, -%04d.params, -%04d.states): the output would
    replace its own input."""
    sym_path, params_path, states_path = checkpoint_paths(prefix, epoch)
    inputs = {os.path.realpath(p) for p in (sym_path, params_path, states_path,
                                            model_info_path(prefix))}
    for path in outputs:
        if os.path.realpath(path) in inputs:
            raise UserError('%s %s would overwrite %s, a file of the checkpoint it reads; '
                            'write somewhere else' % (flag, path, path))


# Ops of an INT8 checkpoint made by tools/quantize.py (oneDNN subgraphs and quantization).
INT8_OP_MARKERS = ('_sg_mkldnn_', '_sg_onednn_', 'quantize')


def graph_ops(sym):
    """[(op, node name)] of the graph's operator nodes, in order."""
    return [(n['op'], n['name']) for n in json.loads(sym.tojson())['nodes'] if n['op'] != 'null']


def refuse_int8(sym, source, what_instead):
    """A UserError when ``sym`` is an INT8 graph (tools/quantize.py's), ending in
    ``what_instead``."""
    int8 = sorted({op for op, _ in graph_ops(sym) if any(m in op for m in INT8_OP_MARKERS)})
    if int8:
        raise UserError('%s is an INT8 checkpoint (ops %s, made by tools/quantize.py): %s'
                        % (source, ', '.join(int8[:4]), what_instead))


def load_symbol_json(path):
    """A symbol from JSON text, parsed as data (no code runs while loading it)."""
    try:
        with open(path) as f:
            json.load(f)
        return mx.sym.load(path)
    except (ValueError, mx.base.MXNetError) as err:
        raise UserError('%s is not an MXNet symbol file (%s)' % (path, reason(err)))


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
    logging.info('loaded %s (SHA-256 %s)', params_path, file_sha256(params_path))
    return sym, arg, aux, params_path


def file_sha256(path):
    """The SHA-256 of a file, hex: what models/README.md lists for the files it names, so
    that a copy can be compared with it."""
    import hashlib
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


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
