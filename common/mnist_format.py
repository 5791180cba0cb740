"""MNIST's IDX format (Fashion-MNIST, MNIST, KMNIST): finding the four files, reading them
checked (header, size against the header, counts, labels within the classes, gzip
inflation capped), telling Fashion-MNIST by the pinned SHA-256 digests of its contents,
its class names, and its example images. tools/mnist_to_rec.py is the command line.
"""
import gzip
import hashlib
import logging
import os
import re
import struct
import zlib

from .atomic import write_bytes
from .errors import UserError
from .recordio import encode_image

import numpy as np

# Where Debian's package dataset-fashion-mnist installs the four .gz files.
DEBIAN_DIR = '/usr/share/datasets/fashion-mnist'
INSTALL_HINT = ('install Debian\'s package (apt-get install dataset-fashion-mnist, or make '
                'fashion-mnist) or put the four files train-images-idx3-ubyte, '
                'train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte '
                '(.gz or plain) there')

# (split, kind) -> file name without .gz; the t10k (test) files become val.rec.
FILES = {
    ('train', 'images'): 'train-images-idx3-ubyte',
    ('train', 'labels'): 'train-labels-idx1-ubyte',
    ('val', 'images'): 't10k-images-idx3-ubyte',
    ('val', 'labels'): 't10k-labels-idx1-ubyte',
}

# SHA-256 of each file's decompressed contents. Fashion-MNIST's were computed from the
# files of Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1 after gunzip; Debian
# recompressed them, so its .gz files differ from upstream's (upstream publishes MD5s of
# its .gz files only), but the data inside is the same.
KNOWN_DIGESTS = {
    'Fashion-MNIST': {
        'train-images-idx3-ubyte':
            'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
        'train-labels-idx1-ubyte':
            'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
        't10k-images-idx3-ubyte':
            '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
        't10k-labels-idx1-ubyte':
            '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
    },
}
CLASS_NAMES = {
    'Fashion-MNIST': ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
                      'Sneaker', 'Bag', 'Ankle boot'],
}

# IDX: two zero bytes, the data type code, the number of dimensions, then each dimension
# as a big-endian uint32, then the data, row-major, big-endian.
IDX_TYPES = {0x08: ('unsigned bytes', 1), 0x09: ('signed bytes', 1), 0x0B: ('int16', 2),
             0x0C: ('int32', 4), 0x0D: ('float32', 4), 0x0E: ('float64', 8)}
UBYTE = 0x08
NDIM = {'images': 3, 'labels': 1}
SIDE = 28
# More images than any MNIST-format dataset holds (EMNIST's largest split has 700,000):
# a header claiming more is not believed, so a damaged count cannot ask for terabytes.
MAX_COUNT = 10000000
GZIP_MAGIC = b'\x1f\x8b'
# Decompressed over compressed size a gzipped IDX file may have. The real ones: 1.8x
# (Fashion-MNIST's training images) to 5x (MNIST's); a file of zeros compresses 1000x,
# and one of 7.6 MB claiming 9,999,999 images would inflate to 7.8 GB.
MAX_GZIP_RATIO = 50


def find_file(src, name):
    """The path of ``name`` or ``name.gz`` in ``src`` (the plain one if both), or None."""
    for candidate in (name, name + '.gz'):
        path = os.path.join(src, candidate)
        if os.path.isfile(path):
            return path
    return None


def find_files(src, default):
    """{(split, kind): path} of the four files, or a UserError naming the missing ones."""
    paths = {key: find_file(src, name) for key, name in FILES.items()}
    missing = [FILES[key] + '(.gz)' for key, path in paths.items() if path is None]
    if missing:
        where = ('%s (the default SRC_DIR)' % src) if default else src
        if not os.path.isdir(src):
            what = 'no such folder'
        elif len(missing) == len(FILES):
            what = 'none of the four IDX files is there'
        else:
            what = 'missing ' + ', '.join(missing)
        raise UserError('%s: %s; %s' % (where, what, INSTALL_HINT))
    return paths


def describe(kind, dims):
    if kind == 'images':
        return '%d images of %dx%d' % tuple(dims)
    return '%d labels' % dims[0]


