"""Bad input, interruptions and untrusted files: every failure one clear line, nothing lost."""
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time

import mxnet as mx
import numpy as np
import pytest

from datasets import make_rec
from helpers import ROOT, assert_one_line_error, run_script


@pytest.fixture(scope='module')
def recs(tmp_path_factory):
    d = tmp_path_factory.mktemp('hard')
    make_rec(d / 'train', 256, 4, size=16, seed=0)
    make_rec(d / 'labels9', 32, 10, size=16, seed=0)
    make_rec(d / 'empty', 0, 4, labels=[])
    rec = (d / 'train.rec').read_bytes()
    (d / 'trunc.rec').write_bytes(rec[:len(rec) - 100])
    corrupt = bytearray(rec)
    offsets = [int(l.split('\t')[1]) for l in (d / 'train.idx').read_text().splitlines()]
    corrupt[offsets[10]:offsets[10] + 8] = b'\xde\xad\xbe\xef' * 2
    (d / 'corrupt.rec').write_bytes(bytes(corrupt))
    shutil.copy(d / 'train.rec', d / 'badidx.rec')
    (d / 'badidx.idx').write_text('\n'.join((d / 'train.idx').read_text().splitlines()[:100]) + '\n')
    # The same number of entries, one record twice and another never: 255 distinct images.
    shutil.copy(d / 'train.rec', d / 'dupidx.rec')
    lines = (d / 'train.idx').read_text().splitlines()
    lines[5] = '5\t' + lines[4].split('\t')[1]
    (d / 'dupidx.idx').write_text('\n'.join(lines) + '\n')
    from common.recordio import AtomicRecordWriter
    with AtomicRecordWriter(str(d / 'multilabel')) as w:
        for i in range(64):
            w.write(i, [float(i % 4), 1.0], _png())
    # A checkpoint of another network, for --load-epoch.
    proc = run_script(*train(d, d / 'other', '--network', 'mobilenetv2', '--num-epochs', '1'))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return d


def _png():
    import cv2
    return cv2.imencode('.png', np.full((16, 16, 3), 128, np.uint8))[1].tobytes()


def train(d, prefix, *extra, rec='train.rec'):
    return ['train_cifar.py', '--network', 'igcv3_0.5x', '--data-train', d / rec, '--data-val=',
            '--num-classes', '4', '--num-examples', '256', '--image-shape', '3,16,16',
            '--batch-size', '32', '--lr', '0.05', '--lr-step-epochs', '1', '--seed', '3',
            '--rgb-mean', '128,128,128', '--rgb-std', '64,64,64', '--gpus=',
            '--data-nthreads', '1', '--model-prefix', prefix] + list(extra)


