"""Bad input, interruptions and untrusted files: every failure one clear line, nothing lost."""
import os
import pickle
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
    # A checkpoint of another network, for --load-epoch.
    proc = run_script(*train(d, d / 'other', '--network', 'mobilenetv2', '--num-epochs', '1'))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return d


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
]


@pytest.mark.parametrize('what,change,needles', BAD_TRAINING_INPUT, ids=[r[0] for r in BAD_TRAINING_INPUT])
def test_bad_training_input_is_one_clear_line(recs, tmp_path, what, change, needles):
    args = train(recs, tmp_path / 'm', '--num-epochs', '1', *change.get('flags', []),
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
    deadline = time.time() + 120
    for line in proc.stderr:
        if 'Epoch[1] Batch [' in line:
            break
        assert time.time() < deadline, 'timed out waiting for the second epoch'
    else:
        raise AssertionError('training ended before its second epoch logged a batch')
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
    _wait_for(tmp_path / 'i-0001.params', proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 0, err[-2000:]
    assert 'Stopped by signal' in err and 'Traceback' not in err
    assert list(tmp_path.glob('i-interrupted-*.params'))
    done = sorted(p.name for p in tmp_path.glob('i-0*.params'))
    assert done and all(mx.nd.load(str(tmp_path / n)) for n in done)
