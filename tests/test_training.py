"""Training: schedule, recipes, a real short training, resume, checkpoints, many workers."""
import os
import re
import subprocess
import sys
import time

import mxnet as mx
import numpy as np
import pytest

from common import checkpoint, schedule, training_flags
from common.errors import UserError
from symbol import Form
from datasets import make_rec
from helpers import ROOT, assert_one_line_error, run_script

import train_cifar
import train_imagenet


def test_imagenet_recipe_lr_at_epoch_100():
    args = train_imagenet.parse_args([])
    steps = training_flags.parse_step_epochs(args.lr_step_epochs, args.num_epochs)
    lr = schedule.learning_rate(100, args.lr, args.num_epochs, args.lr_scheduler, args.lr_factor, steps)
    assert lr == pytest.approx(0.045 * 0.98 ** 100, rel=1e-12)
    assert schedule.learning_rate(0.5, args.lr, args.num_epochs, 'multifactor', args.lr_factor,
                             steps) == pytest.approx(0.045)


def test_cifar_recipe_steps():
    args = train_cifar.parse_args([])
    steps = training_flags.parse_step_epochs(args.lr_step_epochs, args.num_epochs)
    at = lambda e: schedule.learning_rate(e, args.lr, args.num_epochs, 'multifactor', 0.1, steps)
    assert [at(199.9), at(200), at(300), at(350), at(399)] == pytest.approx(
        [0.1, 0.01, 0.001, 0.0001, 0.0001])


def test_cosine_and_warmup():
    lr = lambda e: schedule.learning_rate(e, 0.4, 10, 'cosine', warmup_epochs=2, warmup_begin_lr=0.0)
    assert lr(0) == 0 and lr(1) == pytest.approx(0.2) and lr(2) == pytest.approx(0.4)
    assert lr(6) == pytest.approx(0.2) and lr(10) == pytest.approx(0)


def test_scheduler_counts_updates_in_epochs():
    sched = schedule.EpochLRScheduler(10, base_lr=1.0, num_epochs=5, schedule='multifactor',
                                 factor=0.5, steps=[1, 3])
    assert [sched(0), sched(9), sched(10), sched(29), sched(30)] == [1, 1, 0.5, 0.5, 0.25]


def test_recipe_defaults():
    args = train_imagenet.parse_args([])
    assert (args.network, args.num_epochs, args.lr, args.lr_factor, args.wd, args.batch_size,
            args.mom, args.top_k) == ('igcv3', 480, 0.045, 0.98, 4e-5, 96, 0.9, 5)
    assert (args.random_crop, args.random_mirror, args.max_random_h, args.max_random_s,
            args.max_random_l) == (1, 1, 36, 50, 50)
    assert (args.min_random_scale, args.max_random_scale, args.rgb_std) == (0.533, 1.0, '1,1,1')
    assert args.model_prefix == 'models/igcv3' and args.val_resize == 256
    c100 = train_cifar.parse_args(['--dataset', 'cifar100'])
    assert (c100.num_classes, c100.rgb_mean, c100.batch_size, c100.pad_size) == (
        100, '129.304,124.070,112.434', 64, 4)
    assert c100.model_prefix == 'models/cifar100-igcv3'


def test_aug_level_is_a_default_that_flags_override():
    args = train_imagenet.parse_args(['--aug-level', '1', '--random-mirror', '0'])
    assert (args.random_crop, args.random_mirror, args.max_random_h) == (1, 0, 0)
    args = train_imagenet.parse_args(['--aug-level', '3', '--max-random-h', '10'])
    assert (args.max_random_h, args.max_random_s, args.max_random_rotate_angle) == (10, 50, 10)


@pytest.fixture(scope='module')
def small_recs(tmp_path_factory):
    folder = tmp_path_factory.mktemp('recs')
    make_rec(folder / 'train', 256, 4, size=16, seed=0)
    make_rec(folder / 'train512', 512, 4, size=16, seed=2)
    make_rec(folder / 'val', 64, 4, size=16, seed=1)
    return folder


