"""The tools (im2rec, cifar_to_rec, export_onnx, quantize) on bad input, as a careless or
hostile user would run them: each case ends in one line ``error: ...`` naming the problem
and the fix, with no traceback and no output file that looks complete, or, where the right
answer is to succeed, in the right result. Resource bombs run under a 1 GB address-space
limit, so a tool that tried to decode or read one would fail instead of taking the memory.
Read-only and full disks are tmpfs mounts (root only; skipped otherwise)."""
import contextlib
import importlib.util
import io
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tarfile
import zlib

import cv2
import mxnet as mx
import numpy as np
import pytest

from common import recordio
from common.recordio import AtomicRecordWriter
from conftest import NORM
from helpers import ROOT, assert_one_line_error, run_script

needs_onnx = pytest.mark.skipif(
    importlib.util.find_spec('onnx') is None or importlib.util.find_spec('onnxruntime') is None,
    reason='ONNX tests need requirements-deploy.txt (make test installs it)')

MEMORY_LIMIT_KB = 1024 * 1024  # a normal run of im2rec or cifar_to_rec needs under 500 MB


def run_limited(*args):
    """run_script with the address space limited to MEMORY_LIMIT_KB."""
    return subprocess.run(['sh', '-c', 'ulimit -v %d && exec "$0" "$@"' % MEMORY_LIMIT_KB,
                           sys.executable] + [str(a) for a in args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def write_image(path, size=(24, 32), seed=0, ext='.png'):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    img = np.random.RandomState(seed).randint(0, 256, size + (3,)).astype(np.uint8)
    ok, buf = cv2.imencode(ext, img)
    assert ok
    with open(str(path), 'wb') as f:
        f.write(buf.tobytes())


def _png_chunk(kind, data):
    return (struct.pack('>I', len(data)) + kind + data
            + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))


def write_black_png(path, width, height):
    """A valid 8-bit gray PNG of any size, compressed row by row (never held whole): a
    20000 x 20000 image is 390 KB on disk and 1.2 GB decoded as color (2.4 GB at the
    decoder's peak)."""
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    comp, row = zlib.compressobj(9), b'\x00' * (1 + width)
    idat = b''.join([comp.compress(row) for _ in range(height)] + [comp.flush()])
    with open(str(path), 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n'
                + _png_chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0))
                + _png_chunk(b'IDAT', idat) + _png_chunk(b'IEND', b''))


def write_rec(prefix, labels, payload=None):
    """PREFIX.rec/.idx of one PNG per label (a number or a list of numbers)."""
    if payload is None:
        payload = cv2.imencode('.png', np.full((16, 16, 3), 100, np.uint8))[1].tobytes()
    with AtomicRecordWriter(str(prefix)) as writer:
        for i, label in enumerate(labels):
            writer.write(i, label, payload)


def listing(folder):
    """The files under ``folder``, relative (empty folders do not count)."""
    return sorted(os.path.relpath(os.path.join(d, f), str(folder))
                  for d, _, files in os.walk(str(folder)) for f in files)


@contextlib.contextmanager
def tmpfs(path, size_kb, read_only=False, fill=False, files=()):
    """A tmpfs of ``size_kb`` at ``path`` holding copies of ``files``: read-only, or with
    ``fill`` full."""
    if os.geteuid() != 0:
        pytest.skip('mounting a tmpfs needs root')
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%dk' % size_kb, 'tmpfs',
                              str(path)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip('cannot mount a tmpfs here: %s' % mounted.stderr.strip())
    try:
        for name in files:
            shutil.copy(str(name), str(path))
        if read_only:
            remount_read_only(path)
        if fill:
            fill_up(path)
        yield path
    finally:
        subprocess.run(['umount', str(path)], check=True)


def remount_read_only(path):
    subprocess.run(['mount', '-o', 'remount,ro', str(path)], check=True)


