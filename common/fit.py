"""The training loop shared by train_imagenet.py and train_cifar.py.

Flags, checkpoint names and log lines are those of MXNet's example/image-classification
(``Epoch[e] Batch [a-b]\tSpeed: N samples/sec``, ``Epoch[e] Train-accuracy=``,
``Epoch[e] Validation-accuracy=``, ``Epoch[e] Time cost=``), so MXNet's parse_log.py and
tools/plot_log.py read the logs.
"""
import logging
import os
import platform
import random
import time

import mxnet as mx
import numpy as np

from symbol import Form

from . import checkpoint, evaluate, runtime
from . import data as data_mod
from .cli import setup_logging
from .errors import UserError
from .module import Module
from .schedule import EpochLRScheduler
from .supervision import StopRequest, Watchdog

SCHEDULES = ('multifactor', 'cosine')


def add_fit_args(parser):
    train = parser.add_argument_group('Training', 'model training')
    train.add_argument('--network', type=str, help='registered network (symbol/), any case')
    train.add_argument('--multiplier', type=float, default=1.0, help='width multiplier')
    train.add_argument('--width-rule', type=str, default='upstream', choices=('upstream', 'standard'),
                       help='how the multiplier rounds widths (symbol/widths.py)')
    train.add_argument('--fast-group-conv', type=int, default=None, choices=(0, 1),
                       help='1: train the CPU training form (grouped 1x1 convs as block-'
                            'diagonal dense convs, permutations folded into parameters, ReLU6 '
                            'as min(relu, 6), BatchNorm fused with ReLU under AVX2 oneDNN '
                            'kernels: same parameters and function, faster on CPUs); 0: the '
                            'released ops; default 1 on the CPU, 0 with GPUs. Checkpoints keep '
                            'the released graph either way')
    train.add_argument('--gpus', type=str, default=None,
                       help="GPUs to use, e.g. '0,1'; '' for the CPU; default every visible "
                            "GPU, else the CPU")
    train.add_argument('--kv-store', type=str, default='device',
                       help='local, device, dist_sync, dist_device_sync or dist_async')
    train.add_argument('--num-epochs', type=int, default=100, help='epochs to train')
    train.add_argument('--lr', type=float, default=0.1, help='initial learning rate')
    train.add_argument('--lr-scheduler', type=str, default='multifactor', choices=SCHEDULES,
                       help='multifactor: x lr-factor at each of lr-step-epochs; cosine: to 0 '
                            'at the last epoch')
    train.add_argument('--lr-factor', type=float, default=0.1,
                       help='learning rate multiplier at each step epoch')
    train.add_argument('--lr-step-epochs', type=str, default='',
                       help="epochs after which the rate is multiplied by lr-factor: a comma "
                            "list, or 'every' for after every epoch")
    train.add_argument('--warmup-epochs', type=float, default=0,
                       help='linear warm-up from --warmup-begin-lr over these epochs')
    train.add_argument('--warmup-begin-lr', type=float, default=0.0, help='lr at step 0 of warm-up')
    train.add_argument('--optimizer', type=str, default='sgd', choices=('sgd', 'nag'),
                       help='SGD or Nesterov, with momentum')
    train.add_argument('--mom', type=float, default=0.9, help='momentum')
    train.add_argument('--wd', type=float, default=1e-4, help='weight decay')
    train.add_argument('--initializer', type=str, default='xavier', choices=('xavier', 'msra'),
                       help="xavier: Xavier(gaussian, 'in', 2) as upstream; msra: MSRAPrelu")
    train.add_argument('--label-smoothing', type=float, default=0.0,
                       help='label smoothing (SoftmaxOutput smooth_alpha)')
    train.add_argument('--batch-size', type=int, default=128,
                       help='total batch size per machine, split evenly over its GPUs')
    train.add_argument('--disp-batches', type=int, default=20,
                       help='log speed and metrics every this many batches')
    train.add_argument('--model-prefix', type=str, help='checkpoint prefix: PREFIX-%%04d.params')
    train.add_argument('--save-period', type=int, default=1, help='checkpoint every N epochs')
    train.add_argument('--load-epoch', type=int, help='resume from the checkpoint of this epoch')
    train.add_argument('--resume', action='store_true',
                       help='resume from the last complete checkpoint of --model-prefix, if any')
    train.add_argument('--top-k', type=int, default=0, help='also report top-k accuracy (0: off)')
    train.add_argument('--seed', type=int, default=None,
                       help='seed python, numpy, mxnet and the data iterators')
    train.add_argument('--dist-timeout', type=float, default=600,
                       help='distributed kvstores: stop with an error when no batch has '
                            'finished for this many seconds (a peer died)')
    train.add_argument('--log-file', type=str, default='',
                       help='also log to this file (its folder is created)')
    return train


