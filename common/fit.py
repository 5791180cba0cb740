"""The training loop shared by train_imagenet.py and train_cifar.py.

Flags, checkpoint names and log lines are those of MXNet's example/image-classification
(``Epoch[e] Batch [a-b]\tSpeed: N samples/sec``, ``Epoch[e] Train-accuracy=``,
``Epoch[e] Validation-accuracy=``, ``Epoch[e] Time cost=``), so MXNet's parse_log.py and
tools/plot_log.py read the logs.
"""
import glob
import logging
import os
import platform
import random
import re
import signal
import sys
import time

import mxnet as mx
import numpy as np

from . import data as data_mod
from . import evaluate, safe_pickle
from .schedule import EpochLRScheduler, learning_rate  # noqa: F401  (part of this API)
from .cli import LOG_FORMAT
from .errors import UserError
from .module import Module
from . import one_blocking_kernels, use_training_kernels

SCHEDULES = ('multifactor', 'cosine')


def add_fit_args(parser):
    train = parser.add_argument_group('Training', 'model training')
    train.add_argument('--network', type=str, help='registered network (symbol/), any case')
    train.add_argument('--multiplier', type=float, default=1.0, help='width multiplier')
    train.add_argument('--width-rule', type=str, default='upstream', choices=('upstream', 'standard'),
                       help='how the multiplier rounds widths (symbol/common.py)')
    train.add_argument('--fast-group-conv', type=int, default=None, choices=(0, 1),
                       help='1: train the CPU training form (grouped 1x1 convs as block-'
                            'diagonal dense convs, permutations folded into parameters, fused '
                            'BN+ReLU6: same parameters and function, about twice as fast on '
                            'CPUs); 0: the released ops; default 1 on the CPU, 0 with GPUs. '
                            'Checkpoints keep the released graph either way')
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


def checkpoint_paths(prefix, epoch):
    return ('%s-symbol.json' % prefix, '%s-%04d.params' % (prefix, epoch),
            '%s-%04d.states' % (prefix, epoch))


def _atomic(path, write):
    """write(tmp) then rename over ``path``: a crash never leaves a truncated file."""
    tmp = '%s.tmp-%d' % (path, os.getpid())
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_checkpoint(prefix, epoch, sym, arg_params, aux_params, save_states=None):
    """PREFIX-symbol.json, PREFIX-%04d.states, then PREFIX-%04d.params, each atomically.
    The .params file is written last: its presence marks a complete checkpoint."""
    folder = os.path.dirname(prefix)
    if folder:
        os.makedirs(folder, exist_ok=True)
    sym_path, params_path, states_path = checkpoint_paths(prefix, epoch)
    _atomic(sym_path, sym.save)
    if save_states is not None:
        _atomic(states_path, save_states)
    blob = {'arg:' + k: v for k, v in arg_params.items()}
    blob.update({'aux:' + k: v for k, v in aux_params.items()})
    _atomic(params_path, lambda p: mx.nd.save(p, blob))
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


def synced_params(mod):
    """mod.get_params() after every pending operation has finished.

    MXNet 1.9's oneDNN BatchNorm updates its moving mean/var without the engine ordering
    that update before Module.get_params' copy, so a plain get_params can save stale
    running statistics (seen here: the same run saved different values from one process
    to the next). Waiting first makes checkpoints exact and repeatable.
    """
    mx.nd.waitall()
    return mod.get_params()


def get_devices(gpus):
    """--gpus: None -> every visible GPU, else the CPU; '' -> the CPU; '0,1' -> those."""
    if gpus is None:
        n = mx.context.num_gpus()
        devices = [mx.gpu(i) for i in range(n)] or [mx.cpu()]
        logging.info('--gpus not given: using %s', ', '.join(str(d) for d in devices))
        return devices
    if not gpus.strip():
        return [mx.cpu()]
    try:
        ids = [int(i) for i in gpus.split(',')]
    except ValueError:
        raise UserError("--gpus '%s' must be comma-separated GPU numbers, or '' for the CPU" % gpus)
    available = mx.context.num_gpus()
    missing = [i for i in ids if i >= available]
    if missing:
        raise UserError('--gpus %s: this machine has %d GPU(s); use --gpus "" for the CPU'
                        % (gpus, available))
    return [mx.gpu(i) for i in ids]


