"""tools/im2rec.py: lists, packing, verification, and interoperability with MXNet's own."""
import importlib.util
import json
import re
import os
import signal
import subprocess
import sys
import time

import cv2
import mxnet as mx
import numpy as np
import pytest

from common import recordio
from common.recordio import AtomicRecordWriter
from helpers import ROOT, assert_one_line_error, run_script

WHEEL_IM2REC = os.path.join(os.path.dirname(importlib.util.find_spec('mxnet').origin),
                            'tools', 'im2rec.py')


def make_tree(root, per_class=6, classes=3, seed=0):
    rng = np.random.RandomState(seed)
    images = {}
    for c in range(classes):
        folder = os.path.join(root, 'class_%s' % 'abc'[c])
        os.makedirs(folder, exist_ok=True)
        for i in range(per_class):
            h, w = rng.randint(40, 80), rng.randint(40, 80)
            img = cv2.resize(rng.randint(0, 256, (h // 4, w // 4, 3)).astype(np.uint8), (w, h))
            rel = os.path.join('class_%s' % 'abc'[c], '%02d.png' % i)
            cv2.imwrite(os.path.join(root, rel), img)
            images[rel] = (img, c)
    return images


def read_lst(path):
    with open(path) as f:
        return [line.rstrip('\n').split('\t') for line in f]


def test_lists_match_the_wheels_and_split_by_ratio(tmp_path):
    make_tree(tmp_path / 'img')
    ours = run_script('tools/im2rec.py', tmp_path / 'o' / 'd', tmp_path / 'img', '--list',
                      '--recursive', '--train-ratio', '0.5', '--test-ratio', '0.2')
    assert ours.returncode == 0, ours.stderr
    (tmp_path / 'w').mkdir()
    wheel = run_script(WHEEL_IM2REC, tmp_path / 'w' / 'd', tmp_path / 'img', '--list',
                       '--recursive', '--train-ratio', '0.5', '--test-ratio', '0.2')
    assert wheel.returncode == 0, wheel.stderr
    for part, size in (('train', 9), ('test', 3), ('val', 6)):
        mine = read_lst(tmp_path / 'o' / ('d_%s.lst' % part))
        assert mine == read_lst(tmp_path / 'w' / ('d_%s.lst' % part)), part
        assert len(mine) == size
    every = sum((read_lst(tmp_path / 'o' / ('d_%s.lst' % p)) for p in ('train', 'test', 'val')), [])
    assert sorted(int(r[0]) for r in every) == list(range(18))
    for index, label, rel in every:
        assert float(label) == 'abc'.index(rel.split('/')[0][-1])
    classes = (tmp_path / 'o' / 'd_classes.txt').read_text().split('\n')
    assert classes[:3] == ['class_a\t0', 'class_b\t1', 'class_c\t2']


def test_chunks_and_no_shuffle(tmp_path):
    make_tree(tmp_path / 'img', per_class=3)
    proc = run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--list', '--recursive',
                      '--chunks', '2', '--no-shuffle')
    assert proc.returncode == 0, proc.stderr
    first, second = read_lst(tmp_path / 'd_0.lst'), read_lst(tmp_path / 'd_1.lst')
    assert [int(r[0]) for r in first + second] == list(range(9))
    assert len(first) == 5


def pack(tmp_path, *flags):
    proc = run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', *flags)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_packed_records_read_back_through_mxnet(tmp_path):
    images = make_tree(tmp_path / 'img')
    run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--list', '--recursive')
    proc = pack(tmp_path, '--encoding', '.png', '--num-thread', '2')
    assert re.search(r'18 records, [\d.]+ MB, [\d.]+ images/s, 0 skipped', proc.stderr)
    lst = {int(r[0]): r[2] for r in read_lst(tmp_path / 'd.lst')}
    reader = mx.recordio.MXIndexedRecordIO(str(tmp_path / 'd.idx'), str(tmp_path / 'd.rec'), 'r')
    assert sorted(reader.keys) == sorted(lst)
    for key, rel in lst.items():
        header, img = mx.recordio.unpack_img(reader.read_idx(key))
        assert header.id == key and header.label == images[rel][1]
        np.testing.assert_array_equal(img, images[rel][0])
    reader.close()
    it = mx.io.ImageRecordIter(path_imgrec=str(tmp_path / 'd.rec'), path_imgidx=str(tmp_path / 'd.idx'),
                               data_shape=(3, 40, 40), batch_size=18, shuffle=False)
    labels = next(iter(it)).label[0].asnumpy()
    keys_in_file = [int(line.split('\t')[0]) for line in (tmp_path / 'd.idx').read_text().splitlines()]
    np.testing.assert_array_equal(labels, [images[lst[k]][1] for k in keys_in_file])


def test_resize_center_crop_gray_and_pass_through(tmp_path):
    make_tree(tmp_path / 'img', per_class=2)
    run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--list', '--recursive')
    lst = {int(r[0]): r[2] for r in read_lst(tmp_path / 'd.lst')}

    def first_record():
        reader = mx.recordio.MXIndexedRecordIO(str(tmp_path / 'd.idx'), str(tmp_path / 'd.rec'), 'r')
        key = reader.keys[0]
        header, payload = mx.recordio.unpack(reader.read_idx(key))
        reader.close()
        return key, payload

    pack(tmp_path, '--center-crop', '--resize', '32', '--color', '0')
    key, payload = first_record()
    img = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img.shape == (32, 32)
    pack(tmp_path, '--pass-through')
    key, payload = first_record()
    assert payload == (tmp_path / 'img' / lst[key]).read_bytes()


def test_pack_label_keeps_every_label(tmp_path):
    make_tree(tmp_path / 'img', per_class=1, classes=2)
    (tmp_path / 'd.lst').write_text('0\t1.0\t2.5\t3.0\tclass_a/00.png\n1\t4.0\t5.0\t6.0\tclass_b/00.png\n')
    pack(tmp_path, '--pack-label')
    reader = mx.recordio.MXIndexedRecordIO(str(tmp_path / 'd.idx'), str(tmp_path / 'd.rec'), 'r')
    header, _ = mx.recordio.unpack(reader.read_idx(0))
    np.testing.assert_array_equal(header.label, [1.0, 2.5, 3.0])
    assert header.flag == 3


def test_corrupt_images_are_skipped_and_listed_or_fail_with_strict(tmp_path):
    make_tree(tmp_path / 'img', per_class=3)
    (tmp_path / 'img' / 'class_b' / 'zz.png').write_bytes(b'not a png')
    run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--list', '--recursive')
    proc = pack(tmp_path)
    assert '9 records' in proc.stderr and '1 skipped: class_b/zz.png' in proc.stderr
    for name in ('d.rec', 'd.idx', 'd.pack.json'):  # (what the pack wrote)
        os.remove(tmp_path / name)
    proc = run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--strict')
    assert_one_line_error(proc, '--strict', 'class_b/zz.png')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['d.lst', 'd_classes.txt', 'img']


def test_killed_pack_leaves_nothing_that_looks_finished(tmp_path):
    make_tree(tmp_path / 'img', per_class=200, classes=2)
    run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--list', '--recursive')
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    proc = subprocess.Popen([sys.executable, 'tools/im2rec.py', str(tmp_path / 'd'),
                             str(tmp_path / 'img'), '--encoding', '.png', '--quality', '9',
                             '--resize', '400'], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not list(tmp_path.glob('d.tmp-*.rec')) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (tmp_path / 'd.rec').exists() and not (tmp_path / 'd.idx').exists()
    assert list(tmp_path.glob('d.tmp-*.rec')), 'killed before it started writing'
    pack(tmp_path)
    assert not list(tmp_path.glob('d.tmp-*'))
    assert run_script('tools/im2rec.py', '--verify', tmp_path / 'd').returncode == 0


def test_wheel_records_verify_and_train_with_our_iterators(tmp_path):
    make_tree(tmp_path / 'img', per_class=8, classes=2)
    run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--list', '--recursive')
    proc = run_script(WHEEL_IM2REC, tmp_path / 'd', tmp_path / 'img', '--resize', '32')
    assert proc.returncode == 0, proc.stderr
    proc = run_script('tools/im2rec.py', '--verify', tmp_path / 'd')
    assert proc.returncode == 0, proc.stderr
    assert 'per label 0: 8, 1: 8' in proc.stderr and 'OK' in proc.stderr
    proc = run_script('train_cifar.py', '--network', 'igcv3_0.5x', '--data-train', tmp_path / 'd.rec',
                      '--data-val', tmp_path / 'd.rec', '--num-classes', '2', '--num-examples', '16',
                      '--batch-size', '8', '--num-epochs', '1', '--image-shape', '3,16,16',
                      '--gpus=', '--model-prefix', tmp_path / 'm')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'Epoch[0] Validation-accuracy=' in proc.stderr


def test_verify_finds_corruption_truncation_and_a_wrong_index(tmp_path):
    make_tree(tmp_path / 'img', per_class=4, classes=2)
    run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--list', '--recursive')
    pack(tmp_path)
    rec = (tmp_path / 'd.rec').read_bytes()
    idx = (tmp_path / 'd.idx').read_text()
    offsets = [int(line.split('\t')[1]) for line in idx.splitlines()]

    (tmp_path / 'd.rec').write_bytes(rec[:-50])
    assert_one_line_error(run_script('tools/im2rec.py', '--verify', tmp_path / 'd'), 'truncated')

    broken = bytearray(rec)
    broken[offsets[3] + 60:offsets[3] + 400] = b'\xff' * 340
    (tmp_path / 'd.rec').write_bytes(bytes(broken))
    assert_one_line_error(run_script('tools/im2rec.py', '--verify', tmp_path / 'd'), 'does not decode')

    (tmp_path / 'd.rec').write_bytes(rec)
    (tmp_path / 'd.idx').write_text('\n'.join(idx.splitlines()[:-1]) + '\n')
    assert_one_line_error(run_script('tools/im2rec.py', '--verify', tmp_path / 'd'), 'repack both')
    lines = idx.splitlines()
    lines[1] = lines[1].split('\t')[0] + '\t%d' % (offsets[1] + 4)
    (tmp_path / 'd.idx').write_text('\n'.join(lines) + '\n')
    assert_one_line_error(run_script('tools/im2rec.py', '--verify', tmp_path / 'd'), 'not the start')


def test_payload_holding_the_magic_number_round_trips_through_mxnet(tmp_path):
    magic = np.uint32(recordio.MAGIC).tobytes()
    payloads = [b'abcd' + magic + b'efgh' + magic + b'xy', magic + b'1234', b'12' + magic, b'plain']
    with AtomicRecordWriter(str(tmp_path / 'm')) as w:
        for i, p in enumerate(payloads):
            w.write(i, float(i), p)
    reader = mx.recordio.MXIndexedRecordIO(str(tmp_path / 'm.idx'), str(tmp_path / 'm.rec'), 'r')
    for i, p in enumerate(payloads):
        header, payload = mx.recordio.unpack(reader.read_idx(i))
        assert payload == p and header.label == i
    reader.close()
    with open(tmp_path / 'm.rec', 'rb') as f:
        offsets = [int(l.split('\t')[1]) for l in (tmp_path / 'm.idx').read_text().splitlines()]
        for i, off in enumerate(offsets):
            assert recordio.unpack_image_record(recordio.read_record_at(f, off))[3] == payloads[i]
    assert [head[1] for head in recordio.scan_headers(str(tmp_path / 'm.rec'))] == [0, 1, 2, 3]


@pytest.mark.parametrize('args,needles', [
    (['nope/d', 'nope/img', '--list'], ['no such folder']),
    (['{t}/d', '{t}', '--list'], ['no images']),
    (['{t}/d', '{t}'], ['no {t}/d*.lst']),
    (['--verify', '{t}/missing'], ['missing.rec: no such file']),
])
def test_user_errors(tmp_path, args, needles):
    args = [a.format(t=tmp_path) for a in args]
    assert_one_line_error(run_script('tools/im2rec.py', *args), *[n.format(t=tmp_path) for n in needles])


def test_imagenet_tree_and_flat_val_folder_to_data_dir(tmp_path):
    """docs/training.md's ImageNet path in miniature: a class-folder training tree and a flat
    validation folder with a LOC_val_solution.csv label file, listed and packed with the
    same labels, then trained on through --data-dir."""
    rng = np.random.RandomState(0)
    synsets = ['n03', 'n01', 'n02']  # sorted: n01 -> 0, n02 -> 1, n03 -> 2
    for s in synsets:
        os.makedirs(tmp_path / 'train' / s)
        for i in range(4):
            cv2.imwrite(str(tmp_path / 'train' / s / ('%s_%d.JPEG' % (s, i))),
                        rng.randint(0, 256, (40, 48, 3)).astype(np.uint8))
    os.makedirs(tmp_path / 'val')
    truth = {}
    lines = ['ImageId,PredictionString']
    for i in range(6):
        name = 'ILSVRC2012_val_%08d' % (i + 1)
        truth[name] = synsets[i % 3]
        cv2.imwrite(str(tmp_path / 'val' / (name + '.JPEG')),
                    rng.randint(0, 256, (40, 48, 3)).astype(np.uint8))
        lines.append('%s,%s 1 2 30 40 %s 3 4 20 30' % (name, truth[name], truth[name]))
    (tmp_path / 'LOC_val_solution.csv').write_text('\n'.join(lines) + '\n')
    out = tmp_path / 'imagenet'
    exts = ['--exts', '.JPEG']
    for cmd in (['tools/im2rec.py', out / 'train', tmp_path / 'train', '--list', '--recursive'],
                ['tools/im2rec.py', out / 'train', tmp_path / 'train'],
                ['tools/im2rec.py', out / 'val', tmp_path / 'val', '--list', '--no-shuffle',
                 '--label-file', tmp_path / 'LOC_val_solution.csv',
                 '--classes', out / 'train_classes.txt'],
                ['tools/im2rec.py', out / 'val', tmp_path / 'val'],
                ['tools/im2rec.py', '--verify', out / 'val']):
        proc = run_script(*(cmd + exts if '--list' in cmd else cmd))
        assert proc.returncode == 0, proc.stderr[-2000:]
    index = {'n01': 0, 'n02': 1, 'n03': 2}
    listed = [l.split('\t') for l in (out / 'val.lst').read_text().splitlines()]
    assert [(os.path.splitext(p)[0], float(l)) for _, l, p in listed] == \
        [(n, float(index[s])) for n, s in sorted(truth.items())]
    train_labels = {p.split('/')[0]: float(l) for _, l, p in
                    (l.split('\t') for l in (out / 'train.lst').read_text().splitlines())}
    assert train_labels == {s: float(i) for s, i in index.items()}
    proc = run_script('train_imagenet.py', '--network', 'igcv3_0.5x', '--data-dir', out,
                      '--num-classes', '3', '--num-epochs', '1', '--batch-size', '4',
                      '--image-shape', '3,32,32', '--gpus=', '--data-nthreads', '1',
                      '--model-prefix', tmp_path / 'm')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r'Epoch\[0\] Validation-accuracy=', proc.stderr)
    assert json.loads((tmp_path / 'm-model.json').read_text())['classes'] == ['n01', 'n02', 'n03']
    # A flat folder image without a label, and --data-dir without records: one line each.
    cv2.imwrite(str(tmp_path / 'val' / 'stray.JPEG'), np.zeros((8, 8, 3), np.uint8))
    proc = run_script('tools/im2rec.py', out / 'v2', tmp_path / 'val', '--list', *exts,
                      '--label-file', tmp_path / 'LOC_val_solution.csv')
    assert_one_line_error(proc, 'no label for 1 of the images', 'stray.JPEG')
    proc = run_script('train_imagenet.py', '--data-dir', tmp_path / 'val')
    assert_one_line_error(proc, 'holds neither train.rec nor NAME_train.rec')


def test_data_dir_takes_the_pair_train_ratio_packs(tmp_path):
    import train_imagenet
    for name in ('d_train.rec', 'd_val.rec'):
        (tmp_path / name).write_bytes(b'')
    args = train_imagenet.parse_args(['--data-dir', str(tmp_path)])
    assert (args.data_train, args.data_val) == (str(tmp_path / 'd_train.rec'),
                                                 str(tmp_path / 'd_val.rec'))


def test_verify_fails_a_jpeg_corrupt_inside_and_takes_the_file_name(tmp_path):
    """libjpeg decodes a JPEG whose entropy-coded data is damaged to an image (garbage in
    it) and only warns on stderr: --verify must fail it. --verify also takes X.rec for X."""
    rng = np.random.RandomState(0)
    good = cv2.imencode('.jpg', (rng.rand(48, 48, 3) * 255).astype(np.uint8))[1].tobytes()
    bad = bytearray(good)
    bad[len(bad) // 2:len(bad) // 2 + 20] = b'\xff\xd0' * 10
    assert cv2.imdecode(np.frombuffer(bytes(bad), np.uint8), cv2.IMREAD_COLOR) is not None
    with AtomicRecordWriter(str(tmp_path / 'ok')) as writer:
        for i in range(3):
            writer.write(i, float(i), good)
    with AtomicRecordWriter(str(tmp_path / 'd')) as writer:
        for i in range(3):
            writer.write(i, float(i), bytes(bad) if i == 1 else good)
    for name in ('ok', 'ok.rec'):
        proc = run_script('tools/im2rec.py', '--verify', tmp_path / name)
        assert proc.returncode == 0, proc.stderr
    proc = run_script('tools/im2rec.py', '--verify', tmp_path / 'd.rec')
    assert_one_line_error(proc, 'decodes with errors', 'Corrupt JPEG data', 'repack')


def test_options_between_the_positionals_and_switch_help(tmp_path):
    """OUT --list --recursive ROOT, as MXNet's own im2rec takes it; --help shows no
    '(default: True)' for --no-shuffle (it reads as if the switch were on)."""
    make_tree(tmp_path / 'img', per_class=2)
    proc = run_script('tools/im2rec.py', tmp_path / 'd', '--list', '--recursive', tmp_path / 'img')
    assert proc.returncode == 0, proc.stderr
    assert len(read_lst(tmp_path / 'd.lst')) == 6
    text = run_script('tools/im2rec.py', '--help').stdout
    assert 'keep the sorted order' in text and '(default: True)' not in text


def test_bench_im2rec_times_both_tools_on_the_same_list(tmp_path):
    """tools/bench_im2rec.py in miniature: both tools pack the generated images, and the
    report's rates and ratio agree with its seconds."""
    out = tmp_path / 'bench.json'
    proc = run_script('tools/bench_im2rec.py', '--images', '12', '--rounds', '2', '--resize',
                      '64', '--json', out)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    for name in ('ours', 'wheel'):
        assert len(report['seconds'][name]) == 2
        assert report['images_per_sec_best'][name] == pytest.approx(
            12 / min(report['seconds'][name]))
    assert report['ratio_ours_over_wheel'] == pytest.approx(
        report['images_per_sec_best']['ours'] / report['images_per_sec_best']['wheel'])
    assert 'round 1' in proc.stdout and 'ratio' in proc.stdout