# (what, extra flags or replaced .rec, words the error must name)
BAD_TRAINING_INPUT = [
    ('missing .rec', {'rec': 'nope.rec'}, ['nope.rec', 'no such file']),
    ('corrupt bytes in the .rec', {'rec': 'corrupt.rec'}, ['corrupt', 'repack']),
    ('truncated .rec', {'rec': 'trunc.rec'}, ['truncated']),
    ('.idx not matching its .rec', {'rec': 'badidx.rec'}, ['does not match', 'repack']),
    ('labels at or above --num-classes', {'rec': 'labels9.rec'}, ['label 4', '--num-classes 4']),
    ('empty dataset', {'rec': 'empty.rec'}, ['holds no records']),
    ('image shape the network cannot take', {'flags': ['--image-shape', '3,4,4']}, ['too small']),
    ('malformed image shape', {'flags': ['--image-shape', '3,x,16']}, ['--image-shape']),
    ('unknown network', {'flags': ['--network', 'vgg']}, ["unknown network 'vgg'"]),
    ('contradictory flags', {'flags': ['--resume', '--load-epoch', '1']}, ['not both']),
    ('batch larger than the dataset', {'flags': ['--batch-size', '300']}, ['--batch-size 300']),
    ('non-numeric flag value', {'flags': ['--lr', 'fast']}, ['--lr', "'fast'"]),
    ('missing checkpoint', {'flags': ['--load-epoch', '5']}, ['-0005.params', 'not found']),
    ('unknown kvstore', {'flags': ['--kv-store', 'nccl-ring']}, ['--kv-store']),
    ('.idx pointing twice at one record', {'rec': 'dupidx.rec'}, ['dupidx.idx does not match',
                                                                   'once at each record']),
    ('--data-train-idx of another file', {'flags': ['--data-train-idx', 'labels9.idx']},
     ['labels9.idx does not match', '32 entries for 256 records']),
    ('--data-train-idx missing', {'flags': ['--data-train-idx', 'nope.idx']},
     ['--data-train-idx', 'no such file']),
    ('records with several labels', {'rec': 'multilabel.rec'}, ['record 0 has 2 labels',
                                                                 'without --pack-label']),
    ('negative learning rate', {'flags': ['--lr', '-0.5']}, ['--lr must be a positive number']),
    ('NaN learning rate', {'flags': ['--lr', 'nan']}, ['--lr must be a positive number, got nan']),
    ('negative GPU number', {'flags': ['--gpus', '-1']}, ['GPU numbers start at 0']),
    ('multiplier too small for any channel', {'flags': ['--multiplier', '0.01']},
     ['multiplier 0.01 leaves layers without channels']),
    ('NaN multiplier', {'flags': ['--multiplier', 'nan']}, ['--multiplier must be a positive']),
    ('infinite multiplier', {'flags': ['--multiplier', 'inf']}, ['--multiplier must be a positive']),
    ('label smoothing above 1', {'flags': ['--label-smoothing', '1.5']},
     ['--label-smoothing must be in [0, 1)']),
    ('negative load epoch', {'flags': ['--load-epoch', '-1']}, ['--load-epoch must be']),
    ('checkpoint every 0 epochs', {'flags': ['--save-period', '0']}, ['--save-period must be']),
    ('no decoding threads', {'flags': ['--data-nthreads', '0']}, ['--data-nthreads must be']),
    ('momentum of 1', {'flags': ['--mom', '1']}, ['--mom must be in [0, 1)']),
    ('model folder under a file', {'flags': ['--model-prefix', 'train.rec/m']},
     ['train.rec']),
    ('log file under a file', {'flags': ['--log-file', 'train.rec/log']},
     ['cannot write --log-file', 'train.rec/log']),
    ('weights overflowing while the loss stays finite', {'flags': ['--lr', '1000']},
     ['became NaN or infinite', 'not saved', 'no checkpoint was saved', 'lower --lr']),
]


@pytest.mark.parametrize('what,change,needles', BAD_TRAINING_INPUT, ids=[r[0] for r in BAD_TRAINING_INPUT])
def test_bad_training_input_is_one_clear_line(recs, tmp_path, what, change, needles):
    flags = [str(recs / f) if f.endswith(('.idx', '.rec/m', '.rec/log')) else f
             for f in change.get('flags', [])]
    args = train(recs, tmp_path / 'm', '--num-epochs', '1', *flags,
                 rec=change.get('rec', 'train.rec'))
    proc = run_script(*args)
    assert_one_line_error(proc, *needles)
    assert not list(tmp_path.glob('m-*.params'))


def test_checkpoint_of_another_network_is_refused(recs, tmp_path):
    proc = run_script(*train(recs, recs / 'other', '--num-epochs', '2', '--load-epoch', '1'))
    assert_one_line_error(proc, '--network igcv3_0.5x cannot resume from it', 'does not match the graph')


def test_malicious_optimizer_state_is_refused_without_running(recs, tmp_path):
    prefix = tmp_path / 'm'
    assert run_script(*train(recs, prefix, '--num-epochs', '1')).returncode == 0
    marker = tmp_path / 'pwned'

    class RunsCode(object):
        def __reduce__(self):
            return (os.system, ('touch %s' % marker,))
    (tmp_path / 'm-0001.states').write_bytes(pickle.dumps({'w': RunsCode()}))
    proc = run_script(*train(recs, prefix, '--num-epochs', '2', '--resume'))
    assert_one_line_error(proc, 'refusing optimizer state', 'posix.system')
    assert not marker.exists()


def _params(path):
    return {k: v.asnumpy() for k, v in mx.nd.load(str(path)).items()}