def parse_step_epochs(text, num_epochs):
    if text.strip() == 'every':
        return list(range(1, num_epochs))
    try:
        return sorted(int(s) for s in text.split(',') if s.strip())
    except ValueError:
        raise UserError("--lr-step-epochs '%s' must be comma-separated epochs or 'every'" % text)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def create_kvstore(kv_store):
    if 'dist' in kv_store and 'DMLC_ROLE' not in os.environ:
        raise UserError('--kv-store %s needs the distributed launcher: run through '
                        'tools/launch.py (see README, "Many machines")' % kv_store)
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


def validate_args(args):
    if not args.network:
        raise UserError('--network is required')
    if args.num_classes is None or args.num_classes < 1:
        raise UserError('--num-classes must be a positive number')
    if args.batch_size < 1:
        raise UserError('--batch-size must be positive, got %d' % args.batch_size)
    if args.num_epochs < 1:
        raise UserError('--num-epochs must be positive, got %d' % args.num_epochs)
    if args.load_epoch is not None and args.resume:
        raise UserError('give --load-epoch or --resume, not both')
    if (args.load_epoch is not None or args.resume) and not args.model_prefix:
        raise UserError('--load-epoch and --resume need --model-prefix')
    if args.disp_batches < 1:
        raise UserError('--disp-batches must be positive')


def _diverged(loss, epoch, nbatch, last_good):
    """TrainingDiverged if the epoch's cross-entropy so far is not finite."""
    if np.isfinite(loss.get_global()[1]):
        return None
    return TrainingDiverged('loss became NaN at epoch %d batch %d (%s); lower --lr and resume'
                            % (epoch, nbatch, 'last good checkpoint: %s' % last_good
                               if last_good else 'no checkpoint was saved'))