def create_kvstore(kv_store):
    if 'dist' in kv_store and 'DMLC_ROLE' not in os.environ:
        raise UserError('--kv-store %s needs the distributed launcher: run through '
                        'tools/launch.py (see README, "Many machines")' % kv_store)
    try:
        return mx.kvstore.create(kv_store)
    except mx.base.MXNetError:
        raise UserError("unknown --kv-store '%s': use local, device, dist_sync, "
                        "dist_device_sync or dist_async" % kv_store)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def setup_logging(log_file, rank=0):
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    fmt = logging.Formatter(('Node[%d] ' % rank if rank else '') + LOG_FORMAT)
    if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
               for h in root.handlers):
        console = logging.StreamHandler()
        console.setFormatter(fmt)
        root.addHandler(console)
    if log_file:
        folder = os.path.dirname(log_file)
        if folder:
            os.makedirs(folder, exist_ok=True)
        handler = logging.FileHandler(log_file)
        handler.setFormatter(fmt)
        root.addHandler(handler)


def _metrics(top_k, num_classes):
    return mx.metric.CompositeEvalMetric(evaluate.make_metrics(top_k, num_classes)
                                         + [mx.metric.CrossEntropy()])


def _initializer(name):
    if name == 'msra':
        return mx.init.MSRAPrelu()
    return mx.init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=2)


class Watchdog(object):
    """Ends the process when training makes no progress for ``timeout`` seconds.

    MXNet's parameter server waits forever for a worker or server that died; with a
    distributed kvstore every surviving worker would hang. ``touch()`` after each batch;
    a thread checks and, past the timeout, logs the reason and exits with status 3.
    """

    def __init__(self, timeout, what):
        import threading
        self.timeout, self.what = timeout, what
        self.last = time.time()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def touch(self, *unused):
        self.last = time.time()

    update = touch  # usable as the progress object of common.evaluate

    def _watch(self):
        while not self.stopped.wait(min(5.0, self.timeout / 4)):
            idle = time.time() - self.last
            if idle > self.timeout:
                logging.error('no progress for %.0f s in %s: a worker, server or scheduler '
                              'has probably died; stopping (see --dist-timeout)', idle, self.what)
                sys.stderr.write('error: distributed training stalled for %.0f s (a peer died?); '
                                 'resume with --resume once every node is up\n' % idle)
                sys.stderr.flush()
                os._exit(3)

    def stop(self):
        self.stopped.set()


class TrainingDiverged(UserError):
    pass