def train_args(recs, prefix, *extra):
    return ['train_cifar.py', '--network', 'igcv3_0.5x', '--data-train', recs / 'train.rec',
            '--num-classes', '4', '--num-examples', '256', '--image-shape', '3,16,16',
            '--batch-size', '32', '--lr', '0.05', '--lr-step-epochs', '1', '--seed', '3',
            '--rgb-mean', '128,128,128', '--rgb-std', '64,64,64', '--pad-size', '2',
            '--gpus=', '--data-nthreads', '1', '--data-val=', '--model-prefix', prefix] + list(extra)


def test_short_training_learns_and_logs_like_mxnet(small_recs, tmp_path):
    log = tmp_path / 'logs' / 'train.log'
    args = train_args(small_recs, tmp_path / 'm', '--num-epochs', '3', '--lr-step-epochs=',
                      '--data-val', small_recs / 'val.rec', '--disp-batches', '4',
                      '--log-file', log)
    args[args.index('--num-examples') + 1] = '512'
    args[args.index('--data-train') + 1] = small_recs / 'train512.rec'
    proc = run_script(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = log.read_text()
    assert re.search(r'Epoch\[0\] Batch \[\d+-\d+\]\tSpeed: [\d.]+ samples/sec', text)
    assert re.search(r'Epoch\[2\] Time cost=[\d.]+', text)
    assert 'mxnet 1.9.1' in text and "'network': 'igcv3_0.5x'" in text
    val = [float(v) for v in re.findall(r'Epoch\[\d+\] Validation-accuracy=([\d.]+)', text)]
    assert len(val) == 3 and val[-1] > 0.6, val  # chance is 0.25
    for name in ('m-symbol.json', 'm-0001.params', 'm-0001.states', 'm-0003.params'):
        assert (tmp_path / name).exists(), name
    png = tmp_path / 'curves.png'
    proc = run_script('tools/plot_log.py', log, '-o', png)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def _params(path):
    return {k: v.asnumpy() for k, v in mx.nd.load(str(path)).items()}


def test_resume_reaches_the_same_weights(small_recs, tmp_path):
    """Also: validating each epoch (here on the first 40 of 64 images, as reproduce.py's
    --val-subset does) leaves the weights as a run without validation has them."""
    straight = run_script(*train_args(small_recs, tmp_path / 'a', '--num-epochs', '2',
                                      '--data-val', small_recs / 'val.rec',
                                      '--num-val-examples', '40'))
    assert straight.returncode == 0, straight.stderr[-2000:]
    assert len(re.findall(r'Epoch\[\d\] Validated 40 images in', straight.stderr)) == 2
    assert 'each validation scores the first 40 of the 64 records' in straight.stderr
    first = run_script(*train_args(small_recs, tmp_path / 'b', '--num-epochs', '1'))
    assert first.returncode == 0, first.stderr[-2000:]
    resumed = run_script(*train_args(small_recs, tmp_path / 'b', '--num-epochs', '2', '--resume'))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert 'Loaded optimizer state' in resumed.stderr
    a, b = _params(tmp_path / 'a-0002.params'), _params(tmp_path / 'b-0002.params')
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-5, atol=1e-6, err_msg=k)
    # The first epoch's step changed the rate: a resume that lost it would differ.
    assert not np.allclose(_params(tmp_path / 'a-0001.params')['arg:fc_weight'], a['arg:fc_weight'])


