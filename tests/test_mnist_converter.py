"""tools/mnist_to_rec.py on IDX files written here, malformed ones, and Debian's Fashion-MNIST."""
import gzip
import hashlib
import os
import struct

import cv2
import mxnet as mx
import numpy as np
import pytest

from common import mnist_format
from helpers import assert_one_line_error, run_script

NAMES = {('train', 'images'): 'train-images-idx3-ubyte',
         ('train', 'labels'): 'train-labels-idx1-ubyte',
         ('val', 'images'): 't10k-images-idx3-ubyte',
         ('val', 'labels'): 't10k-labels-idx1-ubyte'}
COUNTS = {'train': 20, 'val': 10}
DEBIAN_DIR = '/usr/share/datasets/fashion-mnist'


def idx_bytes(array, type_code=0x08):
    """An IDX file: 0, 0, the type code, the number of dimensions, the dimensions (big-endian
    uint32), the data."""
    return (struct.pack('>BBBB', 0, 0, type_code, array.ndim)
            + struct.pack('>%dI' % array.ndim, *array.shape) + array.tobytes())


def make_dataset(folder, gz=True, seed=0):
    """Writes the four files (gzipped or plain) into ``folder``; returns the arrays and the
    SHA-256 of each file's uncompressed contents."""
    rng = np.random.RandomState(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays, digests = {}, {}
    for split, count in COUNTS.items():
        images = rng.randint(0, 256, (count, 28, 28)).astype(np.uint8)
        images[0, 0, :2] = (0, 255)  # both extremes present
        labels = (np.arange(count) % 10).astype(np.uint8)
        rng.shuffle(labels)
        arrays[split] = (images, labels)
        for kind, array in (('images', images), ('labels', labels)):
            raw = idx_bytes(array)
            digests[NAMES[(split, kind)]] = hashlib.sha256(raw).hexdigest()
            name = NAMES[(split, kind)] + ('.gz' if gz else '')
            (folder / name).write_bytes(gzip.compress(raw) if gz else raw)
    return arrays, digests


def read_rec(prefix, count, channels):
    it = mx.io.ImageRecordIter(path_imgrec=prefix + '.rec', path_imgidx=prefix + '.idx',
                               data_shape=(channels, 28, 28), batch_size=count, shuffle=False)
    batch = next(iter(it))
    return batch.data[0].asnumpy(), batch.label[0].asnumpy()


def assert_exact(out, arrays, channels):
    for split, (images, labels) in arrays.items():
        data, got_labels = read_rec(str(out / split), len(images), channels)
        assert data.shape == (len(images), channels, 28, 28)
        np.testing.assert_array_equal(got_labels, labels.astype(np.float32))
        for c in range(channels):
            np.testing.assert_array_equal(data[:, c], images.astype(np.float32))


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """A gzipped dataset written here and converted once: (out folder, arrays, digests, proc)."""
    root = tmp_path_factory.mktemp('mnist')
    arrays, digests = make_dataset(root / 'src', gz=True)
    proc = run_script('tools/mnist_to_rec.py', root / 'src', root / 'out')
    assert proc.returncode == 0, proc.stderr
    return root / 'out', arrays, digests, proc


@pytest.mark.parametrize('channels', [1, 3])
def test_records_read_back_exact_pixels_and_labels(converted, channels):
    out, arrays, _, _ = converted
    assert_exact(out, arrays, channels)
    assert sorted(os.listdir(out)) == ['classes.txt', 'train.idx', 'train.rec', 'val.idx',
                                       'val.rec']


def test_unknown_contents_are_converted_with_a_warning_naming_the_digest(converted):
    out, _, digests, proc = converted
    for name, digest in digests.items():
        assert '%s: unknown contents (sha256 %s)' % (name, digest) in proc.stderr
    # Unknown datasets are named by their label numbers.
    assert (out / 'classes.txt').read_text() == ''.join('%d\n' % i for i in range(10))


def test_plain_and_mixed_files_give_the_same_records(converted, tmp_path):
    out, arrays, _, _ = converted
    make_dataset(tmp_path / 'src', gz=False)
    # One file gzipped, under a plain name: told apart by its first bytes, not its name.
    labels = tmp_path / 'src' / NAMES[('val', 'labels')]
    labels.write_bytes(gzip.compress(labels.read_bytes()))
    proc = run_script('tools/mnist_to_rec.py', tmp_path / 'src', tmp_path / 'out')
    assert proc.returncode == 0, proc.stderr
    for name in ('train.rec', 'train.idx', 'val.rec', 'val.idx', 'classes.txt'):
        assert (tmp_path / 'out' / name).read_bytes() == (out / name).read_bytes(), name


def _break(folder, key, payload):
    for old in (NAMES[key], NAMES[key] + '.gz'):
        if (folder / old).exists():
            (folder / old).unlink()
    (folder / (NAMES[key] + '.gz')).write_bytes(gzip.compress(payload))


@pytest.mark.parametrize('case,needles', [
    ('bad magic', ['is not an IDX file', '0x00000803']),
    ('wrong type', ['holds int32 in 3 dimensions', 'where MNIST images are unsigned bytes']),
    ('labels as images', ['in 1 dimension (magic number 0x00000801)', 'MNIST images are']),
    ('not 28x28', ['32x32 images', 'MNIST format']),
    ('truncated data', ['is truncated', '20 images of 28x28', 'install or download it again']),
    ('truncated header', ['truncated inside its header']),
    ('truncated gzip', ['is truncated (its gzip stream ends early)']),
    ('damaged gzip', ['is damaged']),
    ('trailing data', ['more data than its header announces']),
    ('count mismatch', ['holds 20 images but', 'holds 19 labels', 'do not belong together']),
    ('label out of range', ['label 10 of image 3 is outside 0..9', '--num-classes']),
    # A few hundred bytes whose header claims 100,000 images (78 MB): refused before any
    # inflating (the old reader would inflate up to what a header claimed, 7.8 GB).
    ('inflation bomb', ['announces 100000 images of 28x28', 'more than 50 times']),
])
def test_malformed_files_are_refused_in_one_line(tmp_path, case, needles):
    src = tmp_path / 'src'
    arrays, _ = make_dataset(src)
    images, labels = arrays['train']
    image_key, label_key = ('train', 'images'), ('train', 'labels')
    good = idx_bytes(images)
    if case == 'bad magic':
        _break(src, image_key, b'\x12\x34\x56\x78' + good[4:])
    elif case == 'wrong type':
        _break(src, image_key, idx_bytes(images.astype('>i4'), type_code=0x0C))
    elif case == 'labels as images':
        _break(src, image_key, idx_bytes(labels))
    elif case == 'not 28x28':
        _break(src, image_key, idx_bytes(np.zeros((20, 32, 32), np.uint8)))
    elif case == 'truncated data':
        _break(src, image_key, good[:-100])
    elif case == 'truncated header':
        _break(src, image_key, good[:10])
    elif case == 'truncated gzip':
        path = src / (NAMES[image_key] + '.gz')
        path.write_bytes(path.read_bytes()[:-200])
    elif case == 'damaged gzip':
        path = src / (NAMES[image_key] + '.gz')
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2:len(raw) // 2 + 64] = b'\xff' * 64
        path.write_bytes(bytes(raw))
    elif case == 'trailing data':
        _break(src, image_key, good + b'\x00' * 784)
    elif case == 'count mismatch':
        _break(src, label_key, idx_bytes(labels[:19]))
    elif case == 'inflation bomb':
        _break(src, image_key, good[:4] + struct.pack('>3I', 100000, 28, 28) + bytes(1000))
    elif case == 'label out of range':
        bad = labels.copy()
        bad[3] = 10
        _break(src, label_key, idx_bytes(bad))
    proc = run_script('tools/mnist_to_rec.py', src, tmp_path / 'out')
    assert_one_line_error(proc, *needles)
    assert not (tmp_path / 'out').exists()


def test_more_classes_are_accepted_with_num_classes(tmp_path):
    src = tmp_path / 'src'
    arrays, _ = make_dataset(src)
    images, labels = arrays['train']
    labels = labels.copy()
    labels[3] = 11
    _break(src, ('train', 'labels'), idx_bytes(labels))
    proc = run_script('tools/mnist_to_rec.py', '--num-classes', '12', src, tmp_path / 'out')
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / 'out' / 'classes.txt').read_text().split('\n')[:-1] == \
        [str(i) for i in range(12)]
    assert_exact(tmp_path / 'out', {'train': (images, labels)}, 1)


