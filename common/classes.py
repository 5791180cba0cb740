"""Class-name files, read and written here only: one name per line in label order
(classes.txt of the converters), or tools/im2rec.py's PREFIX_classes.txt of
``name<TAB>label`` lines (no mxnet import: im2rec uses it)."""
import logging
import os

from .atomic import write_text
from .errors import UserError


def write_class_names(path, names):
    """``path`` holds ``names``, one a line in label order (read_class_names reads it)."""
    names = list(names)
    bad = next((n for n in names if not n.strip() or '\n' in n or '\r' in n), None)
    if bad is not None:
        raise UserError('class name %r cannot be a line of a class-name file; name the class '
                        'without line breaks' % bad)
    write_text(path, ['%s\n' % name for name in names])
    logging.info('wrote %d class names to %s', len(names), path)


def write_labelled_class_names(path, labelled):
    """``path`` holds ``name<TAB>label`` lines of the (name, label) pairs ``labelled``
    (tools/im2rec.py's PREFIX_classes.txt; read_class_names reads it)."""
    write_text(path, ['%s\t%d\n' % (name, label) for name, label in labelled])


def read_class_names(path, num_classes=None):
    """Class names in label order from a file of one name per line, or of ``name<TAB>label``
    lines (tools/im2rec.py's PREFIX_classes.txt); checked against ``num_classes``."""
    try:
        with open(path) as f:
            lines = [line.rstrip('\n') for line in f if line.strip()]
    except OSError as err:
        raise UserError('class names %s: %s' % (path, err.strerror or err))
    names = lines
    if lines and all('\t' in line for line in lines):
        try:
            labelled = sorted((int(float(line.rsplit('\t', 1)[1])), line.rsplit('\t', 1)[0])
                              for line in lines)
        except ValueError:
            labelled = None
        if labelled is not None:
            if [label for label, _ in labelled] != list(range(len(labelled))):
                raise UserError('class names %s: the labels are not 0..%d, one each'
                                % (path, len(labelled) - 1))
            names = [name for _, name in labelled]
    if num_classes is not None and len(names) != num_classes:
        raise UserError('class names %s hold %d names for %d classes' % (path, len(names),
                                                                         num_classes))
    return names


def find_class_names(rec_path):
    """The class-name file beside a .rec, if any: classes.txt, or NAME_classes.txt for
    NAME.rec, NAME_train.rec or NAME_val.rec (tools/im2rec.py --list writes it)."""
    folder, base = os.path.split(os.path.splitext(rec_path)[0])
    for suffix in ('_train', '_val', '_test'):
        if base.endswith(suffix):
            base = base[:-len(suffix)]
    for name in ('classes.txt', base + '_classes.txt'):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def class_names(path, known, num_classes):
    """The names a tool prints: those of the file ``path`` (--synset) if given, else
    ``known`` (the model info's) when they fit, else the label numbers."""
    if path:
        if not os.path.isfile(path):
            raise UserError('--synset %s: no such file' % path)
        return read_class_names(path, num_classes)
    if known and len(known) == num_classes:
        return known
    return [str(i) for i in range(num_classes)]