def read_exactly(stream, size):
    """Up to ``size`` bytes of ``stream``, reading in chunks (a short read is not the end
    of a gzip stream)."""
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(min(left, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b''.join(chunks)


def parse_idx(path, stream, kind, compressed=None):
    """(array, sha256 hex of the decompressed contents) of an IDX file of ``kind``;
    ``compressed``: the size of the gzip file it is read from, if it is one."""
    digest = hashlib.sha256()
    head = read_exactly(stream, 4)
    digest.update(head)
    want = '%s in %d dimension%s (magic number 0x%08X)' % (
        IDX_TYPES[UBYTE][0], NDIM[kind], 's' * (NDIM[kind] > 1), UBYTE << 8 | NDIM[kind])
    if len(head) < 4 or head[:2] != b'\x00\x00' or head[2] not in IDX_TYPES:
        raise UserError('%s is not an IDX file: it starts with 0x%s, where MNIST %s are %s; '
                        'give the dataset\'s own file' % (path, head.hex().upper() or '(nothing)',
                                                          kind, want))
    type_name, item = IDX_TYPES[head[2]]
    if head[2] != UBYTE or head[3] != NDIM[kind]:
        raise UserError('%s holds %s in %d dimension%s (magic number 0x%s), where MNIST %s are %s; '
                        'give the dataset\'s own file'
                        % (path, type_name, head[3], 's' * (head[3] != 1), head.hex().upper(),
                           kind, want))
    raw_dims = read_exactly(stream, 4 * head[3])
    digest.update(raw_dims)
    if len(raw_dims) < 4 * head[3]:
        raise UserError('%s is truncated inside its header; install or download it again' % path)
    dims = struct.unpack('>%dI' % head[3], raw_dims)
    if kind == 'images' and tuple(dims[1:]) != (SIDE, SIDE):
        raise UserError('%s holds %dx%d images, not the 28x28 of the MNIST format; give a '
                        'dataset in the MNIST format' % ((path,) + tuple(dims[1:])))
    if dims[0] > MAX_COUNT:
        raise UserError('%s: its header claims %d %s, more than any MNIST-format dataset '
                        'holds; the file is damaged: install or download it again'
                        % (path, dims[0], kind))
    if dims[0] == 0:
        raise UserError('%s holds no %s; give the files of a whole dataset' % (path, kind))
    size = int(np.prod(dims)) * item
    if compressed is not None and size > MAX_GZIP_RATIO * compressed + (1 << 20):
        raise UserError('%s: its header announces %s (%d bytes), more than %d times the %d '
                        'bytes of the gzip file (MNIST-format data compresses 2-5 times); it '
                        'is damaged or not a dataset file: install or download it again'
                        % (path, describe(kind, dims), size, MAX_GZIP_RATIO, compressed))
    data = read_exactly(stream, size)
    digest.update(data)
    if len(data) < size:
        raise UserError('%s is truncated: its header announces %s (%d bytes of data) but it '
                        'holds %d; install or download it again'
                        % (path, describe(kind, dims), size, len(data)))
    if stream.read(1):
        raise UserError('%s holds more data than its header announces (%s, %d bytes): it is '
                        'not a well-formed IDX file; install or download it again'
                        % (path, describe(kind, dims), size))
    return np.frombuffer(data, dtype=np.uint8).reshape(dims), digest.hexdigest()


def read_idx(path, kind):
    """parse_idx on the file at ``path``, gzipped or plain."""
    try:
        with open(path, 'rb') as f:
            gzipped = f.read(2) == GZIP_MAGIC
            f.seek(0)
            if not gzipped:
                return parse_idx(path, f, kind)
            with gzip.GzipFile(fileobj=f, mode='rb') as stream:
                return parse_idx(path, stream, kind, os.path.getsize(path))
    except EOFError:
        raise UserError('%s is truncated (its gzip stream ends early); install or download it '
                        'again' % path)
    except (gzip.BadGzipFile, zlib.error) as err:
        raise UserError('%s is damaged (%s); install or download it again' % (path, err))


def identify(digests):
    """The known dataset whose four files these are, or None (each unknown file warned)."""
    for dataset, known in KNOWN_DIGESTS.items():
        if all(digests[name] == known[name] for name in FILES.values()):
            logging.info('the four files are %s (their SHA-256 digests match the pinned ones)',
                         dataset)
            return dataset
    for name in FILES.values():
        if not any(known[name] == digests[name] for known in KNOWN_DIGESTS.values()):
            logging.warning('%s: unknown contents (sha256 %s), not those of %s; converting '
                            'anyway, with the label numbers as class names', name, digests[name],
                            ' or '.join(sorted(KNOWN_DIGESTS)))
    return None


def read_dataset(paths, num_classes):
    """({split: (images N x 28 x 28 uint8, labels)}, dataset name or None)."""
    arrays, digests = {}, {}
    for key, path in sorted(paths.items()):
        arrays[key], digests[FILES[key]] = read_idx(path, key[1])
    for split in ('train', 'val'):
        images, labels = arrays[(split, 'images')], arrays[(split, 'labels')]
        if len(images) != len(labels):
            raise UserError('%s holds %d images but %s holds %d labels, so they cannot be paired: '
                            'the two files do not belong together; install or download them again'
                            % (paths[(split, 'images')], len(images), paths[(split, 'labels')],
                               len(labels)))
        bad = np.flatnonzero(labels >= num_classes)
        if bad.size:
            raise UserError('%s: label %d of image %d is outside 0..%d; the file is damaged, or '
                            'the dataset has more classes: give --num-classes'
                            % (paths[(split, 'labels')], labels[bad[0]], bad[0], num_classes - 1))
    dataset = identify(digests)
    if dataset is not None and len(CLASS_NAMES[dataset]) != num_classes:
        raise UserError('%s has %d classes, not --num-classes %d; drop the flag'
                        % (dataset, len(CLASS_NAMES[dataset]), num_classes))
    splits = {split: (arrays[(split, 'images')], arrays[(split, 'labels')])
              for split in ('train', 'val')}
    return splits, dataset


def example_name(label, name):
    """The file name of a class's example image: its label, then its name in lower case
    with anything but letters and digits as '-' ('00-t-shirt-top.png')."""
    slug = re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')
    return '%02d-%s.png' % (label, slug)


def write_examples(folder, images, labels, names):
    """The first test image of each class as a PNG (the same pixels as the records)."""
    os.makedirs(folder, exist_ok=True)
    for label, name in enumerate(names):
        first = np.flatnonzero(labels == label)
        if not first.size:
            continue
        path = os.path.join(folder, example_name(label, name))
        write_bytes(path, encode_image(images[first[0]]))
    logging.info('wrote the first test image of each of %d classes to %s', len(names), folder)
