"""The training loop shared by train_imagenet.py and train_cifar.py (their flags and the
checks of them are in common/training_flags.py).

Flags, checkpoint names and log lines are those of MXNet's example/image-classification
(``Epoch[e] Batch [a-b]\tSpeed: N samples/sec``, ``Epoch[e] Train-accuracy=``,
``Epoch[e] Validation-accuracy=``, ``Epoch[e] Time cost=``), so MXNet's parse_log.py and
tools/plot_log.py read the logs.
"""
import json
import logging
import os
import platform
import random
import time

import mxnet as mx
import numpy as np

from symbol import Form

from . import averaging, checkpoint, evaluate, runtime, training_log
from . import data as data_mod
from .cli import setup_logging
from .errors import Interrupted, UserError, reason
from .inference import bind_for_inference
from .module import Module
from .schedule import EpochLRScheduler
from .supervision import StopRequest, Watchdog
from .training_flags import fixed, model_info, parse_step_epochs, validate_args

def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def create_kvstore(kv_store):
    if 'dist' in kv_store and 'DMLC_ROLE' not in os.environ:
        raise UserError('--kv-store %s needs the distributed launcher: run through '
                        'tools/launch.py (see docs/training.md, "Many machines")' % kv_store)
    try:
        return mx.kvstore.create(kv_store)
    except mx.base.MXNetError:
        raise UserError("unknown --kv-store '%s': use local, device, dist_sync, "
                        "dist_device_sync or dist_async" % kv_store)


def _initializer(name):
    if name == 'msra':
        return mx.init.MSRAPrelu()
    return mx.init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=2)


class TrainingDiverged(UserError):
    pass


class UpdateFailed(UserError):
    pass


class GuardedUpdater(object):
    """Wraps the updater a local kvstore calls from C++ through ctypes, where an exception
    is printed as 'Exception ignored' and training goes on with the parameter not updated:
    here the first exception is kept and the loop raises it (raise_if_failed)."""

    def __init__(self, updater, names):
        self.updater, self.names, self.error = updater, names, None

    def __call__(self, index, grad, weight):
        if self.error is not None:
            return
        try:
            self.updater(index, grad, weight)
        except Exception as err:  # (it cannot propagate through ctypes)
            if isinstance(index, bytes):
                index = index.decode()
            name = self.names[index] if isinstance(index, int) and 0 <= index < len(self.names) \
                else index
            self.error = UpdateFailed('the optimizer update of %s failed (%s: %s); training '
                                      'stopped (resumed? the .states file may not fit: move '
                                      'it away to restart momentum)'
                                      % (name, err.__class__.__name__, reason(err, 120)))

    def __getattr__(self, name):
        return getattr(self.updater, name)

    def raise_if_failed(self):
        if self.error is not None:
            raise self.error


def guard_updates(mod):
    """Install a GuardedUpdater where the Module's updates run in the kvstore (None where
    they run in Python, whose exceptions propagate)."""
    kv = mod._kvstore
    if not (kv and mod._update_on_kvstore and getattr(kv, '_updater', None)):
        return None
    guard = GuardedUpdater(kv._updater, mod._exec_group.param_names)
    kv._set_updater(guard)
    return guard


def _update(mod, guard):
    """One optimizer step; any error in it ends training (UpdateFailed)."""
    try:
        mod.update()
    except UserError:
        raise
    except Exception as err:
        raise UpdateFailed('the optimizer update failed (%s: %s); training stopped'
                           % (err.__class__.__name__, reason(err)))
    if guard is not None:
        guard.raise_if_failed()


def _diverged(loss, epoch, nbatch, last_good):
    """TrainingDiverged if the epoch's cross-entropy so far is not finite."""
    if not loss.global_num_inst or np.isfinite(loss.get_global()[1]):
        return None
    return TrainingDiverged('loss became NaN at epoch %d batch %d (%s); lower --lr and resume'
                            % (epoch, nbatch, _last_good_clause(last_good)))


def _last_good_clause(last_good):
    return 'last good checkpoint: %s' % last_good if last_good else 'no checkpoint was saved'


