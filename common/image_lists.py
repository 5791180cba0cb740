"""The .lst format of image lists, as MXNet's im2rec writes and reads it: one image a line,
``index<TAB>label(s)<TAB>relative path``; and making lists from a folder tree (one class a
folder) or a flat folder and a label file (ImageNet's validation images). The class file
the lists come with is common/classes.py's. tools/im2rec.py --list is the command line.

Refused, with a UserError naming the file: a symbolic link loop in the tree, names a .lst
line cannot hold (a tab or a line break, a leading or trailing space, not UTF-8), lines
that are not ``index<TAB>label<TAB>path``.
"""
import collections
import logging
import os
import random

from .atomic import write_text
from .classes import read_class_names, write_labelled_class_names
from .errors import UserError

# MXNet's list mode shuffles with this seed; the same folder gives the same .lst.
LIST_SEED = 100
DEFAULT_EXTS = ('.jpeg', '.jpg', '.png')


def _within(path, folder):
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _walk(root):
    """os.walk following symbolic links, refusing a link to a folder that holds the folder
    it sits in (a loop, which would list the tree again and again) and any folder it cannot
    read. Links to other folders are followed."""
    def fail(err):
        raise err
    chains = {root: (os.path.realpath(root),)}  # real paths from root down to the folder
    for folder, dirs, files in os.walk(root, followlinks=True, onerror=fail):
        chain = chains.pop(folder)
        for name in dirs:
            path = os.path.join(folder, name)
            target = os.path.realpath(path)
            if any(_within(above, target) for above in chain):
                raise UserError('%s is a symbolic link to %s, which holds it: a loop; remove the '
                                'link or move it out of %s' % (path, target, root))
            chains[path] = chain + (target,)
        dirs.sort()
        yield folder, sorted(files)


def check_list_name(root, rel):
    """A relative path that a .lst line cannot hold so that it reads back is a UserError."""
    if '\t' in rel or '\n' in rel or '\r' in rel:
        why = 'holds a tab or a line break, which cannot be written in a .lst line'
    elif rel != rel.strip():
        why = 'starts or ends with a space, which .lst readers (this tool and MXNet) strip'
    else:
        try:
            rel.encode('utf-8')
            return
        except UnicodeEncodeError:
            why = 'is not valid UTF-8'
    raise UserError('%r in %s %s; rename it' % (rel, root, why))


def list_images(root, recursive, exts):
    """[(index, relative path, label)] and {folder: label}: one label per folder holding
    images, in sorted walk order; without --recursive every image of root has label 0."""
    exts = {e.lower() for e in exts}
    items, classes = [], collections.OrderedDict()
    if recursive:
        for folder, files in _walk(root):
            for name in files:
                path = os.path.join(folder, name)
                if os.path.splitext(name)[1].lower() in exts and os.path.isfile(path):
                    label = classes.setdefault(folder, len(classes))
                    items.append((len(items), os.path.relpath(path, root), label))
    else:
        for name in sorted(os.listdir(root)):
            path = os.path.join(root, name)
            if os.path.splitext(name)[1].lower() in exts and os.path.isfile(path):
                items.append((len(items), os.path.relpath(path, root), 0))
    for _, rel, _ in items:
        check_list_name(root, rel)
    return items, classes


