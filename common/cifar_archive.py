"""The official CIFAR-10 and CIFAR-100 python archives, read without trusting them: never
extracted to disk, only the members needed, no members outside their folder and no
links, pickles loaded with an allowlist of the numpy arrays the format is made of (common.
safe_pickle), a member read only if its size fits a CIFAR batch, label counts and ranges
checked. tools/cifar_to_rec.py is the command line.
"""
import contextlib
import logging
import lzma
import posixpath
import tarfile
import zlib

from . import safe_pickle
from .errors import UserError

import numpy as np

# (member suffixes of the training part, of the test part, label key, classes) per dataset.
LAYOUTS = {
    'cifar-10-batches-py': (['data_batch_%d' % i for i in range(1, 6)], ['test_batch'], b'labels',
                            10),
    'cifar-100-python': (['train'], ['test'], b'fine_labels', 100),
}
# The member naming the classes, and its key, per dataset.
META = {'cifar-10-batches-py': ('batches.meta', b'label_names'),
        'cifar-100-python': ('meta', b'fine_label_names')}

# Images of each member: 10,000, except CIFAR-100's train (50,000). A member may take
# 3,072 bytes per image, plus 256 bytes of file name and labels (the official pickles
# use about 35) and 1 MB: the official 31 MB batch may be 34 MB, CIFAR-100's 155 MB train
# 168 MB. Nothing larger is read.
IMAGES_PER_MEMBER = {'train': 50000}
IMAGE_BYTES = 32 * 32 * 3


def member_limit(part):
    return IMAGES_PER_MEMBER.get(part, 10000) * (IMAGE_BYTES + 256) + (1 << 20)


# The official archives hold 9 (CIFAR-10) and 5 (CIFAR-100) members.
MAX_MEMBERS = 100

# Everything a CIFAR pickle may reference: numpy's array reconstruction, and the bytes
# codec a Python 3 protocol-2 pickle uses for the array's raw data. Nothing else.
ALLOWED_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    ('_codecs', 'encode'),
}


def safe_load_batch(raw):
    """A CIFAR batch dict from pickle bytes, admitting numpy arrays only."""
    try:
        batch = safe_pickle.load(raw, ALLOWED_GLOBALS, ('a CIFAR batch', 'numpy arrays'),
                                 encoding='bytes')
    except UserError:
        raise
    except Exception as err:
        raise UserError('not a CIFAR batch (%s); download the python version archive again'
                        % err.__class__.__name__)
    if not isinstance(batch, dict) or b'data' not in batch:
        raise UserError('not a CIFAR batch: no data array; use the python version archive')
    return batch


@contextlib.contextmanager
def reading(archive):
    """Errors of a truncated or damaged archive (a cut download) end in a UserError."""
    try:
        yield
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as err:
        raise UserError('%s is truncated or damaged (%s); download it again'
                        % (archive, str(err) or err.__class__.__name__))


def check_members(archive, tar):
    """The members of the archive, refusing links, devices, names that would land outside
    the archive's folder, and more members than a CIFAR archive has."""
    members = []
    for member in tar:
        members.append(member)
        if len(members) > MAX_MEMBERS:
            raise UserError('%s holds more than %d members, which no CIFAR archive does; use the '
                            'official python version archive' % (archive, MAX_MEMBERS))
        name = member.name
        normal = posixpath.normpath(name)
        if name.startswith('/') or normal == '..' or normal.startswith('../'):
            raise UserError('%s: member %s points outside the archive folder; refusing it'
                            % (archive, name))
        if not (member.isfile() or member.isdir()):
            raise UserError('%s: member %s is a link or special file; refusing it'
                            % (archive, name))
    return members


def read_member(archive, tar, member, part):
    """The bytes of a member, once its size is known to fit a CIFAR batch."""
    limit = member_limit(part)
    if member.size > limit:
        raise UserError('%s: member %s is %.1f MB, more than a CIFAR batch of %d images takes '
                        '(%.1f MB); refusing to read it: use the official python version archive'
                        % (archive, member.name, member.size / 1e6,
                           IMAGES_PER_MEMBER.get(part, 10000), limit / 1e6))
    return tar.extractfile(member).read()