def _non_finite(params):
    """The name of the first array of (arg, aux) params holding NaN or inf, or None."""
    for group in params:
        for name in sorted(group):
            if not np.isfinite(group[name].asnumpy()).all():
                return name
    return None


def saved_args(args):
    """The flags of the graph checkpoints store: a bfloat16 run's is the float32 one (its
    parameters are float32; bfloat16 is how the CPU computed them)."""
    if args.dtype != 'bfloat16':
        return args
    return args.replace(dtype='float32')


def with_lr_mult(sym, lr_mult):
    """``sym`` with the learning-rate multipliers {parameter: m} as the attribute the
    optimizer reads from the graph (so they reach parameter servers too)."""
    graph = json.loads(sym.tojson(remove_amp_cast=False))
    for node in graph['nodes']:
        if node['op'] == 'null' and node['name'] in lr_mult:
            node.setdefault('attrs', {})['__lr_mult__'] = repr(float(lr_mult[node['name']]))
    return mx.sym.load_json(json.dumps(graph))


def validate(sym, params, val, count, metrics, batch_size, image_shape, devices, epoch,
             progress=None, tta='none', stop=None):
    """Score ``params`` (released layout) on ``val`` as score.py does: the released graph
    ``sym`` bound for inference (common.inference, on the CPU its fused inference form),
    not the training Module, whose form trains fast but infers slowly; ``tta`` is the
    model's evaluation protocol (common.evaluate.predict)."""
    tic = time.time()
    mod = bind_for_inference(sym, params[0], params[1], batch_size, image_shape, devices)
    images, _ = evaluate.evaluate(mod, val, metrics, count, progress=progress, tta=tta,
                                  stop=stop)
    if stop is not None and stop():
        return  # (cut short: its numbers are not the epoch's)
    for m in metrics:
        for name, value in m.get_name_value():
            logging.info('Epoch[%d] Validation-%s=%f', epoch, name, value)
    logging.info(training_log.validation_line(epoch, images, time.time() - tic))