def _start(args):
    return subprocess.Popen([sys.executable] + [str(a) for a in args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(path, proc, limit=120):
    deadline = time.time() + limit
    while not os.path.exists(path):
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert time.time() < deadline, 'timed out waiting for %s' % path
        time.sleep(0.05)


def test_sigkill_mid_epoch_and_mid_checkpoint_then_resume_matches(recs, tmp_path):
    straight = run_script(*train(recs, tmp_path / 'a', '--num-epochs', '2'))
    assert straight.returncode == 0, straight.stderr[-2000:]
    proc = _start(train(recs, tmp_path / 'k', '--num-epochs', '2', '--disp-batches', '2'))
    # Killed as soon as the second epoch logs its second batch (of 8): mid-epoch.
    try:
        deadline = time.time() + 120
        for line in proc.stderr:
            if 'Epoch[1] Batch [' in line:
                break
            assert time.time() < deadline, 'timed out waiting for the second epoch'
        else:
            raise AssertionError('training ended before its second epoch logged a batch')
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert not (tmp_path / 'k-0002.params').exists()
    # What a kill in the middle of writing checkpoint 2 leaves: a temporary file and the
    # optimizer state written before the parameters.
    (tmp_path / 'k-0002.params.tmp-4242').write_bytes(b'\x12' * 1000)
    shutil.copy(tmp_path / 'k-0001.states', tmp_path / 'k-0002.states')
    resumed = run_script(*train(recs, tmp_path / 'k', '--num-epochs', '2', '--resume'))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert '--resume: epoch 1' in resumed.stderr
    a, k = _params(tmp_path / 'a-0002.params'), _params(tmp_path / 'k-0002.params')
    for name in a:
        np.testing.assert_allclose(k[name], a[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_sigint_stops_after_saving(recs, tmp_path):
    proc = _start(train(recs, tmp_path / 'i', '--num-epochs', '50'))
    try:
        _wait_for(tmp_path / 'i-0001.params', proc)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGINT, err[-2000:]  # not all epochs were run
    assert err.splitlines()[-1].startswith('error: stopped by signal 2 in epoch')
    assert 'saved' in err.splitlines()[-1] and 'Traceback' not in err
    assert list(tmp_path.glob('i-interrupted-*.params'))
    done = sorted(p.name for p in tmp_path.glob('i-0*.params'))
    assert done and all(mx.nd.load(str(tmp_path / n)) for n in done)


def _resume_error(recs, prefix, *extra):
    proc = run_script(*train(recs, prefix, '--num-epochs', '2', '--resume', *extra))
    assert not os.path.exists(str(prefix) + '-0002.params')
    return proc


def test_optimizer_state_that_does_not_fit_is_refused_before_training(recs, tmp_path):
    """.states of another network, of another --mom, or of a wrong shape would leave
    parameters silently not updated: each is refused before the first batch."""
    from common.checkpoint import check_states_file
    prefix = tmp_path / 'm'
    assert run_script(*train(recs, prefix, '--num-epochs', '1', '--mom', '0')).returncode == 0
    proc = _resume_error(recs, prefix)  # --mom 0.9, the default
    assert_one_line_error(proc, 'saved without momentum (--mom 0) but --mom is 0.9', 'move')
    shutil.copy(recs / 'other-0001.states', tmp_path / 'm-0001.states')
    proc = _resume_error(recs, prefix, '--mom', '0')
    assert_one_line_error(proc, 'm-0001.states holds optimizer state for', 'another network')
    assert run_script(*train(recs, tmp_path / 'w', '--num-epochs', '1')).returncode == 0
    states = check_states_file(str(tmp_path / 'w-0001.states'))
    states['fc_weight'] = mx.nd.zeros((7, 7))
    (tmp_path / 'w-0001.states').write_bytes(pickle.dumps(states))
    proc = _resume_error(recs, tmp_path / 'w')
    assert_one_line_error(proc, 'the state of fc_weight has shape (7, 7)')

    class GarbageArray(object):  # an NDArray whose bytes are not an array
        def __reduce__(self):
            return (mx.nd.NDArray, (None,), {'handle': bytearray(b'garbage')})
    (tmp_path / 'w-0001.states').write_bytes(pickle.dumps({'fc_weight': GarbageArray()}))
    proc = _resume_error(recs, tmp_path / 'w')
    assert_one_line_error(proc, 'w-0001.states is not a readable optimizer state')


def test_an_update_that_raises_stops_training(recs, tmp_path):
    """An exception inside the optimizer update (MXNet calls it from C++, which would print
    it and go on) ends the run non-zero with one line, and nothing more is saved."""
    from common.checkpoint import check_states_file
    prefix = tmp_path / 'u'
    assert run_script(*train(recs, prefix, '--num-epochs', '1')).returncode == 0
    states = check_states_file(str(tmp_path / 'u-0001.states'))
    states['fc_weight'] = (states['fc_weight'], states['fc_weight'])  # right shape, not usable
    (tmp_path / 'u-0001.states').write_bytes(pickle.dumps(states))
    proc = _resume_error(recs, prefix)
    assert_one_line_error(proc, 'the optimizer update of fc_weight failed', 'training stopped')


@pytest.mark.skipif(os.geteuid() != 0, reason='mounting a small tmpfs needs root')
def test_full_disk_publishes_no_truncated_checkpoint(recs, tmp_path):
    """On a disk that fills during the second checkpoint: non-zero with one line naming
    the disk, the first checkpoint untouched and loadable, no second one."""
    disk = tmp_path / 'disk'
    disk.mkdir()
    # 16x16 igcv3_0.5x: 4.5 MB of parameters; with --mom 0 the state file is tiny, so the
    # parameters are what fills the disk (MXNet's nd.save reports no error then).
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=7m', 'tmpfs', str(disk)], check=True)
    try:
        proc = run_script(*train(recs, disk / 'f', '--num-epochs', '3', '--mom', '0'))
        assert_one_line_error(proc, 'could not write checkpoint', 'f-0002.params', 'free disk space')
        assert sorted(p.name for p in disk.iterdir()) == ['f-0001.params', 'f-0001.states',
                                                          'f-model.json', 'f-symbol.json',
                                                          'f.lock']
        assert len(mx.nd.load(str(disk / 'f-0001.params'))) > 0
    finally:
        subprocess.run(['umount', str(disk)], check=True)


def test_two_runs_cannot_share_a_prefix(recs, tmp_path):
    first = _start(train(recs, tmp_path / 'p', '--num-epochs', '50'))
    try:
        _wait_for(tmp_path / 'p-0001.params', first)
        proc = run_script(*train(recs, tmp_path / 'p', '--num-epochs', '2'))
        assert_one_line_error(proc, 'another run (pid %d) is training into --model-prefix'
                              % first.pid)
    finally:
        first.kill()
        first.wait()
        first.stderr.close()


def _lr_lines(stderr):
    return [float(v) for v in re.findall(r'Epoch\[\d+\] Learning-rate=([\d.e-]+)', stderr)]


def test_num_examples_below_the_records_limits_the_epoch_for_real(recs, tmp_path):
    """128 of 256 records an epoch with a cosine schedule: the rate follows the batches
    really run, is logged every epoch, and a resumed run ends where a straight one does."""
    common = ['--num-examples', '128', '--lr-scheduler', 'cosine', '--num-epochs', '4']
    straight = run_script(*train(recs, tmp_path / 'a', *common))
    assert straight.returncode == 0, straight.stderr[-2000:]
    assert 'each epoch trains on 128 of the 256 records' in straight.stderr
    # 4 batches of 32 an epoch: the rate at each epoch's first update.
    want = [0.05 * 0.5 * (1 + np.cos(np.pi * e / 4)) for e in range(4)]
    np.testing.assert_allclose(_lr_lines(straight.stderr), want, rtol=1e-5)
    assert len(re.findall(r'Epoch\[0\] Batch|Epoch\[0\] Train-accuracy', straight.stderr)) >= 1
    for name in ('symbol.json', '0002.params', '0002.states'):
        shutil.copy(tmp_path / ('a-' + name), tmp_path / ('b-' + name))
    resumed = run_script(*train(recs, tmp_path / 'b', *common, '--resume'))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    np.testing.assert_allclose(_lr_lines(resumed.stderr), want[2:], rtol=1e-5)
    a, b = _params(tmp_path / 'a-0004.params'), _params(tmp_path / 'b-0004.params')
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=1e-5, atol=1e-6, err_msg=name)


def _alive(pids):
    out = []
    for pid in pids:
        try:
            with open('/proc/%d/stat' % pid) as f:
                if f.read().rsplit(')', 1)[1].split()[0] != 'Z':
                    out.append(pid)
        except OSError:
            pass
    return out


# (what is done to the running job, what the launcher's last line must name, its status)
DISTRIBUTED_FAILURES = [
    ('scheduler', signal.SIGKILL, 'scheduler 0 of the job exited with an error', 1),
    ('worker', signal.SIGTERM, 'of the job exited with an error', 1),
    ('server', signal.SIGKILL, 'server', 1),
    ('job', signal.SIGINT, 'interrupted by signal 2', 130),
]


@pytest.mark.parametrize('role,sig,needle,status', DISTRIBUTED_FAILURES,
                         ids=['%s-%s' % (r[0], r[1].name) for r in DISTRIBUTED_FAILURES])
def test_a_dead_role_ends_the_whole_distributed_job(recs, tmp_path, role, sig, needle, status):
    """tools/launch.py --launcher local exits non-zero within seconds whenever a role
    dies or the job is interrupted (Ctrl-C reaches every process of the job), and no
    process of the job outlives it."""
    import threading
    from common import launcher as launch
    from test_training import SHARED_CORES, _role_pids
    cmd = [sys.executable, 'tools/launch.py', '-n', '2', '-s', '1', '--launcher', 'local',
           sys.executable] + [str(a) for a in train(
               recs, tmp_path / 'd', '--kv-store', 'dist_sync', '--num-epochs', '50',
               '--batch-size', '16', '--disp-batches', '1', '--dist-timeout', '300')]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            env=dict(os.environ, **SHARED_CORES))
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.time() + 120
        while not any('Epoch[0] Batch' in l for l in lines):
            assert proc.poll() is None, ''.join(lines)[-2000:]
            assert time.time() < deadline, 'the job did not start'
            time.sleep(0.2)
        job = launch.descendants(proc.pid)
        tic = time.time()
        if role == 'job':
            os.killpg(proc.pid, sig)
        else:
            os.kill(_role_pids(proc.pid, role)[0], sig)
        proc.wait(timeout=60)
        reader.join(timeout=10)
        err = ''.join(lines)
        assert time.time() - tic < 30
        assert proc.returncode == status, err[-2000:]
        assert 'Traceback' not in err, err[-3000:]
        said = [l for l in err.splitlines() if 'stopping every process of the job' in l]
        assert len(said) == 1 and said[0].startswith('error: ') and needle in said[0], err[-2000:]
        time.sleep(0.5)
        assert _alive(job) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=10)
        proc.stderr.close()


def test_sigterm_stops_a_single_training_after_saving(recs, tmp_path):
    """SIGTERM (a scheduler's stop) is handled as Ctrl-C is: the batch ends, a checkpoint
    of the partial epoch is saved, exit 128 + 15 with one line."""
    proc = _start(train(recs, tmp_path / 't', '--num-epochs', '50'))
    try:
        _wait_for(tmp_path / 't-0001.params', proc)
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert err.splitlines()[-1].startswith('error: stopped by signal 15 in epoch'), err[-500:]
    assert 'Traceback' not in err and list(tmp_path.glob('t-interrupted-*.params'))


def test_a_second_ctrl_c_stops_at_once(recs, tmp_path):
    """The first Ctrl-C asks for the end of the batch and a save; a second one, once the
    first is taken (two signals before Python runs its handler count as one), ends the run
    at once, wherever it is (in the batch or in the save it asked for; a KeyboardInterrupt
    there printed a traceback): exit 130, one line, every published checkpoint whole."""
    proc = _start(train(recs, tmp_path / 'c', '--num-epochs', '50', '--batch-size', '128',
                        '--disp-batches', '1'))
    lines = []
    try:
        _wait_for(tmp_path / 'c-0001.params', proc)
        proc.send_signal(signal.SIGINT)
        for line in proc.stderr:  # the first signal taken: the batch of 128 goes on
            lines.append(line)
            if 'Signal 2: stopping after this batch' in line:
                proc.send_signal(signal.SIGINT)
                break
        lines.extend(proc.stderr)
        proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.stderr.close()
    err = ''.join(lines)
    assert proc.returncode == 130, err[-2000:]
    # The first signal's handler runs when the batch's blocking call returns, so the run
    # may have saved and ended before the second arrives: either way one line, no traceback.
    assert 'Traceback' not in err and err.splitlines()[-1].startswith((
        'error: stopped at once by a second signal 2; resume',
        'error: stopped by signal 2 in epoch 1 (saved')), err[-500:]
    for path in tmp_path.glob('c-*.params'):
        assert mx.nd.load(str(path)), path


STOP_TWICE = r'''
import sys, time
sys.path.insert(0, sys.argv[1])
from common.supervision import StopRequest
with StopRequest() as stop:
    print('ready', flush=True)
    while not stop.requested:
        time.sleep(0.01)
    print('first taken', flush=True)
    time.sleep(30)  # "the rest of the batch and the save": a second signal ends it at once
print('not at once', flush=True)
'''


def test_a_second_signal_ends_the_process_at_once():
    """StopRequest itself: the first SIGINT is a request; the second, once the first is
    taken, exits at once with 130 and one line, however long the work left would take."""
    proc = subprocess.Popen([sys.executable, '-c', STOP_TWICE, ROOT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == 'ready\n'
        proc.send_signal(signal.SIGINT)
        assert proc.stdout.readline() == 'first taken\n'
        tic = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130 and time.time() - tic < 10 and 'not at once' not in out
    assert err.strip().splitlines()[-1].startswith('error: stopped at once by a second signal 2')
    assert 'Traceback' not in err


def test_an_image_that_does_not_decode_is_one_line(recs, tmp_path):
    """A record whose header is sound but whose image bytes are not an image, past the
    first batch of --data-val."""
    from common.recordio import AtomicRecordWriter
    with AtomicRecordWriter(str(tmp_path / 'bad')) as writer:
        for i in range(64):
            writer.write(i, float(i % 4), b'this is not an image' * 10 if i == 40 else _png())
    for in_memory in ('auto', '0'):  # decoded once before training, or by ImageRecordIter
        proc = run_script(*train(recs, tmp_path / ('d' + in_memory), '--num-epochs', '1',
                                 '--data-val', tmp_path / 'bad.rec',
                                 '--data-in-memory', in_memory))
        assert_one_line_error(proc, *{'auto': ['bad.rec', 'record 40 does not decode'],
                                      '0': ['reading --data-val failed']}[in_memory],
                              'tools/im2rec.py --verify')


def test_ctrl_c_during_validation_stops_within_a_batch(recs, tmp_path):
    """Ctrl-C in a validation of 3,000 images waited for all of them and for one more
    training batch; now the validation stops at its next batch, the epoch's checkpoint is
    kept, no half-validation figure is logged."""
    make_rec(tmp_path / 'val', 3000, 4, size=16, seed=4)
    proc = subprocess.Popen([sys.executable] + [str(a) for a in train(
        recs, tmp_path / 'v', '--num-epochs', '3', '--data-val', tmp_path / 'val.rec',
        '--data-in-memory', '0')], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if 'Saved checkpoint' in line and 'v-0001.params' in line:
                break  # validation of epoch 0 starts now
        proc.send_signal(signal.SIGINT)
        tic = time.time()
        lines.extend(proc.stderr)
        proc.wait(timeout=60)
        seconds = time.time() - tic
    finally:
        proc.kill()
        proc.stderr.close()
    err = ''.join(lines)
    assert proc.returncode == 130, err[-2000:]
    assert err.splitlines()[-1].startswith('error: stopped by signal 2 in epoch 0, during its '
                                           'validation (its checkpoint'), err[-500:]
    assert 'Epoch[0] Validation-accuracy' not in err and 'Epoch[1] Batch' not in err
    assert 'Epoch[0] Validation cut short by signal 2' in err
    assert mx.nd.load(str(tmp_path / 'v-0001.params')) and seconds < 30, seconds
