"""Writing a file so that it appears complete or not at all: write a temporary file
beside it, then rename it over the target (a rename within a folder is atomic)."""
import contextlib
import os


def temporary_path(path, keep_extension=False):
    """The temporary name this process writes ``path`` under: ``path.tmp-PID``, or with
    ``keep_extension`` ``root.tmp-PID.ext`` (for writers that pick the format from the
    extension)."""
    if keep_extension:
        root, ext = os.path.splitext(path)
        return '%s.tmp-%d%s' % (root, os.getpid(), ext)
    return '%s.tmp-%d' % (path, os.getpid())


@contextlib.contextmanager
def atomic_path(path, keep_extension=False):
    """``with atomic_path(out) as tmp: write(tmp)``: ``out`` is replaced by what was written
    to ``tmp`` when the block ends without an error; on an error ``tmp`` is removed and
    ``out`` left as it was. The folder is created if needed."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    tmp = temporary_path(path, keep_extension)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def naming(path):
    """An OSError in the block (writing ``path`` under its temporary name, on a full disk
    or in a read-only folder) names ``path``, the file the user asked for."""
    try:
        yield
    except OSError as err:
        raise OSError(err.errno, err.strerror or str(err), path) from err


def write_text(path, text, encoding='utf-8'):
    """``path`` holds ``text`` (a str, or an iterable of lines), complete or not at all;
    an OSError names ``path``."""
    with naming(path), atomic_path(path) as tmp, open(tmp, 'w', encoding=encoding) as f:
        f.write(text if isinstance(text, str) else ''.join(text))


def write_bytes(path, data):
    """``path`` holds ``data``, complete or not at all; an OSError names ``path``."""
    with naming(path), atomic_path(path) as tmp, open(tmp, 'wb') as f:
        f.write(data)