class Run(object):
    """What the steps of one fit() share. prepare() fills the data side (the settled flags,
    kvstore, devices, epoch size, validation count); build_network() the graphs (the one
    trained, the checkpointed one, the model info, the prefix lock); bind() the training
    Module, the schedule and the weight average. resume() gives the starting point."""

    def __init__(self, args, kv, devices, epoch_size, val_count, watchdog):
        self.args, self.kv, self.devices = args, kv, devices
        self.epoch_size, self.val_count, self.watchdog = epoch_size, val_count, watchdog
        self.distributed = 'dist' in args.kv_store
        self.save = bool(args.model_prefix) and kv.rank == 0
        self.begin_epoch, self.last_saved = 0, None
        self.mod = self.sym = self.saved_sym = self.scheduler = self.info = None
        self.guard = self.average = self.lock = None
        self.loss = mx.metric.CrossEntropy()
        self.metric = mx.metric.CompositeEvalMetric(
            evaluate.make_metrics(args.top_k, args.num_classes) + [self.loss])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Let go of the checkpoint prefix (build_network claims it)."""
        if self.lock is not None:
            self.lock.close()
            self.lock = None

    def touch(self):
        """Tell the distributed watchdog the run is alive."""
        if self.watchdog:
            self.watchdog.touch()

    def last_good(self):
        """The path of the last checkpoint this run can go back to, or None."""
        if not (self.save and self.last_saved):
            return None
        return checkpoint.checkpoint_paths(self.args.model_prefix, self.last_saved)[1]

    def model_params(self):
        """(the model's params, the trained ones when they differ): what checkpoints hold."""
        trained = self.mod.get_params()
        return (self.average.get_params(), trained) if self.average is not None \
            else (trained, None)


class Start(object):
    """Where training begins: the epoch, its parameters (None: initialize), the optimizer
    state file and the weight average of a resumed checkpoint (else None)."""

    def __init__(self, epoch=0, arg_params=None, aux_params=None, params_path=None, states=None,
                 averaged=None):
        self.epoch, self.arg_params, self.aux_params = epoch, arg_params, aux_params
        self.params_path, self.states, self.averaged = params_path, states, averaged


def count_examples(args, kv):
    """Check the record files and their labels; returns (the examples an epoch trains on:
    the records, or fewer, the number of validation images scored: None without
    --data-val)."""
    data_mod.require_file(args.data_train, 'data-train')
    count = data_mod.check_labels(args.data_train, args.num_classes, 'data-train',
                                  args.data_train_idx)
    val_count = None
    if args.data_val:
        data_mod.require_file(args.data_val, 'data-val')
        val_count = data_mod.check_labels(args.data_val, args.num_classes, 'data-val',
                                          args.data_val_idx)
        if args.num_val_examples and args.num_val_examples < val_count:
            logging.info('--num-val-examples %d: each validation scores the first %d of the '
                         '%d records of %s', args.num_val_examples, args.num_val_examples,
                         val_count, args.data_val)
            val_count = args.num_val_examples
    examples = args.num_examples
    if examples is None:
        examples = count
    elif count < examples:
        logging.warning('--num-examples %d but %s holds %d records; using %d',
                        examples, args.data_train, count, count)
        examples = count
    elif examples < count:
        logging.info('--num-examples %d: each epoch trains on %d of the %d records of %s '
                     '(shuffled anew every epoch)', examples, examples, count, args.data_train)
    if args.batch_size * kv.num_workers > examples:
        raise UserError('--batch-size %d is larger than the %d training examples; lower it'
                        % (args.batch_size, examples))
    return examples, val_count


def prepare(args):
    """Step 1: check the flags, start the kvstore, the log and the seeds, count the data.
    The Run's ``args`` are these with the epoch's examples settled (``num_examples``)."""
    args = fixed(args)
    validate_args(args)
    watchdog = Watchdog(args.dist_timeout, '--kv-store %s' % args.kv_store) \
        if 'dist' in args.kv_store else None
    kv = create_kvstore(args.kv_store)
    setup_logging(args.log_file, kv.rank)
    logging.info('start with arguments %s', args.as_dict())
    logging.info('python %s, mxnet %s, numpy %s, OMP_NUM_THREADS=%s', platform.python_version(),
                 mx.__version__, np.__version__, os.environ.get('OMP_NUM_THREADS'))
    if args.seed is not None:
        seed_everything(args.seed + kv.rank)
    val_count = None
    if not args.benchmark:
        data_mod.image_shape(args)
        examples, val_count = count_examples(args, kv)
        args = args.replace(num_examples=examples)
    devices = runtime.get_devices(args.gpus) if not args.test_io else None
    epoch_size = data_mod.batches_per_epoch(args, kv) if not args.benchmark else None
    if epoch_size is None:
        epoch_size = max(1, args.num_examples // args.batch_size) if args.num_examples else 10
        args = args.replace(num_examples=epoch_size * args.batch_size)
    return Run(args, kv, devices, epoch_size, val_count, watchdog)


def resume(args, initial_params=None):
    """Step 2: the Start of the run: --resume's last complete checkpoint, --load-epoch's,
    or ``initial_params`` (fine-tuning) at epoch 0."""
    epoch = 0
    if args.resume:
        epoch = checkpoint.last_complete_epoch(args.model_prefix)
        logging.info('--resume: %s', 'epoch %d' % epoch if epoch
                     else 'no checkpoint yet, starting from scratch')
    elif args.load_epoch is not None:
        epoch = args.load_epoch
    if epoch == 0:
        return Start(0, *(initial_params or (None, None)))
    _, params_path, states = checkpoint.checkpoint_paths(args.model_prefix, epoch)
    arg_params, aux_params = checkpoint.load_params(params_path)
    logging.info('Loaded checkpoint of epoch %d from %s', epoch, args.model_prefix)
    averaged = None
    trained_path = checkpoint.training_params_path(args.model_prefix, epoch)
    if os.path.isfile(trained_path):  # (the .params are their average: common.averaging)
        averaged = arg_params, aux_params
        arg_params, aux_params = checkpoint.load_params(trained_path)
        logging.info('training goes on from the trained weights in %s', trained_path)
    return Start(epoch, arg_params, aux_params, params_path, states, averaged)


def build_network(run, start, get_network, lr_mult=None):
    """Step 3a: the graph that trains (in the form common.runtime.training_network picks)
    and the released graph checkpoints store; claim the checkpoint prefix and check that a
    resumed checkpoint fits the network."""
    args = run.args
    run.begin_epoch = run.last_saved = start.epoch
    shape = (args.batch_size,) + data_mod.image_shape(args)
    form, run.sym = runtime.training_network(args.fast_group_conv, run.devices,
                                             lambda f: get_network(args, f), shape)
    runtime.check_dtype(args.dtype, run.devices, form)
    if lr_mult:
        run.sym = with_lr_mult(run.sym, lr_mult)
    run.saved_sym = get_network(saved_args(args), Form.RELEASED)
    run.info = model_info(args) if run.save and not args.benchmark else None
    if run.save:
        checkpoint.refuse_shipped(args.model_prefix)
        run.lock = checkpoint.lock_prefix(args.model_prefix)  # (held while run lives)
        checkpoint.check_room(args.model_prefix, checkpoint.checkpoint_bytes(
            run.saved_sym, data_mod.image_shape(args),
            with_states=args.mom > 0 and not run.distributed))
    if start.epoch > 0:
        try:
            for params in [(start.arg_params, start.aux_params)] + \
                    ([start.averaged] if start.averaged is not None else []):
                checkpoint.check_params(run.saved_sym, params[0], params[1],
                                        data_mod.image_shape(args), start.params_path)
        except UserError as err:
            raise UserError('--network %s cannot resume from it: %s' % (args.network, err))


def bind(run, start, train, fixed_params=()):
    """Step 3b: the training Module bound to ``train``'s shapes with its parameters, the
    optimizer and its schedule, the update guard, the weight average and, on a resume, the
    optimizer state."""
    args = run.args
    steps = parse_step_epochs(args.lr_step_epochs, args.num_epochs)
    run.scheduler = EpochLRScheduler(run.epoch_size, base_lr=args.lr, num_epochs=args.num_epochs,
                                     schedule=args.lr_scheduler, factor=args.lr_factor,
                                     steps=steps, warmup_epochs=args.warmup_epochs,
                                     warmup_begin_lr=args.warmup_begin_lr)
    optimizer_params = {'learning_rate': args.lr, 'wd': args.wd, 'momentum': args.mom,
                        'lr_scheduler': run.scheduler,
                        'begin_num_update': run.epoch_size * start.epoch,
                        'multi_precision': args.dtype == 'float16'}
    mod = run.mod = Module(run.sym, context=run.devices,
                           fixed_param_names=list(fixed_params) or None)
    mod.bind(data_shapes=train.provide_data, label_shapes=train.provide_label)
    try:
        mod.init_params(_initializer(args.initializer), arg_params=start.arg_params,
                        aux_params=start.aux_params, allow_missing=start.epoch == 0)
    except (RuntimeError, ValueError, AssertionError, mx.base.MXNetError) as err:
        raise UserError('checkpoint of epoch %d does not fit --network %s: %s'
                        % (start.epoch, args.network, reason(err)))
    mod.init_optimizer(kvstore=run.kv, optimizer=args.optimizer,
                       optimizer_params=optimizer_params)
    run.guard = guard_updates(mod)
    if args.ema_decay > 0:
        run.average = averaging.WeightAverage(mod, args.ema_decay, run.epoch_size * start.epoch,
                                              initial=start.averaged)
        averaging.log_start(args.ema_decay, run.epoch_size * start.epoch,
                            'resumed from the checkpoint' if start.averaged is not None else
                            'starting from the loaded weights' if start.epoch > 0 else
                            'starting from the initial weights')
    if start.states and os.path.isfile(start.states) and not run.distributed:
        load_optimizer_states(run, start.states, train, fixed_params,
                              optimizer_params['multi_precision'])
    elif start.epoch > 0:
        logging.warning('no optimizer state for epoch %d: momentum restarts from zero',
                        start.epoch)


def load_optimizer_states(run, states, train, fixed_params, multi_precision):
    """Load a .states file into the bound Module after checking that every state fits its
    parameter (common.checkpoint.check_states)."""
    sym, mod = run.sym, run.mod
    shapes = dict(zip(sym.list_arguments(),
                      sym.infer_shape(**dict(train.provide_data + train.provide_label))[0]))
    names = mod._exec_group.param_names  # (fixed ones get no update, so no state)
    if mod._update_on_kvstore:
        expected = {name: (name, shapes[name]) for name in names if name not in fixed_params}
    else:
        expected = {i * len(run.devices) + k: (name, shapes[name])
                    for i, name in enumerate(names) if name not in fixed_params
                    for k in range(len(run.devices))}
    checkpoint.check_states(states, checkpoint.check_states_file(states), expected,
                            run.args.mom, multi_precision)
    mod.load_optimizer_states(states)
    logging.info('Loaded optimizer state from %s', states)


def train_epoch(run, train, epoch, stop, speedometer):
    """Step 4: one pass over ``train`` (to its end, or to the batch where ``stop`` was
    requested), logging MXNet's batch, Train- and Time cost lines; returns the number of
    batches done. Raises TrainingDiverged on a non-finite loss and UpdateFailed when an
    update fails."""
    args, mod, guard = run.args, run.mod, run.guard
    run.metric.reset()
    logging.info('Epoch[%d] Learning-rate=%g', epoch, run.scheduler(run.epoch_size * epoch))
    tic = time.time()
    nbatch = batches = 0
    for nbatch, batch in enumerate(data_mod.safe_batches(train, 'data-train')):
        mod.forward_backward(batch)
        _update(mod, guard)
        batches += 1
        mod.update_metric(run.metric, batch.label)
        if run.average is not None:  # (after the metric read the step's outputs)
            run.average.update()
        if guard is not None:
            guard.raise_if_failed()
        run.touch()
        if (nbatch + 1) % args.disp_batches == 0:
            diverged = _diverged(run.loss, epoch, nbatch, run.last_good())
            if diverged:
                raise diverged
        speedometer(mx.model.BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=run.metric,
                                           locals=None))
        if stop.requested:
            break
    mx.nd.waitall()
    if guard is not None:
        guard.raise_if_failed()
    for name, value in run.metric.get_global_name_value():
        logging.info('Epoch[%d] Train-%s=%f', epoch, name, value)
    seconds = time.time() - tic
    logging.info('Epoch[%d] Time cost=%.3f', epoch, seconds)
    logging.info(training_log.epoch_line(epoch, batches * args.batch_size, seconds))
    diverged = _diverged(run.loss, epoch, nbatch, run.last_good())
    if diverged:
        raise diverged
    return batches


def save_interrupted(run, epoch, batches, signal):
    """Step 4': a stop within an epoch: save it under PREFIX-interrupted (never as a
    finished epoch) and raise Interrupted."""
    logging.info(training_log.INTERRUPTED_FORMAT, epoch, batches, run.epoch_size)
    saved = 'nothing saved'
    if run.save:
        (arg, aux), trained = run.model_params()
        interrupted = run.args.model_prefix + '-interrupted'
        checkpoint.save_checkpoint(interrupted, epoch, run.saved_sym, arg, aux, info=run.info,
                                   training_params=trained)
        saved = 'saved %s' % checkpoint.checkpoint_paths(interrupted, epoch)[1]
    raise Interrupted('stopped by signal %d in epoch %d (%s); resume from the last complete '
                      'checkpoint with --resume' % (signal, epoch, saved), signal)


def save_epoch(run, epoch):
    """Step 5: after epoch ``epoch``, the checkpoint PREFIX-(epoch+1) when --save-period
    (or the last epoch) asks for it, refused when a weight is not finite; returns the
    model's params it saved, or None."""
    args, done = run.args, epoch + 1
    if not (run.save and (done % args.save_period == 0 or done == args.num_epochs)):
        return None
    params, trained = run.model_params()
    bad = _non_finite(params) or (_non_finite(trained) if trained else None)
    if bad:  # (the loss can stay finite while weights overflow)
        raise TrainingDiverged('parameter %s became NaN or infinite in epoch %d, so its '
                               'checkpoint was not saved (%s); lower --lr and resume'
                               % (bad, epoch, _last_good_clause(run.last_good())))
    checkpoint.save_checkpoint(args.model_prefix, done, run.saved_sym, *params,
                               None if run.distributed else run.mod.save_optimizer_states,
                               info=run.info, training_params=trained)
    run.last_saved = done
    return params


def stopped(run, epoch, stop, during):
    """The Interrupted of a stop requested ``during`` (a phrase) epoch ``epoch``'s end,
    naming the checkpoint to resume from."""
    last_good = run.last_good()
    return Interrupted('stopped by signal %d in epoch %d, %s (%s); resume with --resume'
                       % (stop.signal, epoch, during, 'its checkpoint %s is saved' % last_good
                          if last_good else 'no checkpoint saved'), stop.signal)


def validate_epoch(run, val, epoch, params, stop):
    """Step 6: score the epoch's model params on ``val`` (validate); a stop during it
    raises Interrupted, naming the checkpoint to resume from."""
    run.touch()
    args = run.args
    validate(run.saved_sym, params or run.model_params()[0], val, run.val_count,
             run.metric.metrics, args.batch_size, data_mod.image_shape(args), run.devices,
             epoch, run.watchdog, tta=args.tta, stop=lambda: stop.requested)
    if stop.requested:  # (it stopped within a batch)
        logging.info('Epoch[%d] Validation cut short by signal %d', epoch, stop.signal)
        raise stopped(run, epoch, stop, 'during its validation')


def fit(args, get_network, data_loader=None, initial_params=None, fixed_params=(),
        lr_mult=None):
    """Train ``get_network(args, form)`` on ``data_loader(args, kv, epoch) -> (train, val)``;
    the network trains in the form common.runtime.training_network picks, and checkpoints
    store ``get_network(args, Form.RELEASED)``, the graph with the released ops.

    ``initial_params`` (arg_params, aux_params) start a run that resumes nothing (fine-
    tuning: parameters they lack are initialized); ``fixed_params`` are not trained;
    ``lr_mult`` {parameter: multiplier} scales learning rates (checkpoints do not keep it).
    Returns the trained Module (None when the run had nothing left to do)."""
    run = prepare(args)
    args = run.args  # (the epoch's examples settled)
    if data_loader is None:
        data_loader = data_mod.get_synthetic_iter if args.benchmark else data_mod.get_rec_iter
    if args.test_io:
        train, _ = data_loader(args, run.kv, 0)
        return data_mod.time_data_pipeline(train, args.batch_size, args.disp_batches)
    start = resume(args, initial_params)
    if start.epoch >= args.num_epochs:
        logging.info('already trained %d of %d epochs: nothing to do', start.epoch,
                     args.num_epochs)
        return None
    with run:
        build_network(run, start, get_network, lr_mult)
        train, val = data_loader(args, run.kv, start.epoch)
        bind(run, start, train, fixed_params)
        speedometer = mx.callback.Speedometer(args.batch_size, args.disp_batches)
        with StopRequest(run.distributed) as stop:
            for epoch in range(start.epoch, args.num_epochs):
                run.touch()
                if epoch != start.epoch:
                    train, val = data_loader(args, run.kv, epoch)
                batches = train_epoch(run, train, epoch, stop, speedometer)
                if stop.requested:
                    save_interrupted(run, epoch, batches, stop.signal)
                params = save_epoch(run, epoch)
                run.touch()
                if val is not None:
                    validate_epoch(run, val, epoch, params, stop)
                elif stop.requested:  # (while its checkpoint was saved)
                    raise stopped(run, epoch, stop, 'at its end')
        run.touch()  # (still watching: leaving the parameter server waits on every peer too)
    return run.mod