def test_crash_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    prefix = str(tmp_path / 'ck')
    sym = mx.sym.FullyConnected(mx.sym.Variable('data'), num_hidden=2, name='fc')
    good = {'fc_weight': mx.nd.ones((2, 3)), 'fc_bias': mx.nd.zeros(2)}
    checkpoint.save_checkpoint(prefix, 1, sym, good, {})

    real_save = mx.nd.save

    def dying_save(path, data):
        with open(path, 'wb') as f:
            f.write(b'half a file')
        raise OSError('disk full')
    monkeypatch.setattr(mx.nd, 'save', dying_save)
    with pytest.raises(UserError, match='could not write checkpoint .*ck-0002.params .*disk full'):
        checkpoint.save_checkpoint(prefix, 2, sym, good, {})
    monkeypatch.setattr(mx.nd, 'save', real_save)
    assert not os.path.exists(prefix + '-0002.params')
    assert sorted(os.listdir(tmp_path)) == ['ck-0001.params', 'ck-symbol.json']
    assert checkpoint.last_complete_epoch(prefix) == 1
    arg, _ = checkpoint.load_params(prefix + '-0001.params')
    np.testing.assert_array_equal(arg['fc_weight'].asnumpy(), np.ones((2, 3)))
    # A truncated file under a finished name (written by another tool) is skipped too.
    with open(prefix + '-0003.params', 'wb') as f:
        f.write(b'\x00' * 10)
    assert checkpoint.last_complete_epoch(prefix) == 1


def test_nan_loss_stops_with_a_clear_message(small_recs, tmp_path):
    proc = run_script(*train_args(small_recs, tmp_path / 'n', '--num-epochs', '1', '--lr', '1e30'))
    assert_one_line_error(proc, 'loss became NaN', 'no checkpoint was saved', 'lower --lr')
    assert not (tmp_path / 'n-0001.params').exists()


def test_a_run_that_diverges_after_a_checkpoint_names_it(small_recs, tmp_path):
    """The NaN stop names the last checkpoint saved, the one to resume from."""
    first = run_script(*train_args(small_recs, tmp_path / 'n', '--num-epochs', '1'))
    assert first.returncode == 0, first.stderr[-2000:]
    proc = run_script(*train_args(small_recs, tmp_path / 'n', '--num-epochs', '2', '--resume',
                                  '--lr', '1e30'))
    good = str(tmp_path / 'n-0001.params')
    assert_one_line_error(proc, 'last good checkpoint: %s' % good, 'lower --lr')
    assert not (tmp_path / 'n-0002.params').exists()
    assert np.isfinite(_params(good)['arg:fc_weight']).all()


def test_benchmark_and_test_io_modes(small_recs, tmp_path):
    proc = run_script('train_cifar.py', '--network', 'igcv3_0.5x', '--benchmark', '1',
                      '--num-classes', '4', '--num-examples', '64', '--image-shape', '3,16,16',
                      '--batch-size', '16', '--num-epochs', '1',
                      '--model-prefix', tmp_path / 'bench', '--disp-batches', '2',
                      '--optimizer', 'nag', '--label-smoothing', '0.1', '--lr-scheduler', 'cosine',
                      '--warmup-epochs', '0.5')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'Epoch[0] Time cost=' in proc.stderr
    assert '--gpus not given: using cpu(0)' in proc.stderr
    symbol_json = (tmp_path / 'bench-symbol.json').read_text()
    assert '"smooth_alpha": "0.1"' in symbol_json
    proc = run_script(*train_args(small_recs, tmp_path / 'io', '--test-io', '1',
                                  '--disp-batches', '2'))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r'Read 256 images at [\d.]+ samples/sec', proc.stderr)


@pytest.mark.parametrize('change,needles', [
    (['--data-train', '/nonexistent/train.rec'], ['/nonexistent/train.rec', 'no such file']),
    (['--network', 'resnet'], ["unknown network 'resnet'"]),
    (['--image-shape', '3,16'], ['--image-shape']),
    (['--num-classes', '3'], ['label 3', '--num-classes 3']),
    (['--batch-size', '512'], ['--batch-size 512']),
    (['--kv-store', 'dist_sync'], ['tools/launch.py']),
    (['--gpus', '0'], ['--gpus "" for the CPU']),
])
def test_user_errors_are_one_line(small_recs, tmp_path, change, needles):
    args = train_args(small_recs, tmp_path / 'e', '--num-epochs', '1')
    flag = change[0]
    if flag in args:
        args[args.index(flag) + 1] = change[1]
    else:
        args += change
    assert_one_line_error(run_script(*args), *needles)


