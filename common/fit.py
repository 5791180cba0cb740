"""The training loop shared by train_imagenet.py and train_cifar.py (their flags and the
checks of them are in common/train.py).

Flags, checkpoint names and log lines are those of MXNet's example/image-classification
(``Epoch[e] Batch [a-b]\tSpeed: N samples/sec``, ``Epoch[e] Train-accuracy=``,
``Epoch[e] Validation-accuracy=``, ``Epoch[e] Time cost=``), so MXNet's parse_log.py and
tools/plot_log.py read the logs.
"""
import argparse
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
from .train import model_info, parse_step_epochs, validate_args

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
    return argparse.Namespace(**dict(vars(args), dtype='float32'))


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


def fit(args, get_network, data_loader=None, initial_params=None, fixed_params=(),
        lr_mult=None):
    """Train ``get_network(args, form)`` on ``data_loader(args, kv, epoch) -> (train, val)``;
    the network trains in the form common.runtime.training_network picks, and checkpoints
    store ``get_network(args, Form.RELEASED)``, the graph with the released ops.

    ``initial_params`` (arg_params, aux_params) start a run that resumes nothing (fine-
    tuning: parameters they lack are initialized); ``fixed_params`` are not trained;
    ``lr_mult`` {parameter: multiplier} scales learning rates (checkpoints do not keep it)."""
    validate_args(args)
    watchdog = Watchdog(args.dist_timeout, '--kv-store %s' % args.kv_store) \
        if 'dist' in args.kv_store else None
    kv = create_kvstore(args.kv_store)
    setup_logging(args.log_file, kv.rank)
    logging.info('start with arguments %s', vars(args))
    logging.info('python %s, mxnet %s, numpy %s, OMP_NUM_THREADS=%s', platform.python_version(),
                 mx.__version__, np.__version__, os.environ.get('OMP_NUM_THREADS'))
    if args.seed is not None:
        seed_everything(args.seed + kv.rank)
    if data_loader is None:
        data_loader = data_mod.get_synthetic_iter if args.benchmark else data_mod.get_rec_iter

    val_count = None
    if not args.benchmark:
        data_mod.image_shape(args)
        data_mod.require_file(args.data_train, 'data-train')
        count = data_mod.check_labels(args.data_train, args.num_classes, 'data-train',
                                      args.data_train_idx)
        if args.data_val:
            data_mod.require_file(args.data_val, 'data-val')
            val_count = data_mod.check_labels(args.data_val, args.num_classes, 'data-val',
                                              args.data_val_idx)
            if args.num_val_examples and args.num_val_examples < val_count:
                logging.info('--num-val-examples %d: each validation scores the first %d of the '
                             '%d records of %s', args.num_val_examples, args.num_val_examples,
                             val_count, args.data_val)
                val_count = args.num_val_examples
        if args.num_examples is None:
            args.num_examples = count
        elif count < args.num_examples:
            logging.warning('--num-examples %d but %s holds %d records; using %d',
                            args.num_examples, args.data_train, count, count)
            args.num_examples = count
        elif args.num_examples < count:
            logging.info('--num-examples %d: each epoch trains on %d of the %d records of %s '
                         '(shuffled anew every epoch)', args.num_examples, args.num_examples,
                         count, args.data_train)
        if args.batch_size * kv.num_workers > args.num_examples:
            raise UserError('--batch-size %d is larger than the %d training examples; lower it'
                            % (args.batch_size, args.num_examples))

    if args.test_io:
        train, _ = data_loader(args, kv, 0)
        return data_mod.time_data_pipeline(train, args.batch_size, args.disp_batches)

    devices = runtime.get_devices(args.gpus)
    epoch_size = data_mod.batches_per_epoch(args, kv) if not args.benchmark else None
    if epoch_size is None:
        epoch_size = max(1, args.num_examples // args.batch_size) if args.num_examples else 10
        args.num_examples = epoch_size * args.batch_size

    begin_epoch, arg_params, aux_params, states, averaged = 0, None, None, None, None
    if args.resume:
        begin_epoch = checkpoint.last_complete_epoch(args.model_prefix)
        logging.info('--resume: %s', 'epoch %d' % begin_epoch if begin_epoch
                     else 'no checkpoint yet, starting from scratch')
    elif args.load_epoch is not None:
        begin_epoch = args.load_epoch
    if begin_epoch > 0:
        _, params_path, states = checkpoint.checkpoint_paths(args.model_prefix, begin_epoch)
        arg_params, aux_params = checkpoint.load_params(params_path)
        logging.info('Loaded checkpoint of epoch %d from %s', begin_epoch, args.model_prefix)
        trained_path = checkpoint.training_params_path(args.model_prefix, begin_epoch)
        if os.path.isfile(trained_path):  # (the .params are their average: common.averaging)
            averaged = arg_params, aux_params
            arg_params, aux_params = checkpoint.load_params(trained_path)
            logging.info('training goes on from the trained weights in %s', trained_path)
    elif initial_params is not None:
        arg_params, aux_params = initial_params
    if begin_epoch >= args.num_epochs:
        logging.info('already trained %d of %d epochs: nothing to do', begin_epoch, args.num_epochs)
        return None

    form, sym = runtime.training_network(
        args.fast_group_conv, devices, lambda f: get_network(args, f),
        (args.batch_size,) + data_mod.image_shape(args))
    runtime.check_dtype(args.dtype, devices, form)
    if lr_mult:
        sym = with_lr_mult(sym, lr_mult)
    saved_sym = get_network(saved_args(args), Form.RELEASED)
    save = args.model_prefix and kv.rank == 0
    info = model_info(args) if save and not args.benchmark else None
    if save:
        checkpoint.refuse_shipped(args.model_prefix)
        lock = checkpoint.lock_prefix(args.model_prefix)  # noqa: F841  (held until exit)
        checkpoint.check_room(args.model_prefix, checkpoint.checkpoint_bytes(
            saved_sym, data_mod.image_shape(args),
            with_states=args.mom > 0 and 'dist' not in args.kv_store))
    if begin_epoch > 0:
        try:
            checkpoint.check_params(saved_sym, arg_params, aux_params, data_mod.image_shape(args),
                                    params_path)
            if averaged is not None:
                checkpoint.check_params(saved_sym, averaged[0], averaged[1],
                                        data_mod.image_shape(args), params_path)
        except UserError as err:
            raise UserError('--network %s cannot resume from it: %s' % (args.network, err))
    steps = parse_step_epochs(args.lr_step_epochs, args.num_epochs)
    scheduler = EpochLRScheduler(epoch_size, base_lr=args.lr, num_epochs=args.num_epochs,
                                 schedule=args.lr_scheduler, factor=args.lr_factor, steps=steps,
                                 warmup_epochs=args.warmup_epochs,
                                 warmup_begin_lr=args.warmup_begin_lr)
    optimizer_params = {'learning_rate': args.lr, 'wd': args.wd, 'momentum': args.mom,
                        'lr_scheduler': scheduler, 'begin_num_update': epoch_size * begin_epoch,
                        'multi_precision': args.dtype == 'float16'}

    train, val = data_loader(args, kv, begin_epoch)
    mod = Module(sym, context=devices, fixed_param_names=list(fixed_params) or None)
    mod.bind(data_shapes=train.provide_data, label_shapes=train.provide_label)
    try:
        mod.init_params(_initializer(args.initializer), arg_params=arg_params,
                        aux_params=aux_params, allow_missing=begin_epoch == 0)
    except (RuntimeError, ValueError, AssertionError, mx.base.MXNetError) as err:
        raise UserError('checkpoint of epoch %d does not fit --network %s: %s'
                        % (begin_epoch, args.network, reason(err)))
    mod.init_optimizer(kvstore=kv, optimizer=args.optimizer, optimizer_params=optimizer_params)
    guard = guard_updates(mod)
    average = None
    if args.ema_decay > 0:
        average = averaging.WeightAverage(mod, args.ema_decay, epoch_size * begin_epoch,
                                          initial=averaged)
        averaging.log_start(args.ema_decay, epoch_size * begin_epoch,
                            'resumed from the checkpoint' if averaged is not None else
                            'starting from the loaded weights' if begin_epoch > 0 else
                            'starting from the initial weights')

    def model_params():
        """(the model's params, the trained ones when they differ): what checkpoints hold."""
        trained = mod.get_params()
        return (average.get_params(), trained) if average is not None else (trained, None)

    distributed = 'dist' in args.kv_store
    if states and os.path.isfile(states) and not distributed:
        shapes = dict(zip(sym.list_arguments(),
                          sym.infer_shape(**dict(train.provide_data + train.provide_label))[0]))
        names = mod._exec_group.param_names  # (fixed ones get no update, so no state)
        if mod._update_on_kvstore:
            expected = {name: (name, shapes[name]) for name in names if name not in fixed_params}
        else:
            expected = {i * len(devices) + k: (name, shapes[name])
                        for i, name in enumerate(names) if name not in fixed_params
                        for k in range(len(devices))}
        checkpoint.check_states(states, checkpoint.check_states_file(states), expected,
                                args.mom, optimizer_params['multi_precision'])
        mod.load_optimizer_states(states)
        logging.info('Loaded optimizer state from %s', states)
    elif begin_epoch > 0:
        logging.warning('no optimizer state for epoch %d: momentum restarts from zero',
                        begin_epoch)

    loss = mx.metric.CrossEntropy()
    metric = mx.metric.CompositeEvalMetric(
        evaluate.make_metrics(args.top_k, args.num_classes) + [loss])
    speedometer = mx.callback.Speedometer(args.batch_size, args.disp_batches)
    last_saved = begin_epoch if begin_epoch else None

    def last_good():
        return checkpoint.checkpoint_paths(args.model_prefix, last_saved)[1] \
            if save and last_saved else None

    with StopRequest(distributed) as stop:
        for epoch in range(begin_epoch, args.num_epochs):
            if watchdog:
                watchdog.touch()
            if epoch != begin_epoch:
                train, val = data_loader(args, kv, epoch)
            metric.reset()
            logging.info('Epoch[%d] Learning-rate=%g', epoch, scheduler(epoch_size * epoch))
            tic = time.time()
            nbatch = trained = 0
            for nbatch, batch in enumerate(data_mod.safe_batches(train, 'data-train')):
                mod.forward_backward(batch)
                _update(mod, guard)
                trained += args.batch_size
                mod.update_metric(metric, batch.label)
                if average is not None:  # (after the metric read the step's outputs)
                    average.update()
                if guard is not None:
                    guard.raise_if_failed()
                if watchdog:
                    watchdog.touch()
                if (nbatch + 1) % args.disp_batches == 0:
                    diverged = _diverged(loss, epoch, nbatch, last_good())
                    if diverged:
                        raise diverged
                speedometer(mx.model.BatchEndParam(epoch=epoch, nbatch=nbatch,
                                                   eval_metric=metric, locals=None))
                if stop.requested:
                    break
            mx.nd.waitall()
            if guard is not None:
                guard.raise_if_failed()
            for name, value in metric.get_global_name_value():
                logging.info('Epoch[%d] Train-%s=%f', epoch, name, value)
            seconds = time.time() - tic
            logging.info('Epoch[%d] Time cost=%.3f', epoch, seconds)
            logging.info(training_log.epoch_line(epoch, trained, seconds))
            diverged = _diverged(loss, epoch, nbatch, last_good())
            if diverged:
                raise diverged
            if stop.requested:
                logging.info(training_log.INTERRUPTED_FORMAT, epoch, nbatch + 1, epoch_size)
                saved = 'nothing saved'
                if save:
                    # A partial epoch is saved under its own name, never as a finished one.
                    (arg, aux), trained = model_params()
                    interrupted = args.model_prefix + '-interrupted'
                    checkpoint.save_checkpoint(interrupted, epoch, saved_sym, arg, aux, info=info,
                                               training_params=trained)
                    saved = 'saved %s' % checkpoint.checkpoint_paths(interrupted, epoch)[1]
                raise Interrupted('stopped by signal %d in epoch %d (%s); resume from the last '
                                  'complete checkpoint with --resume'
                                  % (stop.signal, epoch, saved), stop.signal)
            done = epoch + 1
            params = None
            if save and (done % args.save_period == 0 or done == args.num_epochs):
                params, trained = model_params()
                bad = _non_finite(params) or (_non_finite(trained) if trained else None)
                if bad:  # (the loss can stay finite while weights overflow)
                    raise TrainingDiverged(
                        'parameter %s became NaN or infinite in epoch %d, so its checkpoint was '
                        'not saved (%s); lower --lr and resume'
                        % (bad, epoch, _last_good_clause(last_good())))
                checkpoint.save_checkpoint(args.model_prefix, done, saved_sym, *params,
                                           None if distributed else mod.save_optimizer_states,
                                           info=info, training_params=trained)
                last_saved = done
            if watchdog:
                watchdog.touch()
            if val is not None:
                validate(saved_sym, params or model_params()[0], val, val_count, metric.metrics,
                         args.batch_size, data_mod.image_shape(args), devices, epoch, watchdog,
                         tta=args.tta, stop=lambda: stop.requested)
            if stop.requested:  # during the validation: it stopped within a batch
                logging.info('Epoch[%d] Validation cut short by signal %d', epoch, stop.signal)
                raise Interrupted('stopped by signal %d in epoch %d, during its validation (%s); '
                                  'resume with --resume'
                                  % (stop.signal, epoch, 'its checkpoint %s is saved'
                                     % last_good() if last_good() else 'no checkpoint saved'),
                                  stop.signal)
    if watchdog:
        # Still watching: leaving the parameter server waits on every peer too.
        watchdog.touch()
    return mod