def batch_arrays(name, batch, label_key, classes):
    """(images NHWC uint8, labels int64) of a loaded batch, its layout checked: a uint8
    array of N x 3072 and N integer labels in 0..classes-1."""
    data, labels = batch[b'data'], batch.get(label_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != IMAGE_BYTES or labels is None:
        raise UserError('%s: unexpected layout; use the official archive' % name)
    if isinstance(labels, np.ndarray):
        is_int = labels.ndim == 1 and labels.dtype.kind in 'iu'
    else:
        is_int = isinstance(labels, list) and all(isinstance(l, (int, np.integer)) for l in labels)
    if len(labels) != data.shape[0]:
        raise UserError('%s holds %d images but %d labels, so images and labels cannot be '
                        'paired: the archive is damaged; download it again'
                        % (name, data.shape[0], len(labels)))
    if not is_int:
        raise UserError('%s: the labels are not a list of integers; use the official archive'
                        % name)
    labels = np.asarray(labels, dtype=np.int64)
    bad = np.flatnonzero((labels < 0) | (labels >= classes))
    if bad.size:
        raise UserError('%s: image %d has label %d, outside 0..%d; the archive is damaged: '
                        'download it again' % (name, bad[0], labels[bad[0]], classes - 1))
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def read_archive(archive):
    """{'train': (images NHWC uint8, labels), 'val': (...)} from an official archive."""
    try:
        tar = tarfile.open(archive, 'r:*')
    except FileNotFoundError:
        raise UserError('%s: no such file; download cifar-10-python.tar.gz or '
                        'cifar-100-python.tar.gz' % archive)
    except (tarfile.TarError, OSError):
        raise UserError('%s is not a readable tar archive; download the python version '
                        'archive again' % archive)
    with tar, reading(archive):
        files = {m.name: m for m in check_members(archive, tar) if m.isfile()}
        for folder, (train_parts, val_parts, label_key, classes) in LAYOUTS.items():
            if all('%s/%s' % (folder, p) in files for p in train_parts + val_parts):
                break
        else:
            raise UserError('%s holds neither cifar-10-batches-py/ nor cifar-100-python/; '
                            'use the official python version archive' % archive)
        out = {}
        for split, parts in (('train', train_parts), ('val', val_parts)):
            images, labels = [], []
            for part in parts:
                name = '%s/%s' % (folder, part)
                batch = safe_load_batch(read_member(archive, tar, files[name], part))
                part_images, part_labels = batch_arrays(name, batch, label_key, classes)
                images.append(part_images)
                labels.append(part_labels)
            out[split] = (np.concatenate(images), np.concatenate(labels))
            if not len(out[split][0]):
                raise UserError('%s: the %s batches hold no images; use the official archive'
                                % (archive, split))
        out['classes'] = class_names(archive, tar, files, folder, classes)
        if out['classes'] is None:
            logging.warning('%s has no class names that fit (no meta member): classes.txt '
                            'lists the label numbers', archive)
            out['classes'] = [str(i) for i in range(classes)]
        return out


def class_names(archive, tar, files, folder, classes):
    """The class names in label order from the archive's meta member (a pickled dict of
    byte strings, read with the same allowlist), or None when it has none that fits."""
    member, key = META[folder]
    name = '%s/%s' % (folder, member)
    if name not in files:
        return None
    try:
        meta = safe_pickle.load(read_member(archive, tar, files[name], 'meta'), ALLOWED_GLOBALS,
                                ('CIFAR meta', 'names'), encoding='bytes')
        names = [n.decode('utf-8') if isinstance(n, bytes) else str(n) for n in meta[key]]
    except Exception:
        return None
    if len(names) != classes or not all(n.strip() and '\n' not in n for n in names):
        return None
    return names