def test_missing_files_name_the_install_command(tmp_path):
    proc = run_script('tools/mnist_to_rec.py', tmp_path / 'nowhere', tmp_path / 'out')
    assert_one_line_error(proc, 'no such folder', 'apt-get install dataset-fashion-mnist',
                          'make fashion-mnist', 't10k-labels-idx1-ubyte')
    make_dataset(tmp_path / 'src')
    (tmp_path / 'src' / (NAMES[('val', 'labels')] + '.gz')).unlink()
    proc = run_script('tools/mnist_to_rec.py', tmp_path / 'src', tmp_path / 'out')
    assert_one_line_error(proc, 'missing t10k-labels-idx1-ubyte(.gz)',
                          'apt-get install dataset-fashion-mnist')
    assert not (tmp_path / 'out').exists()


def _debian_files():
    paths = {key: os.path.join(DEBIAN_DIR, name + '.gz') for key, name in NAMES.items()}
    if not all(os.path.isfile(p) for p in paths.values()):
        pytest.skip('Debian\'s dataset-fashion-mnist is not installed (make fashion-mnist)')
    return paths


def test_debian_fashion_mnist_matches_the_pinned_digests_and_counts():
    paths = _debian_files()
    arrays = {}
    for key, path in paths.items():
        arrays[key], digest = mnist_format.read_idx(path, key[1])
        assert digest == mnist_format.KNOWN_DIGESTS['Fashion-MNIST'][NAMES[key]], path
    for split, total in (('train', 60000), ('val', 10000)):
        assert arrays[(split, 'images')].shape == (total, 28, 28)
        assert np.bincount(arrays[(split, 'labels')]).tolist() == [total // 10] * 10


def test_debian_fashion_mnist_converts_from_the_default_folder(tmp_path):
    paths = _debian_files()
    proc = run_script('tools/mnist_to_rec.py', tmp_path / 'out')  # SRC_DIR defaults to Debian's
    assert proc.returncode == 0, proc.stderr
    assert 'the four files are Fashion-MNIST' in proc.stderr
    assert 'unknown contents' not in proc.stderr
    assert (tmp_path / 'out' / 'classes.txt').read_text().split('\n')[:-1] == \
        mnist_format.CLASS_NAMES['Fashion-MNIST']
    with open(tmp_path / 'out' / 'train.idx') as f:
        assert sum(1 for _ in f) == 60000
    images, _ = mnist_format.read_idx(paths[('val', 'images')], 'images')
    labels, _ = mnist_format.read_idx(paths[('val', 'labels')], 'labels')
    assert_exact(tmp_path / 'out', {'val': (images, labels)}, 1)


def test_examples_are_the_first_test_image_of_each_class(tmp_path):
    arrays, _ = make_dataset(tmp_path / 'src')
    proc = run_script('tools/mnist_to_rec.py', tmp_path / 'src', tmp_path / 'out',
                      '--examples', tmp_path / 'ex')
    assert proc.returncode == 0, proc.stderr
    images, labels = arrays['val']
    assert sorted(os.listdir(tmp_path / 'ex')) == ['%02d-%d.png' % (c, c) for c in range(10)]
    for c in range(10):
        png = cv2.imread(str(tmp_path / 'ex' / ('%02d-%d.png' % (c, c))), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(png, images[np.flatnonzero(labels == c)[0]])
    assert mnist_format.example_name(0, 'T-shirt/top') == '00-t-shirt-top.png'


def test_shipped_examples_are_fashion_mnist_test_images():
    """examples/fashion-mnist: one 28x28 grey test image per class, named by its class;
    with Debian's files here, each is the first test image of its class, pixel for pixel."""
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          'examples', 'fashion-mnist')
    names = mnist_format.CLASS_NAMES['Fashion-MNIST']
    expected = [mnist_format.example_name(c, n) for c, n in enumerate(names)]
    assert sorted(f for f in os.listdir(folder) if f.endswith('.png')) == expected
    shipped = [cv2.imread(os.path.join(folder, f), cv2.IMREAD_UNCHANGED) for f in expected]
    assert all(img.shape == (28, 28) and img.dtype == np.uint8 for img in shipped)
    assert len({img.tobytes() for img in shipped}) == 10
    paths = {key: os.path.join(DEBIAN_DIR, name + '.gz') for key, name in NAMES.items()}
    if all(os.path.isfile(p) for p in paths.values()):
        images, _ = mnist_format.read_idx(paths[('val', 'images')], 'images')
        labels, _ = mnist_format.read_idx(paths[('val', 'labels')], 'labels')
        for c, img in enumerate(shipped):
            np.testing.assert_array_equal(img, images[np.flatnonzero(labels == c)[0]])


def test_test_sample_is_the_first_test_images(converted, tmp_path):
    """--test-sample writes the first --test-sample-size test images, the same records as
    the start of val.rec (the released model's committed sample is made so)."""
    from common import recordio
    out, arrays, _, _ = converted
    make_dataset(tmp_path / 'src', gz=True)
    proc = run_script('tools/mnist_to_rec.py', tmp_path / 'src', tmp_path / 'out',
                      '--test-sample', tmp_path / 'sample', '--test-sample-size', '7')
    assert proc.returncode == 0, proc.stderr
    sample = recordio.read_index(str(tmp_path / 'sample.idx'))
    full = recordio.read_index(str(out / 'val.idx'))
    assert len(sample) == 7
    with open(tmp_path / 'sample.rec', 'rb') as a, open(out / 'val.rec', 'rb') as b:
        for (key, offset), (full_key, full_offset) in zip(sample, full):
            assert key == full_key
            assert recordio.read_record_at(a, offset) == recordio.read_record_at(b, full_offset)