def fit(args, get_network, data_loader=None):
    """Train ``get_network(args, form)`` on ``data_loader(args, kv, epoch) -> (train, val)``;
    the network trains in the form common.runtime.training_form picks, and checkpoints
    store ``get_network(args, Form.RELEASED)``, the graph with the released ops."""
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
        if args.num_examples is None:
            raise UserError('--num-examples is required')
        data_mod.image_shape(args)
        data_mod.require_file(args.data_train, 'data-train')
        count = data_mod.check_labels(args.data_train, args.num_classes, 'data-train')
        if args.data_val:
            data_mod.require_file(args.data_val, 'data-val')
            val_count = data_mod.check_labels(args.data_val, args.num_classes, 'data-val')
        if count < args.num_examples:
            logging.warning('--num-examples %d but %s holds %d records; using %d',
                            args.num_examples, args.data_train, count, count)
            args.num_examples = count
        if args.batch_size * kv.num_workers > args.num_examples:
            raise UserError('--batch-size %d is larger than the %d training examples; lower it'
                            % (args.batch_size, args.num_examples))

    if args.test_io:
        train, _ = data_loader(args, kv, 0)
        return data_mod.time_data_pipeline(train, args.batch_size, args.disp_batches)

    devices = runtime.get_devices(args.gpus)
    form = runtime.training_form(args.fast_group_conv, devices)
    epoch_size = data_mod.batches_per_epoch(args, kv) if not args.benchmark else None
    if epoch_size is None:
        epoch_size = max(1, args.num_examples // args.batch_size) if args.num_examples else 10
        args.num_examples = epoch_size * args.batch_size

    begin_epoch, arg_params, aux_params, states = 0, None, None, None
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
    if begin_epoch >= args.num_epochs:
        logging.info('already trained %d of %d epochs: nothing to do', begin_epoch, args.num_epochs)
        return None

    sym = get_network(args, form)
    saved_sym = get_network(args, Form.RELEASED)
    if arg_params is not None:
        try:
            checkpoint.check_params(saved_sym, arg_params, aux_params, data_mod.image_shape(args),
                                    params_path)
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
    mod = Module(sym, context=devices)
    mod.bind(data_shapes=train.provide_data, label_shapes=train.provide_label)
    try:
        mod.init_params(_initializer(args.initializer), arg_params=arg_params,
                        aux_params=aux_params, allow_missing=arg_params is None)
    except (RuntimeError, ValueError, AssertionError, mx.base.MXNetError) as err:
        detail = [l for l in str(err).splitlines() if l.strip()][-1]
        raise UserError('checkpoint of epoch %d does not fit --network %s: %s'
                        % (begin_epoch, args.network, detail))
    mod.init_optimizer(kvstore=kv, optimizer=args.optimizer, optimizer_params=optimizer_params)
    distributed = 'dist' in args.kv_store
    if states and os.path.isfile(states) and not distributed:
        checkpoint.check_states_file(states)
        mod.load_optimizer_states(states)
        logging.info('Loaded optimizer state from %s', states)
    elif begin_epoch > 0:
        logging.warning('no optimizer state for epoch %d: momentum restarts from zero',
                        begin_epoch)

    loss = mx.metric.CrossEntropy()
    metric = mx.metric.CompositeEvalMetric(
        evaluate.make_metrics(args.top_k, args.num_classes) + [loss])
    speedometer = mx.callback.Speedometer(args.batch_size, args.disp_batches)
    save = args.model_prefix and kv.rank == 0
    last_saved = begin_epoch if begin_epoch else None

    def last_good():
        return checkpoint.checkpoint_paths(args.model_prefix, last_saved)[1] \
            if save and last_saved else None

    with StopRequest() as stop:
        for epoch in range(begin_epoch, args.num_epochs):
            if watchdog:
                watchdog.touch()
            if epoch != begin_epoch:
                train, val = data_loader(args, kv, epoch)
            metric.reset()
            tic = time.time()
            nbatch = 0
            for nbatch, batch in enumerate(data_mod.safe_batches(train, 'data-train')):
                mod.forward_backward(batch)
                mod.update()
                mod.update_metric(metric, batch.label)
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
            for name, value in metric.get_global_name_value():
                logging.info('Epoch[%d] Train-%s=%f', epoch, name, value)
            logging.info('Epoch[%d] Time cost=%.3f', epoch, time.time() - tic)
            diverged = _diverged(loss, epoch, nbatch, last_good())
            if diverged:
                raise diverged
            if stop.requested:
                if save:
                    # A partial epoch is saved under its own name, never as a finished one.
                    arg, aux = mod.get_params()
                    checkpoint.save_checkpoint(args.model_prefix + '-interrupted', epoch,
                                               saved_sym, arg, aux)
                logging.info('Stopped by signal in epoch %d; resume from the last complete '
                             'checkpoint with --resume', epoch)
                return None
            done = epoch + 1
            if save and (done % args.save_period == 0 or done == args.num_epochs):
                arg, aux = mod.get_params()
                checkpoint.save_checkpoint(args.model_prefix, done, saved_sym, arg, aux,
                                           None if distributed else mod.save_optimizer_states)
                last_saved = done
            if watchdog:
                watchdog.touch()
            if val is not None:
                evaluate.evaluate(mod, val, metric.metrics, val_count, progress=watchdog)
                for name, value in metric.get_name_value():
                    logging.info('Epoch[%d] Validation-%s=%f', epoch, name, value)
    if watchdog:
        # Still watching: leaving the parameter server waits on every peer too.
        watchdog.touch()
    return mod