def fill_up(path):
    fd = os.open(str(path / 'filler'), os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b'\0' * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------
# One table of bad input to the tools. Each setup builds what it needs under tmp_path and
# returns the command line; the check: one line holding the needles, exit non-zero, and
# no file added under tmp_path/out (no output that looks complete, not even a temporary).

def _loop(t):
    write_image(t / 'img' / 'a' / '0.png')
    write_image(t / 'img' / 'b' / '0.png')
    os.symlink(str(t / 'img'), str(t / 'img' / 'a' / 'loop'))
    return ['tools/im2rec.py', t / 'out' / 'd', t / 'img', '--list', '--recursive']


def _loop_to_a_folder_above_the_root(t):
    write_image(t / 'img' / 'a' / '0.png')
    os.symlink(str(t), str(t / 'img' / 'a' / 'up'))
    return ['tools/im2rec.py', t / 'out' / 'd', t / 'img', '--list', '--recursive']


def _loop_through_two_links(t):
    write_image(t / 'img' / 'a' / '0.png')
    write_image(t / 'img' / 'b' / '0.png')
    os.symlink(str(t / 'img' / 'b'), str(t / 'img' / 'a' / 'to_b'))
    os.symlink(str(t / 'img' / 'a'), str(t / 'img' / 'b' / 'to_a'))
    return ['tools/im2rec.py', t / 'out' / 'd', t / 'img', '--list', '--recursive']


def _tab_in_name(t):
    write_image(t / 'img' / 'a' / '0.png')
    write_image(t / 'img' / 'a' / 't\tb.png')
    return ['tools/im2rec.py', t / 'out' / 'd', t / 'img', '--list', '--recursive']


def _newline_in_folder_name(t):
    write_image(t / 'img' / 'a\nb' / '0.png')
    return ['tools/im2rec.py', t / 'out' / 'd', t / 'img', '--list', '--recursive']


def _leading_space(t):
    write_image(t / 'img' / '0.png')
    write_image(t / 'img' / ' a.png')
    return ['tools/im2rec.py', t / 'out' / 'd', t / 'img', '--list']


def _prefix_under_a_file(t):
    write_image(t / 'img' / '0.png')
    (t / 'out').write_text('a file')
    return ['tools/im2rec.py', t / 'out' / 'd', t / 'img', '--list']


def _packable(t, *names):
    """A .lst at t/out/d.lst listing t/img/NAME for each name (label i % 2)."""
    (t / 'out').mkdir(exist_ok=True)
    (t / 'out' / 'd.lst').write_text(''.join('%d\t%d\t%s\n' % (i, i % 2, n)
                                             for i, n in enumerate(names)))
    return ['tools/im2rec.py', t / 'out' / 'd', t / 'img']


def _zero_byte_strict(t):
    write_image(t / 'img' / 'ok.png')
    (t / 'img' / 'empty.png').write_bytes(b'')
    return _packable(t, 'ok.png', 'empty.png') + ['--strict']


def _decompression_bomb_strict(t):
    write_image(t / 'img' / 'ok.png')
    write_black_png(t / 'img' / 'huge.png', 20000, 20000)
    return _packable(t, 'ok.png', 'huge.png') + ['--strict']


def _resize_bomb_strict(t):
    write_image(t / 'img' / 'ok.png')
    write_black_png(t / 'img' / 'thin.png', 1, 20000)
    return _packable(t, 'ok.png', 'thin.png') + ['--strict', '--resize', '480']


def _webp_pass_through_strict(t):
    write_image(t / 'img' / 'ok.png')
    write_image(t / 'img' / 'x.webp', ext='.webp')
    return _packable(t, 'ok.png', 'x.webp') + ['--strict', '--pass-through']


def _every_image_skipped(t):
    (t / 'img').mkdir()
    (t / 'img' / 'a.png').write_bytes(b'')
    (t / 'img' / 'b.png').write_bytes(b'not an image')
    return _packable(t, 'a.png', 'b.png')


def _lst_not_utf8(t):
    write_image(t / 'img' / 'ok.png')
    (t / 'out').mkdir()
    (t / 'out' / 'd.lst').write_bytes(b'0\t0\tok.png\n1\t0\t\xff\xfe.png\n')
    return ['tools/im2rec.py', t / 'out' / 'd', t / 'img']


def _verify(t, labels, payload=None, *flags):
    write_rec(t / 'out' / 'd', labels, payload)
    return ['tools/im2rec.py', '--verify', t / 'out' / 'd'] + list(flags)


def _make_cifar(t, batch=None, members=(), labels=None):
    """A CIFAR-10 archive of 10 images per batch; ``batch`` replaces data_batch_1's dict,
    ``members`` are added as they are."""
    rng = np.random.RandomState(0)
    with tarfile.open(str(t / 'cifar.tar.gz'), 'w:gz') as tar:
        for name in ['data_batch_%d' % i for i in range(1, 6)] + ['test_batch']:
            content = {b'data': rng.randint(0, 256, (10, 3072)).astype(np.uint8),
                       b'labels': [int(v) for v in rng.randint(0, 10, 10)]}
            if name == 'data_batch_1' and batch is not None:
                content.update(batch)
            _add_member(tar, 'cifar-10-batches-py/' + name, pickle.dumps(content, protocol=2))
        for name, payload in members:
            _add_member(tar, name, payload)
    return ['tools/cifar_to_rec.py', t / 'cifar.tar.gz', t / 'out']


def _add_member(tar, name, payload):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def _truncated_archive(t):
    args = _make_cifar(t)
    raw = (t / 'cifar.tar.gz').read_bytes()
    (t / 'cifar.tar.gz').write_bytes(raw[:len(raw) // 2])
    return args


def _huge_member(t):
    """A plain tar (sparse on disk) whose data_batch_1 is 3 GB: reading it would need 3 GB."""
    path = t / 'cifar.tar'
    with open(str(path), 'wb') as f:
        info = tarfile.TarInfo('cifar-10-batches-py/data_batch_1')
        info.size = 3 * 10 ** 9
        f.write(info.tobuf(format=tarfile.GNU_FORMAT))
        f.seek(info.size + (-info.size % 512), 1)
        for name in ['data_batch_%d' % i for i in range(2, 6)] + ['test_batch']:
            payload = pickle.dumps({b'data': np.zeros((2, 3072), np.uint8), b'labels': [0, 0]},
                                   protocol=2)
            info = tarfile.TarInfo('cifar-10-batches-py/' + name)
            info.size = len(payload)
            f.write(info.tobuf(format=tarfile.GNU_FORMAT) + payload + b'\0' * (-len(payload) % 512))
        f.write(b'\0' * 1024)
    return ['tools/cifar_to_rec.py', path, t / 'out']


def _quantize(t, *flags):
    return ['tools/quantize.py', '--model', t / 'm', '--calib-data', t / 'c.rec', '-o',
            t / 'out' / 'q'] + list(flags)


BAD_INPUT = [
    # case 1: symbolic link loops in the image tree
    ('symlink loop', _loop, ['a/loop is a symbolic link to', 'a loop', 'remove the link']),
    ('link to a folder above the root', _loop_to_a_folder_above_the_root,
     ['a/up is a symbolic link to', 'a loop']),
    ('loop through two links', _loop_through_two_links, ['is a symbolic link to', 'a loop']),
    # case 8: names a .lst line cannot hold
    ('tab in a file name', _tab_in_name, ["'a/t\\tb.png'", 'holds a tab', 'rename it']),
    ('line break in a folder name', _newline_in_folder_name, ["'a\\nb/0.png'", 'line break']),
    ('leading space', _leading_space, ["' a.png'", 'starts or ends with a space', 'rename it']),
    ('list prefix under a file', _prefix_under_a_file, ['is a file, not a folder']),
    # cases 3 and 4 with --strict: the image that would be skipped is an error
    ('zero-byte image, --strict', _zero_byte_strict, ['--strict', 'empty.png: empty file']),
    ('decompression bomb, --strict', _decompression_bomb_strict,
     ['--strict', 'huge.png: 20000 x 20000 pixels, over --max-image-pixels 64000000']),
    ('resize bomb, --strict', _resize_bomb_strict,
     ['--strict', 'thin.png: 480 x 9600000 pixels after --resize 480 (from 1 x 20000)']),
    ('WebP with --pass-through, --strict', _webp_pass_through_strict,
     ['--strict', 'x.webp', "MXNet's decoder cannot read"]),
    ('every image skipped', _every_image_skipped,
     ['none of the 2 images', 'a.png: empty file', 'b.png: not a decodable image',
      'nothing written']),
    ('.lst not UTF-8', _lst_not_utf8, ['d.lst line 2 is not UTF-8']),
    ('negative --resize', lambda t: _packable(t, 'a.png') + ['--resize', '-1'], ['--resize']),
    ('zero --max-image-pixels', lambda t: _packable(t, 'a.png') + ['--max-image-pixels', '0'],
     ['--max-image-pixels must be positive']),
    # case 9: --verify catches what training would fail on
    ('verify: several labels', lambda t: _verify(t, [[1, 2, 3]] * 4),
     ['record 0 has 3 labels: pack without --pack-label for single-label training',
      '(4 such records)']),
    ('verify: label counts differ, --multi-label',
     lambda t: _verify(t, [[1, 2, 3], [1, 2]], None, '--multi-label'),
     ['different numbers of labels (1 with 2, 1 with 3)']),
    ('verify: WebP record', lambda t: _verify(
        t, [0, 1], cv2.imencode('.webp', np.zeros((16, 16, 3), np.uint8))[1].tobytes()),
     ["record 0 is not JPEG, PNG, BMP or TIFF, which MXNet's decoder cannot read"]),
    ('verify: empty record', lambda t: _verify(t, [0], b''), ['record 0 holds an empty image']),
    # cases 2 and 3: CIFAR archives
    ('CIFAR: 3 labels for 10 images', lambda t: _make_cifar(t, {b'labels': [1, 2, 3]}),
     ['data_batch_1 holds 10 images but 3 labels', 'download it again']),
    ('CIFAR: label out of range', lambda t: _make_cifar(t, {b'labels': [0] * 9 + [57]}),
     ['image 9 has label 57, outside 0..9']),
    ('CIFAR: labels not integers', lambda t: _make_cifar(t, {b'labels': [[0]] * 10}),
     ['labels are not a list of integers']),
    ('CIFAR: data not uint8', lambda t: _make_cifar(t, {b'data': np.zeros((10, 3072))}),
     ['unexpected layout']),
    ('CIFAR: member of 3 GB', _huge_member,
     ['data_batch_1 is 3000.0 MB', 'refusing to read it']),
    ('CIFAR: thousands of members', lambda t: _make_cifar(
        t, members=[('cifar-10-batches-py/x%d' % i, b'') for i in range(200)]),
     ['more than 100 members']),
    ('CIFAR: truncated download', _truncated_archive, ['truncated or damaged', 'download it again']),
    # case 6: counts that must be positive
    ('quantize --batch-size 0', lambda t: _quantize(t, '--batch-size', '0'),
     ['--batch-size must be at least 1']),
    ('quantize --batch-size -3', lambda t: _quantize(t, '--batch-size', '-3'),
     ['--batch-size must be at least 1']),
    ('quantize --num-calib-examples 0', lambda t: _quantize(t, '--num-calib-examples', '0'),
     ['--num-calib-examples must be at least 1']),
    ('quantize --data-nthreads 0', lambda t: _quantize(t, '--data-nthreads', '0'),
     ['--data-nthreads must be at least 1']),
    ('export --check-batch 0', lambda t: ['tools/export_onnx.py', '--model', t / 'm', '-o',
                                          t / 'out' / 'm.onnx', '--check-batch', '0'],
     ['--check-batch must be at least 1']),
]


@pytest.mark.parametrize('setup,needles', [row[1:] for row in BAD_INPUT],
                         ids=[row[0] for row in BAD_INPUT])
def test_bad_input_is_one_line(tmp_path, setup, needles):
    args = setup(tmp_path)
    before = listing(tmp_path / 'out')
    # im2rec and cifar_to_rec never import mxnet, which cannot start under the limit.
    limited = args[0] in ('tools/im2rec.py', 'tools/cifar_to_rec.py')
    proc = run_limited(*args) if limited else run_script(*args)
    assert_one_line_error(proc, *needles)
    assert listing(tmp_path / 'out') == before, 'nothing written, not even temporaries'


# ---------------------------------------------------------------------------------------
# Cases that need their own setup, or where the right answer is to succeed.

def lst_paths(path):
    return [line.split('\t')[2] for line in path.read_text(encoding='utf-8').splitlines()]


def records(prefix):
    """[(labels, payload)] of PREFIX.rec in file order."""
    out = []
    with open(str(prefix) + '.rec', 'rb') as f:
        for _, offset in recordio.read_index(str(prefix) + '.idx'):
            label, _, _, payload = recordio.unpack_image_record(recordio.read_record_at(f, offset))
            out.append((np.atleast_1d(label).tolist(), payload))
    return out


def test_symlinked_folders_that_are_not_loops_are_followed(tmp_path):
    for i in range(2):
        write_image(tmp_path / 'img' / 'a' / ('%d.png' % i), seed=i)
    for i in range(3):
        write_image(tmp_path / 'elsewhere' / 'b' / ('%d.png' % i), seed=10 + i)
    os.symlink(str(tmp_path / 'elsewhere' / 'b'), str(tmp_path / 'img' / 'b'))
    os.symlink(str(tmp_path / 'img' / 'a'), str(tmp_path / 'img' / 'c'))  # an alias, no loop
    proc = run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--list', '--recursive',
                      '--no-shuffle')
    assert proc.returncode == 0, proc.stderr
    assert lst_paths(tmp_path / 'd.lst') == ['a/0.png', 'a/1.png', 'b/0.png', 'b/1.png', 'b/2.png',
                                             'c/0.png', 'c/1.png']
    assert (tmp_path / 'd_classes.txt').read_text() == 'a\t0\nb\t1\nc\t2\n'


def test_zero_byte_image_is_skipped_counted_and_listed(tmp_path):
    for i in range(3):
        write_image(tmp_path / 'img' / 'c' / ('%d.png' % i), seed=i)
    (tmp_path / 'img' / 'c' / 'empty.png').write_bytes(b'')
    run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--list', '--recursive')
    proc = run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img')
    assert proc.returncode == 0, proc.stderr
    assert 'd.rec: 3 records' in proc.stderr and '1 skipped: c/empty.png: empty file' in proc.stderr
    assert len(records(tmp_path / 'd')) == 3
    proc = run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--pass-through')
    assert proc.returncode == 0 and '1 skipped: c/empty.png: empty file' in proc.stderr


def test_names_with_inner_spaces_list_pack_and_read_back(tmp_path):
    """Spaces a .lst keeps (inside the path) are listed, packed and read back; a leading
    space (refused at list time, in the table above) is the only kind readers strip."""
    write_image(tmp_path / 'img' / 'cats ' / ' tabby.png', seed=1)
    write_image(tmp_path / 'img' / 'dogs' / 'good dog .png', seed=2)
    assert run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--list', '--recursive',
                      '--no-shuffle').returncode == 0
    assert lst_paths(tmp_path / 'd.lst') == ['cats / tabby.png', 'dogs/good dog .png']
    proc = run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--pass-through')
    assert proc.returncode == 0 and '2 records' in proc.stderr and '0 skipped' in proc.stderr, \
        proc.stderr
    assert records(tmp_path / 'd') == [
        ([0.0], (tmp_path / 'img' / 'cats ' / ' tabby.png').read_bytes()),
        ([1.0], (tmp_path / 'img' / 'dogs' / 'good dog .png').read_bytes())]


def test_image_bombs_are_skipped_without_the_memory(tmp_path):
    """Under a 1 GB limit: decoding the 390 KB PNG takes 2.4 GB at its peak and resizing the
    118-byte one 13.8 GB; both are measured from their headers and skipped."""
    write_image(tmp_path / 'img' / 'ok.png', size=(40, 60))
    write_black_png(tmp_path / 'img' / 'huge.png', 20000, 20000)
    write_black_png(tmp_path / 'img' / 'thin.png', 1, 20000)
    assert run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--list',
                      '--no-shuffle').returncode == 0
    proc = run_limited('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--resize', '480',
                       '--num-thread', '2')
    assert proc.returncode == 0, proc.stderr
    assert '1 records' in proc.stderr and '2 skipped' in proc.stderr
    assert 'huge.png: 20000 x 20000 pixels, over --max-image-pixels 64000000' in proc.stderr
    assert ('thin.png: 480 x 9600000 pixels after --resize 480 (from 1 x 20000), over '
            '--max-image-pixels 64000000') in proc.stderr
    img = cv2.imdecode(np.frombuffer(records(tmp_path / 'd')[0][1], np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (480, 720, 3)


@pytest.mark.parametrize('ext', ['.png', '.hdr'])  # Pillow reads the PNG header; not HDR's
def test_max_image_pixels_caps_input_and_output(tmp_path, ext):
    write_image(tmp_path / 'img' / ('big' + ext), size=(100, 100), ext=ext)
    write_image(tmp_path / 'img' / ('wide' + ext), size=(50, 100), seed=1, ext=ext)
    (tmp_path / 'd.lst').write_text('0\t0\tbig%s\n1\t1\twide%s\n' % (ext, ext))

    def pack(*flags):
        proc = run_limited('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', *flags)
        assert proc.returncode == 0, proc.stderr
        return proc.stderr

    log = pack('--max-image-pixels', '9999')
    assert '1 records' in log and 'big%s: 100 x 100 pixels, over --max-image-pixels 9999' % ext in log
    log = pack('--max-image-pixels', '10000', '--resize', '100')  # wide: 5,000 -> 20,000 pixels
    assert ('wide%s: 200 x 100 pixels after --resize 100 (from 100 x 50), over '
            '--max-image-pixels 10000' % ext) in log
    assert '0 skipped' in pack('--max-image-pixels', '20000', '--resize', '100')
    assert [r[0] for r in records(tmp_path / 'd')] == [[0.0], [1.0]]
    assert '--max-image-pixels' in run_script('tools/im2rec.py', '--help').stdout


def test_verify_accepts_what_training_reads(tmp_path):
    write_rec(tmp_path / 'multi', [[1, 2, 3]] * 4)
    proc = run_script('tools/im2rec.py', '--verify', tmp_path / 'multi', '--multi-label')
    assert proc.returncode == 0 and 'OK (3 labels per record)' in proc.stderr, proc.stderr
    write_rec(tmp_path / 'one', [[2.0], [3.0]])  # stored as a list of one: training reads it
    proc = run_script('tools/im2rec.py', '--verify', tmp_path / 'one')
    assert proc.returncode == 0 and 'per label 2: 1, 3: 1' in proc.stderr, proc.stderr


def test_records_verify_rejects_fail_in_mxnet_too(tmp_path):
    """What --verify reports (several labels, a WebP image) is what MXNet's iterator fails
    on; the single-label PNG it accepts reads."""
    webp = cv2.imencode('.webp', np.zeros((16, 16, 3), np.uint8))[1].tobytes()
    for name, labels, payload, fails in [('ok', [0, 1], None, False),
                                         ('multi', [[1, 2, 3]] * 2, None, True),
                                         ('webp', [0, 1], webp, True)]:
        write_rec(tmp_path / name, labels, payload)
        verified = run_script('tools/im2rec.py', '--verify', tmp_path / name).returncode == 0
        try:
            it = mx.io.ImageRecordIter(path_imgrec=str(tmp_path / (name + '.rec')),
                                       data_shape=(3, 16, 16), batch_size=2, label_width=1)
            next(iter(it)).data[0].asnumpy()
            read = True
        except mx.base.MXNetError:
            read = False
        assert (verified, read) == (not fails, not fails), name


# ---------------------------------------------------------------------------------------
# Case 5: writing into a read-only folder, onto a full or too small disk, or under a file.

@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    """An image tree with its .lst, and a CIFAR-10 archive, all large enough to overflow a
    64 KB disk."""
    folder = tmp_path_factory.mktemp('inputs')
    for i in range(30):
        write_image(folder / 'img' / 'c' / ('%02d.png' % i), size=(64, 64), seed=i)
    assert run_script('tools/im2rec.py', folder / 'lists' / 'd', folder / 'img', '--list',
                      '--recursive').returncode == 0
    _make_cifar(folder)
    return folder


WRITERS = {
    'im2rec --list': lambda inp, out, trained: ['tools/im2rec.py', out / 'd', inp / 'img',
                                                '--list', '--recursive'],
    'im2rec': lambda inp, out, trained: ['tools/im2rec.py', out / 'd', inp / 'img',
                                         '--encoding', '.png'],
    'cifar_to_rec': lambda inp, out, trained: ['tools/cifar_to_rec.py', inp / 'cifar.tar.gz',
                                               out / 'cifar'],
    'export_onnx': lambda inp, out, trained: ['tools/export_onnx.py', '--model', trained / 'm',
                                              '--load-epoch', '2', '--image-shape', '3,16,16',
                                              '-o', out / 'm.onnx'],
    'quantize': lambda inp, out, trained: ['tools/quantize.py', '--model', trained / 'm',
                                           '--load-epoch', '2', '--calib-data',
                                           trained / 'train.rec', '--calib-mode', 'naive',
                                           '--num-calib-examples', '32', '--batch-size', '32',
                                           '-o', out / 'q'] + NORM,
}

# (kind, {tool: needles}); a tool missing from a kind does not apply.
WRITE_FAILURES = [
    ('read-only', {
        'im2rec --list': ['d_classes.txt: Read-only file system', 'write to another folder'],
        'im2rec': ['d.rec: Read-only file system'],
        'cifar_to_rec': ['cifar: Read-only file system'],
        'export_onnx': ['m.onnx: Read-only file system'],
        'quantize': ['-o', 'cannot write in', 'Read-only file system'],
    }),
    ('full', {
        'im2rec --list': ['d_classes.txt: No space left on device', 'free disk space'],
        'im2rec': ['d.rec: No space left on device'],
        'cifar_to_rec': ['train.rec: No space left on device'],
        'export_onnx': ['m.onnx: No space left on device'],
        'quantize': ['cannot write in', 'No space left on device'],
    }),
    ('too small', {  # room for the first writes only: the failure comes midway
        'im2rec': ['d.rec: No space left on device'],
        'cifar_to_rec': ['train.rec: No space left on device'],
        'export_onnx': ['m.onnx: No space left on device'],
        'quantize': ['the checkpoint takes about', 'MB free', 'choose another -o'],
    }),
    ('under a file', {
        'im2rec --list': ['is a file, not a folder'],
        'cifar_to_rec': ['Not a directory'],
        'export_onnx': ['is a file, not a folder'],
        'quantize': ['is a file, not a folder'],
    }),
]


@pytest.mark.parametrize('kind,tool,needles', [
    (kind, tool, needles) for kind, table in WRITE_FAILURES for tool, needles in table.items()])
def test_write_failures_are_one_line_and_leave_nothing(tmp_path, inputs, trained, kind, tool,
                                                       needles):
    if tool in ('export_onnx',) and importlib.util.find_spec('onnx') is None:
        pytest.skip('ONNX export needs requirements-deploy.txt')
    mount = tmp_path / 'mnt'
    lst = [inputs / 'lists' / 'd.lst'] if tool == 'im2rec' else []
    if kind == 'under a file':
        (tmp_path / 'afile').write_text('x')
        proc = run_script(*WRITERS[tool](inputs, tmp_path / 'afile', trained[0]))
        assert_one_line_error(proc, *needles)
        assert listing(tmp_path) == ['afile']
        return
    with tmpfs(mount, 64, read_only=kind == 'read-only', fill=kind == 'full', files=lst):
        before = listing(mount)
        proc = run_script(*WRITERS[tool](inputs, mount, trained[0]))
        assert_one_line_error(proc, *needles)
        assert listing(mount) == before, 'nothing written, not even temporaries'


# ---------------------------------------------------------------------------------------
# Case 7: what the ONNX exporter cannot convert is named.

@needs_onnx
def test_int8_checkpoint_export_is_refused(trained, tmp_path):
    folder, _ = trained
    proc = run_script('tools/quantize.py', '--model', folder / 'm', '--load-epoch', '2',
                      '--calib-data', folder / 'train.rec', '--calib-mode', 'naive',
                      '--num-calib-examples', '100000', '-o', tmp_path / 'q', *NORM)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'holds 1024 images, fewer than --num-calib-examples 100000' in proc.stderr
    assert 'naive calibration on 1024 images' in proc.stderr
    proc = run_script('tools/export_onnx.py', '--model', tmp_path / 'q', '--image-shape', '3,16,16',
                      '-o', tmp_path / 'q.onnx')
    assert_one_line_error(proc, 'q-0000.params is an INT8 checkpoint', '_sg_mkldnn_conv',
                          'INT8 checkpoints cannot be exported to ONNX',
                          'export the FP32 checkpoint it was made from instead')
    assert not list(tmp_path.glob('q*.onnx'))
    # Quantizing it again (a segmentation fault in MXNet, an empty folder left): refused.
    proc = run_script('tools/quantize.py', '--model', tmp_path / 'q', '--calib-data',
                      folder / 'train.rec', '-o', tmp_path / 'again' / 'qq')
    assert_one_line_error(proc, 'q-0000.params is an INT8 checkpoint', 'quantized already',
                          'quantize the FP32 checkpoint')
    assert not (tmp_path / 'again').exists()


def small_checkpoint(prefix, middle):
    """PREFIX-symbol.json/-0000.params of conv -> middle(x) -> fc -> SoftmaxOutput."""
    x = mx.sym.Convolution(mx.sym.var('data'), num_filter=4, kernel=(3, 3), pad=(1, 1), name='conv')
    x = mx.sym.FullyConnected(mx.sym.flatten(middle(x)), num_hidden=3, name='fc')
    sym = mx.sym.SoftmaxOutput(x, name='softmax')
    arg_shapes, _, _ = sym.infer_shape(data=(1, 3, 8, 8))
    rng = np.random.RandomState(0)
    sym.save(prefix + '-symbol.json')
    mx.nd.save(prefix + '-0000.params', {
        'arg:' + n: mx.nd.array(rng.uniform(-1, 1, s)) for n, s in zip(sym.list_arguments(), arg_shapes)
        if n not in ('data', 'softmax_label')})


@needs_onnx
@pytest.mark.parametrize('middle,needles', [
    (lambda x: mx.sym.Pooling(mx.sym.erf(x, name='myerf'), global_pool=True, kernel=(1, 1),
                              pool_type='avg'),
     ['cannot convert op erf (node myerf)']),
    (lambda x: mx.sym.Pooling(x, global_pool=True, kernel=(1, 1), pool_type='sum', name='sumpool'),
     ['cannot convert op Pooling (node sumpool)', "does not support pool_type=='sum'"]),
], ids=['no conversion', 'conversion fails'])
def test_exporter_failures_name_the_op(tmp_path, middle, needles):
    small_checkpoint(str(tmp_path / 'g'), middle)
    proc = run_script('tools/export_onnx.py', '--model', tmp_path / 'g', '--image-shape', '3,8,8',
                      '-o', tmp_path / 'g.onnx')
    assert_one_line_error(proc, *needles)
    assert sorted(os.listdir(tmp_path)) == ['g-0000.params', 'g-symbol.json']
