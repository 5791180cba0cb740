"""tools/cifar_to_rec.py on archives in the official format, and on malicious ones."""
import io
import os
import pickle
import tarfile

import mxnet as mx
import numpy as np
import pytest

from helpers import assert_one_line_error, run_script


def _batch_bytes(data, labels, label_key):
    # The official batches are Python 2 pickles of dicts with bytes keys.
    return pickle.dumps({b'batch_label': b'x', label_key: labels, b'data': data}, protocol=2)


def _add(tar, name, payload):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def make_cifar10(path, per_batch=6, seed=0, meta=True):
    rng = np.random.RandomState(seed)
    parts = {}
    with tarfile.open(path, 'w:gz') as tar:
        for name in ['data_batch_%d' % i for i in range(1, 6)] + ['test_batch']:
            data = rng.randint(0, 256, (per_batch, 3072)).astype(np.uint8)
            labels = [int(v) for v in rng.randint(0, 10, per_batch)]
            parts[name] = (data, labels)
            _add(tar, 'cifar-10-batches-py/' + name, _batch_bytes(data, labels, b'labels'))
        if meta:
            _add(tar, 'cifar-10-batches-py/batches.meta', pickle.dumps(
                {b'label_names': [n.encode() for n in CIFAR10_NAMES], b'num_vis': 3072}, 2))
    return parts


CIFAR10_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse',
                 'ship', 'truck']


def read_rec(prefix, count):
    it = mx.io.ImageRecordIter(path_imgrec=prefix + '.rec', path_imgidx=prefix + '.idx',
                               data_shape=(3, 32, 32), batch_size=count, shuffle=False)
    batch = next(iter(it))
    return batch.data[0].asnumpy(), batch.label[0].asnumpy()


def test_cifar10_archive_converts_losslessly(tmp_path):
    parts = make_cifar10(tmp_path / 'cifar-10-python.tar.gz')
    proc = run_script('tools/cifar_to_rec.py', tmp_path / 'cifar-10-python.tar.gz', tmp_path / 'out')
    assert proc.returncode == 0, proc.stderr
    images, labels = read_rec(str(tmp_path / 'out' / 'train'), 30)
    want = np.concatenate([parts['data_batch_%d' % i][0] for i in range(1, 6)])
    want_labels = sum((parts['data_batch_%d' % i][1] for i in range(1, 6)), [])
    np.testing.assert_array_equal(labels, want_labels)
    np.testing.assert_array_equal(images, want.reshape(-1, 3, 32, 32).astype(np.float32))
    val_images, val_labels = read_rec(str(tmp_path / 'out' / 'val'), 6)
    np.testing.assert_array_equal(val_labels, parts['test_batch'][1])
    assert sorted(os.listdir(tmp_path / 'out')) == ['classes.txt', 'train.idx', 'train.rec', 'val.idx', 'val.rec']


def test_cifar100_uses_fine_labels(tmp_path):
    rng = np.random.RandomState(1)
    archive = tmp_path / 'cifar-100-python.tar.gz'
    fine = {}
    with tarfile.open(archive, 'w:gz') as tar:
        for name in ('train', 'test'):
            data = rng.randint(0, 256, (5, 3072)).astype(np.uint8)
            fine[name] = [int(v) for v in rng.randint(0, 100, 5)]
            payload = pickle.dumps({b'data': data, b'fine_labels': fine[name],
                                    b'coarse_labels': [0] * 5}, protocol=2)
            _add(tar, 'cifar-100-python/' + name, payload)
    proc = run_script('tools/cifar_to_rec.py', archive, tmp_path / 'out')
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(read_rec(str(tmp_path / 'out' / 'train'), 5)[1], fine['train'])


class _RunsCode(object):
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ('touch %s' % self.marker,))


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / 'pwned'
    archive = tmp_path / 'cifar-10-python.tar.gz'
    with tarfile.open(archive, 'w:gz') as tar:
        for name in ['data_batch_%d' % i for i in range(1, 6)] + ['test_batch']:
            _add(tar, 'cifar-10-batches-py/' + name,
                 pickle.dumps({b'data': _RunsCode(marker), b'labels': []}, protocol=2))
    proc = run_script('tools/cifar_to_rec.py', archive, tmp_path / 'out')
    assert_one_line_error(proc, 'refusing a CIFAR batch', 'system')
    assert not marker.exists()
    assert not (tmp_path / 'out').exists() or not os.listdir(tmp_path / 'out')


@pytest.mark.parametrize('kind', ['dotdot', 'absolute', 'symlink'])
def test_escaping_tar_members_are_refused(tmp_path, kind):
    archive = tmp_path / 'cifar-10-python.tar.gz'
    make_cifar10(archive)
    with tarfile.open(archive, 'r:gz') as src:
        members = [(m, src.extractfile(m).read()) for m in src.getmembers()]
    with tarfile.open(archive, 'w:gz') as tar:
        for m, payload in members:
            tar.addfile(m, io.BytesIO(payload))
        if kind == 'symlink':
            link = tarfile.TarInfo('cifar-10-batches-py/evil')
            link.type, link.linkname = tarfile.SYMTYPE, '/etc/passwd'
            tar.addfile(link)
        else:
            _add(tar, '../evil' if kind == 'dotdot' else '/tmp/evil', b'x')
    proc = run_script('tools/cifar_to_rec.py', archive, tmp_path / 'out')
    assert_one_line_error(proc, 'refusing')
    assert not (tmp_path / 'evil').exists()


def test_missing_and_wrong_archives(tmp_path):
    assert_one_line_error(run_script('tools/cifar_to_rec.py', tmp_path / 'nope.tar.gz', tmp_path / 'o'),
                          'no such file')
    (tmp_path / 'junk.tar.gz').write_bytes(b'not a tar')
    assert_one_line_error(run_script('tools/cifar_to_rec.py', tmp_path / 'junk.tar.gz', tmp_path / 'o'),
                          'not a readable tar archive')


def test_class_names_come_from_the_archives_meta(tmp_path):
    """classes.txt beside the records, as every other converter writes it: the names of
    the archive's meta member, or the label numbers (with a warning) when it has none."""
    make_cifar10(tmp_path / 'a.tar.gz')
    proc = run_script('tools/cifar_to_rec.py', tmp_path / 'a.tar.gz', tmp_path / 'out')
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / 'out' / 'classes.txt').read_text().split('\n')[:-1] == CIFAR10_NAMES
    make_cifar10(tmp_path / 'b.tar.gz', meta=False)
    proc = run_script('tools/cifar_to_rec.py', tmp_path / 'b.tar.gz', tmp_path / 'plain')
    assert proc.returncode == 0 and 'no class names' in proc.stderr, proc.stderr
    assert (tmp_path / 'plain' / 'classes.txt').read_text() == ''.join('%d\n' % i for i in range(10))