def test_cifar_layout_is_the_default_for_cifar():
    args = train_cifar.parse_args(['--network', 'mobilenetv2'])
    sym = fit_network(args)
    internals = sym.get_internals()
    shapes = dict(zip(internals.list_outputs(), internals.infer_shape(data=(1, 3, 32, 32))[1]))
    assert shapes['last-1x1-conv-relu6_output'][2:] == (4, 4)


# OMP_NUM_THREADS unset for tools/launch.py, as in a user's shell (the suite's process has
# it set): the launcher then shares the cores among the local workers.
SHARED_CORES = {'OMP_NUM_THREADS': ''}


def fit_network(args):
    from common import training_flags
    return training_flags.get_network(args, Form.RELEASED)


def test_dist_sync_on_localhost_keeps_workers_identical(small_recs, tmp_path):
    out = tmp_path / 'dist'
    out.mkdir()
    cmd = ['tools/launch.py', '-n', '2', '-s', '1', '--launcher', 'local', sys.executable,
           os.path.join(ROOT, 'tests', 'dist_worker.py'), '--out', out, '--kv-store', 'dist_sync',
           '--network', 'igcv3_0.5x', '--data-train', small_recs / 'train512.rec',
           '--num-classes', '4', '--num-examples', '512', '--image-shape', '3,16,16',
           '--batch-size', '16', '--num-epochs', '2', '--lr', '0.05', '--seed', '1',
           '--rgb-mean', '128,128,128', '--rgb-std', '64,64,64', '--data-val=',
           '--data-nthreads', '1', '--disp-batches', '2', '--model-prefix', tmp_path / 'd',
           '--gpus', '']  # as the README writes it (--gpus ""): the launcher keeps the ''
    # (unset, as in a user's shell: the launcher shares the cores among the workers)
    proc = run_script(*cmd, timeout=300, env=SHARED_CORES)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    from common import launcher as launch
    shared = 'OMP_NUM_THREADS=%d' % launch.local_threads('worker', 2)
    assert log.count(shared) == 2, re.findall(r'OMP_NUM_THREADS=\S*', log)
    # Both workers ran both epochs, each on its own part, and learned: the servers
    # applied the optimizer (it reaches them pickled, scheduler included).
    final = [float(v) for v in re.findall(r'Epoch\[1\] Train-accuracy=([\d.]+)', log)]
    assert len(final) == 2 and min(final) > 0.6, final
    r0, r1 = _params(out / 'rank-0.params'), _params(out / 'rank-1.params')
    assert set(r0) == set(r1) and len(r0) > 0
    for k in r0:
        np.testing.assert_array_equal(r0[k], r1[k], err_msg=k)
    assert (tmp_path / 'd-0002.params').exists()


def test_validation_is_a_center_crop_of_the_256_short_side(tmp_path):
    """The upstream protocol on a 480-short-side record: resize to 256, center crop 224."""
    import cv2
    from common.recordio import AtomicRecordWriter
    rng = np.random.RandomState(0)
    img = cv2.GaussianBlur(rng.randint(0, 256, (480, 600, 3)).astype(np.uint8), (0, 0), 3)
    with AtomicRecordWriter(str(tmp_path / 'val')) as w:
        w.write(0, 0.0, cv2.imencode('.png', img)[1].tobytes())
    args = train_imagenet.parse_args(['--data-train', str(tmp_path / 'val.rec'),
                                      '--data-val', str(tmp_path / 'val.rec'),
                                      '--batch-size', '1', '--rgb-mean', '0,0,0'])
    from common import data
    _, val = data.get_rec_iter(args)
    got = next(iter(val)).data[0].asnumpy()[0].transpose(1, 2, 0)
    small = cv2.resize(img, (320, 256), interpolation=cv2.INTER_LINEAR)
    want = cv2.cvtColor(small[16:240, 48:272], cv2.COLOR_BGR2RGB).astype(np.float32)
    assert got.shape == (224, 224, 3)
    assert np.abs(got - want).mean() < 2.0