def read_label_file(path):
    """{image name: class} of a flat folder's label file: CSV lines ``name,class`` (a header
    line is skipped; ImageNet's LOC_val_solution.csv, whose second field starts with the
    synset, reads as is) or ``name class`` lines; names may lack their extension."""
    try:
        with open(path, encoding='utf-8') as f:
            lines = [line.strip() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise UserError('--label-file %s: %s' % (path, getattr(err, 'strerror', None) or err))
    labels = {}
    for number, line in enumerate(lines, 1):
        fields = line.split(',', 1) if ',' in line else line.split(None, 1)
        if len(fields) != 2 or not fields[1].split():
            raise UserError('--label-file %s line %d is not "name,class" or "name class": %r'
                            % (path, number, line[:80]))
        name, cls = fields[0].strip(), fields[1].split()[0]
        if number == 1 and name.lower() in ('imageid', 'image', 'name', 'filename', 'file'):
            continue
        labels[name] = cls
    if not labels:
        raise UserError('--label-file %s holds no labels' % path)
    return labels


def label_flat_folder(items, label_file, classes_file):
    """The (index, path, label) of a flat folder's images, labelled from ``label_file``;
    class names map to labels through ``classes_file`` (the training list's
    PREFIX_classes.txt, so that both share labels), else in sorted order (integers as they
    are). Returns the items and {class name: label}."""
    names = read_label_file(label_file)
    if classes_file:
        ordered = read_class_names(classes_file)
        to_label = {name: i for i, name in enumerate(ordered)}
    else:
        found = sorted(set(names.values()))
        if all(v.isdigit() for v in found):
            to_label = {v: int(v) for v in found}
        else:
            to_label = {v: i for i, v in enumerate(found)}
    out, missing = [], []
    for index, rel, _ in items:
        cls = names.get(rel, names.get(os.path.splitext(rel)[0]))
        if cls is None:
            missing.append(rel)
            continue
        if cls not in to_label:
            raise UserError('--label-file %s: %s has class %s, which %s does not name'
                            % (label_file, rel, cls, classes_file or 'the file'))
        out.append((index, rel, to_label[cls]))
    if missing:
        raise UserError('--label-file %s has no label for %d of the images (e.g. %s); give a '
                        'label file covering the folder' % (label_file, len(missing), missing[0]))
    return out, to_label


def write_list(path, items):
    """PREFIX.lst lines ``index<TAB>label<TAB>relative path`` of (index, path, label)."""
    write_text(path, ['%d\t%f\t%s\n' % (index, label, rel) for index, rel, label in items])


def make_lists(prefix, root, recursive=False, exts=DEFAULT_EXTS, chunks=1, train_ratio=1.0,
               test_ratio=0.0, label_file='', classes_file='', shuffle=True):
    """PREFIX.lst (or PREFIX_train/_val/_test.lst, per chunk PREFIX_N...) listing the images
    under ``root``: one label per folder with ``recursive``, else from ``label_file``;
    with either, PREFIX_classes.txt of ``folder<TAB>label`` lines. Shuffled with MXNet's
    seed unless ``shuffle`` is off. Returns [(path, number of images)]."""
    if not os.path.isdir(root):
        raise UserError('%s: no such folder of images' % root)
    if not 0 <= test_ratio <= 1 or not 0 < train_ratio <= 1 \
            or train_ratio + test_ratio > 1:
        raise UserError('--train-ratio %g and --test-ratio %g must be fractions summing to at '
                        'most 1' % (train_ratio, test_ratio))
    if chunks < 1:
        raise UserError('--chunks must be at least 1')
    items, classes = list_images(root, recursive, exts)
    if not items:
        raise UserError('no images with extensions %s under %s' % (' '.join(exts), root))
    if label_file:
        if recursive:
            raise UserError('--label-file labels a flat folder; with --recursive each folder '
                            'is a class: give one of them')
        items, named = label_flat_folder(items, label_file, classes_file)
        classes = collections.OrderedDict(sorted(((os.path.join(root, n), l)
                                                  for n, l in named.items()), key=lambda x: x[1]))
    folder = os.path.dirname(prefix)
    if folder:
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise UserError('%s is a file, not a folder: choose another PREFIX' % folder)
        os.makedirs(folder, exist_ok=True)
    if recursive or label_file:
        labelled = [(os.path.relpath(folder, root), label) for folder, label in classes.items()]
        write_labelled_class_names(prefix + '_classes.txt', labelled)
        logging.info('%d classes (saved to %s_classes.txt):\n%s', len(classes), prefix,
                     '\n'.join('%s\t%d' % pair for pair in labelled))
    if shuffle:
        random.Random(LIST_SEED).shuffle(items)
    chunk_size = (len(items) + chunks - 1) // chunks
    written = []
    for c in range(chunks):
        chunk = items[c * chunk_size:(c + 1) * chunk_size]
        base = prefix + ('_%d' % c if chunks > 1 else '')
        n_train, n_test = int(chunk_size * train_ratio), int(chunk_size * test_ratio)
        if train_ratio == 1.0:
            parts = [(base + '.lst', chunk)]
        else:
            parts = [(base + '_train.lst', chunk[n_test:n_test + n_train])]
            if test_ratio:
                parts.append((base + '_test.lst', chunk[:n_test]))
            if train_ratio + test_ratio < 1.0:
                parts.append((base + '_val.lst', chunk[n_test + n_train:]))
        for path, part in parts:
            write_list(path, part)
            written.append((path, len(part)))
    logging.info('wrote %s', ', '.join('%s (%d)' % w for w in written))
    return written


def _numbered_lines(path, f):
    """(number, text) of the lines of a .lst opened in binary, decoded as UTF-8."""
    for number, line in enumerate(f, 1):
        try:
            yield number, line.decode('utf-8')
        except UnicodeDecodeError:
            raise UserError('%s line %d is not UTF-8 text; write the .lst in UTF-8 (--list '
                            'does)' % (path, number))


def read_list(path):
    """Yield (index, relative path, [labels]) of a .lst, with a clear error for bad lines."""
    with open(path, 'rb') as f:
        for number, line in _numbered_lines(path, f):
            fields = [s.strip() for s in line.rstrip('\n').split('\t')]
            if not line.strip():
                continue
            try:
                if len(fields) < 3:
                    raise ValueError
                yield int(fields[0]), fields[-1], [float(v) for v in fields[1:-1]]
            except ValueError:
                raise UserError('%s line %d is not "index<TAB>label<TAB>path": %r'
                                % (path, number, line.strip()[:80]))