class _StopRequest(object):
    """SIGINT/SIGTERM set a flag; training stops after the current batch and saves."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self.old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.old[sig] = signal.signal(sig, self.handle)
        return self

    def handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        logging.info('Signal %d: stopping after this batch and saving a checkpoint '
                     '(send again to stop at once)', signum)
        self.requested = True

    def __exit__(self, *exc):
        for sig, handler in self.old.items():
            signal.signal(sig, handler)


def resolve_training_form(args, devices):
    """Sets args.fast_group_conv (None: 1 on the CPU, 0 on GPUs) and args.fuse_bn_relu,
    and on the CPU caps oneDNN at the training kernels (common.use_training_kernels)."""
    on_cpu = all(d.device_type == 'cpu' for d in devices)
    if args.fast_group_conv is None:
        args.fast_group_conv = int(on_cpu)
    elif args.fast_group_conv and not on_cpu:
        raise UserError('--fast-group-conv 1 is the CPU training form (BatchNorm fused with '
                        'ReLU is a CPU operator); use --fast-group-conv 0 with --gpus')
    args.fuse_bn_relu = False
    if on_cpu:
        isa = use_training_kernels()
        args.fuse_bn_relu = bool(args.fast_group_conv) and one_blocking_kernels()
        logging.info('CPU training: oneDNN kernels DNNL_MAX_CPU_ISA=%s, %s', isa,
                     'training form (--fast-group-conv 1)%s' % (
                         ', BatchNorm+ReLU fused' if args.fuse_bn_relu else '')
                     if args.fast_group_conv else 'released ops (--fast-group-conv 0)')


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


def fit(args, get_network, data_loader=None):
    """Train ``get_network(args)`` on ``data_loader(args, kv, epoch) -> (train, val)``;
    checkpoints store ``get_network(args, exact=True)``, the graph with the released ops."""
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
        data_mod._require_file(args.data_train, 'data-train')
        count = data_mod.check_labels(args.data_train, args.num_classes, 'data-train')
        if args.data_val:
            data_mod._require_file(args.data_val, 'data-val')
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

    devices = get_devices(args.gpus)
    resolve_training_form(args, devices)
    epoch_size = data_mod.batches_per_epoch(args, kv) if not args.benchmark else None
    if epoch_size is None:
        epoch_size = max(1, args.num_examples // args.batch_size) if args.num_examples else 10
        args.num_examples = epoch_size * args.batch_size

    begin_epoch, arg_params, aux_params, states = 0, None, None, None
    if args.resume:
        begin_epoch = last_complete_epoch(args.model_prefix)
        logging.info('--resume: %s', 'epoch %d' % begin_epoch if begin_epoch
                     else 'no checkpoint yet, starting from scratch')
    elif args.load_epoch is not None:
        begin_epoch = args.load_epoch
    if begin_epoch > 0:
        arg_params, aux_params = load_params(checkpoint_paths(args.model_prefix, begin_epoch)[1])
        states = checkpoint_paths(args.model_prefix, begin_epoch)[2]
        logging.info('Loaded checkpoint of epoch %d from %s', begin_epoch, args.model_prefix)
    if begin_epoch >= args.num_epochs:
        logging.info('already trained %d of %d epochs: nothing to do', begin_epoch, args.num_epochs)
        return None

    sym = get_network(args)
    saved_sym = get_network(args, exact=True)
    if arg_params is not None:
        from .checkpoint import check_params  # (checkpoint imports this module)
        try:
            check_params(saved_sym, arg_params, aux_params, data_mod.image_shape(args),
                         checkpoint_paths(args.model_prefix, begin_epoch)[1])
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
        check_states_file(states)
        mod.load_optimizer_states(states)
        logging.info('Loaded optimizer state from %s', states)
    elif begin_epoch > 0:
        logging.warning('no optimizer state for epoch %d: momentum restarts from zero',
                        begin_epoch)

    metric = _metrics(args.top_k, args.num_classes)
    speedometer = mx.callback.Speedometer(args.batch_size, args.disp_batches)
    save = args.model_prefix and kv.rank == 0
    last_saved = begin_epoch if begin_epoch else None

    def checkpoint(epoch):
        arg, aux = synced_params(mod)
        save_checkpoint(args.model_prefix, epoch, saved_sym, arg, aux,
                        None if distributed else mod.save_optimizer_states)

    with _StopRequest() as stop:
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
                probs = mod.get_outputs()[0].asnumpy()
                if watchdog:
                    watchdog.touch()
                if not np.isfinite(probs).all():
                    where = ('last good checkpoint: %s' % checkpoint_paths(
                        args.model_prefix, last_saved)[1]) if (save and last_saved) else \
                        'no checkpoint was saved'
                    raise TrainingDiverged(
                        'loss became NaN at epoch %d batch %d (%s); lower --lr and resume'
                        % (epoch, nbatch, where))
                speedometer(mx.model.BatchEndParam(epoch=epoch, nbatch=nbatch,
                                                   eval_metric=metric, locals=None))
                if stop.requested:
                    break
            for name, value in metric.get_global_name_value():
                logging.info('Epoch[%d] Train-%s=%f', epoch, name, value)
            logging.info('Epoch[%d] Time cost=%.3f', epoch, time.time() - tic)
            if stop.requested:
                if save:
                    # A partial epoch is saved under its own name, never as a finished one.
                    arg, aux = synced_params(mod)
                    save_checkpoint(args.model_prefix + '-interrupted', epoch, saved_sym, arg, aux)
                logging.info('Stopped by signal in epoch %d; resume from the last complete '
                             'checkpoint with --resume', epoch)
                return None
            done = epoch + 1
            if save and (done % args.save_period == 0 or done == args.num_epochs):
                checkpoint(done)
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