def test_dead_worker_stops_the_whole_job(small_recs, tmp_path):
    cmd = ['tools/launch.py', '-n', '2', '-s', '1', '--launcher', 'local', sys.executable,
           os.path.join(ROOT, 'tests', 'dist_worker.py'), '--out', tmp_path, '--kv-store',
           'dist_sync', '--network', 'igcv3_0.5x', '--data-train', small_recs / 'train.rec',
           '--data-val=', '--num-classes', '4', '--num-examples', '256', '--image-shape', '3,16,16',
           '--batch-size', '16', '--num-epochs', '2', '--gpus=', '--data-nthreads', '1',
           '--model-prefix', tmp_path / 'd', '--rank1-dies-at-batch', '2', '--dist-timeout', '20']
    tic = time.time()
    proc = run_script(*cmd, timeout=240, env=SHARED_CORES)
    assert proc.returncode != 0
    # (the launcher numbers its tasks itself; they need not match the kvstore ranks)
    assert re.search(r'worker \d of the job exited with an error; stopping every process',
                     proc.stderr), proc.stderr[-2000:]
    assert time.time() - tic < 120
    assert not list(tmp_path.glob('rank-*.params'))


def test_stall_watchdog_ends_the_process():
    code = ('import sys, time; sys.path.insert(0, %r); import common.supervision as s; '
            'w = s.Watchdog(2, "--kv-store dist_sync"); time.sleep(30)' % ROOT)
    tic = time.time()
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert 'error: distributed training stalled' in proc.stderr
    assert time.time() - tic < 30  # (a 2 s watchdog; about 3 s here)


def _role_pids(root_pid, role):
    """PIDs below ``root_pid`` started with DMLC_ROLE=role."""
    from common import launcher as launch
    found = []
    for pid in launch.descendants(root_pid):
        try:
            with open('/proc/%d/environ' % pid, 'rb') as f:
                if b'DMLC_ROLE=' + role.encode() + b'\x00' in f.read():
                    found.append(pid)
        except OSError:
            pass
    return found


def test_dead_server_stops_the_workers_in_bounded_time(small_recs, tmp_path):
    import signal
    cmd = [sys.executable, 'tools/launch.py', '-n', '2', '-s', '1', '--launcher', 'local',
           sys.executable, os.path.join(ROOT, 'tests', 'dist_worker.py'), '--out', str(tmp_path),
           '--kv-store', 'dist_sync', '--network', 'igcv3_0.5x',
           '--data-train', str(small_recs / 'train512.rec'), '--data-val=', '--num-classes', '4',
           '--num-examples', '512', '--image-shape', '3,16,16', '--batch-size', '16',
           '--num-epochs', '20', '--gpus=', '--data-nthreads', '1', '--disp-batches', '1',
           '--model-prefix', str(tmp_path / 'd'), '--dist-timeout', '10']
    import threading
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, **SHARED_CORES))
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.time() + 180
        while time.time() < deadline and not any('Epoch[0] Batch' in l for l in lines):
            assert proc.poll() is None, ''.join(lines)[-2000:]
            time.sleep(0.2)
        servers = _role_pids(proc.pid, 'server')
        assert servers and proc.poll() is None
        tic = time.time()
        for pid in servers:
            os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=120)
        reader.join(timeout=10)
        err = ''.join(lines)
        assert time.time() - tic < 60
        assert proc.returncode != 0
        assert 'distributed training stalled' in err or 'exited with an error' in err, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
        proc.stderr.close()


@pytest.mark.parametrize('argv,wanted', [
    (['--dataset', 'fashion-mnist'], ['--num-epochs NUM_EPOCHS epochs to train (default: 30)',
                                      '(default: 72.94,72.94,72.94)', '(default: 1,28,28)',
                                      'number of classes (default: 10)', '(default: cosine)']),
    ([], ['epochs to train (default: 400)', '(default: 125.307,122.950,113.865)',
          '(default: 3,32,32)', 'number of classes (default: 10)']),
    (['--dataset=cifar100'], ['number of classes (default: 100)', '(default: 129.304,']),
])
def test_help_shows_the_defaults_the_run_uses(capsys, argv, wanted):
    """--help after the dataset's recipe: not ImageNet's mean, 400 epochs for
    Fashion-MNIST, or no class count."""
    with pytest.raises(SystemExit) as stop:
        train_cifar.parse_args(argv + ['--help'])
    assert stop.value.code == 0
    shown = ' '.join(capsys.readouterr().out.split())
    for text in wanted:
        assert text in shown, text
    assert '123.68' not in shown


def test_fashion_mnist_recipe():
    args = train_cifar.parse_args(['--dataset', 'fashion-mnist'])
    assert (args.image_shape, args.num_classes, args.rgb_mean, args.rgb_std) == \
        ('1,28,28', 10, '72.94,72.94,72.94', '90.02,90.02,90.02')
    assert (args.random_crop, args.random_mirror, args.pad_size, args.fill_value) == (1, 1, 4, 0)
    assert (args.lr_scheduler, args.warmup_epochs, args.num_epochs) == ('cosine', 1, 30)
    assert args.data_train == 'data/fashion-mnist/train.rec' and args.dataset_name == 'fashion-mnist'
    sym = fit_network(args)
    internals = sym.get_internals()
    shapes = dict(zip(internals.list_outputs(), internals.infer_shape(data=(1, 1, 28, 28))[1]))
    assert shapes['last-1x1-conv-relu6_output'][1:] == (1280, 4, 4)
    # The budget scales the schedule: half the rate at the middle of training.
    steps = training_flags.parse_step_epochs(args.lr_step_epochs, args.num_epochs)
    lr = schedule.learning_rate(15.5, args.lr, args.num_epochs, 'cosine', steps=steps,
                                warmup_epochs=1)
    assert lr == pytest.approx(0.05)


def test_local_workers_share_the_cores():
    """Each of N local workers gets cores/N OpenMP threads (at least 1): two workers of 2
    threads each on 2 cores ran at 8 images/s each, of 1 thread each at 46."""
    from common import launcher as launch
    assert launch.local_threads('worker', '2', cores=2) == 1
    assert launch.local_threads('worker', 2, cores=8) == 4
    assert launch.local_threads('worker', 3, cores=2) == 1
    assert launch.local_threads('worker', None, cores=4) == 4
    assert launch.local_threads('server', 2, cores=8) == 1
    assert launch.local_threads('scheduler', 1, cores=8) == 1


# The wheel's tracker: Thread.setDaemon, and the socket it leaves open when it cannot bind.
@pytest.mark.filterwarnings('ignore:setDaemon', 'ignore::ResourceWarning',
                            'ignore::pytest.PytestUnraisableExceptionWarning')
def test_the_scheduler_port_is_chosen_by_the_os(monkeypatch):
    """tools/launch.py --launcher local: the scheduler's port comes from the OS, not the
    wheel's 'first free from 9091' (which two jobs started together both take); a port
    that cannot be bound is chosen again."""
    import socket
    from common import launcher as launch
    from dmlc_tracker import tracker
    started = []

    class Scheduler(object):  # what the tracker starts, recorded instead of run
        @staticmethod
        def check_call(command, env=None, shell=True, executable=None):
            started.append(int(env['DMLC_PS_ROOT_PORT']))
    monkeypatch.setattr(tracker, 'subprocess', Scheduler)
    monkeypatch.setattr(tracker.PSTracker, '__init__', tracker.PSTracker.__init__)
    launch.use_os_chosen_ports(tracker)
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind(('', 0))
    taken = held.getsockname()[1]
    choices = iter([taken, launch.free_port()])
    monkeypatch.setattr(launch, 'free_port', lambda: next(choices))
    try:
        job = tracker.PSTracker('127.0.0.1', 'scheduler')
        job.thread.join(10)
    finally:
        held.close()
    assert started == [job.port] and job.port != taken and not 9091 <= job.port < 9999
