"""Small datasets decoded once into memory (common/memory_data.py): the pixels
ImageRecordIter gives, its augmentations' distributions, and when common.data uses them."""
import cv2
import numpy as np
import pytest

from common import data, memory_data, training_flags
from common.errors import UserError
from common.recordio import AtomicRecordWriter
from datasets import make_rec

MEAN, STD = [120.0, 110.0, 100.0], [60.0, 61.0, 62.0]


def _sets(prefix, shape):
    offsets, _ = data.scan_records(str(prefix) + '.rec', 'data-train')
    return memory_data.decode(str(prefix) + '.rec', offsets, shape)


@pytest.mark.parametrize('encoding,channels', [('.png', 3), ('.jpg', 3), ('.png', 1)])
def test_decoded_batches_equal_image_record_iter(tmp_path, encoding, channels):
    make_rec(tmp_path / 'v', 70, 4, size=16, seed=3, encoding=encoding)
    shape = (channels, 16, 16)
    images, labels = _sets(tmp_path / 'v', shape)
    ours = memory_data.MemoryEvalIter(images, labels, 32, MEAN, STD)
    theirs = data.eval_record_iter('data-val', str(tmp_path / 'v.rec'), '', shape, 32, 0,
                                   MEAN, STD, 1)
    seen = 0
    for a, b in zip(ours, theirs):
        real = 32 - a.pad
        assert np.array_equal(a.data[0].asnumpy()[:real], b.data[0].asnumpy()[:real])
        assert np.array_equal(a.label[0].asnumpy()[:real], b.label[0].asnumpy()[:real])
        seen += real
    assert seen == 70 and a.pad == 26  # 70 = 2 x 32 + 6: the last batch holds 26 fillers


def _find_crop(out, padded, pad, size):
    """(top, left, mirrored) of the crop of ``padded`` that ``out`` is, or None."""
    for top in range(2 * pad + 1):
        for left in range(2 * pad + 1):
            crop = padded[:, top:top + size, left:left + size]
            if np.array_equal(out, crop):
                return top, left, False
            if np.array_equal(out, crop[:, :, ::-1]):
                return top, left, True
    return None


def test_training_batches_are_padded_random_crops_and_mirrors(tmp_path):
    make_rec(tmp_path / 't', 40, 4, size=8, seed=1)
    images, labels = _sets(tmp_path / 't', (3, 8, 8))
    pad, fill = 2, 7
    it = memory_data.MemoryTrainIter(images, labels, 20, 60, pad, fill, True, True,
                                     [0, 0, 0], [1, 1, 1], seed=(5, 0))
    padded = np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    offsets, mirrors, counts = set(), [], np.zeros(len(labels), int)
    for batch in it:
        for out, label in zip(batch.data[0].asnumpy(), batch.label[0].asnumpy()):
            # which source image: the one whose label matches and a crop of which it is
            found = [(i, _find_crop(out, padded[i], pad, 8)) for i in np.flatnonzero(labels == label)]
            found = [(i, f) for i, f in found if f is not None]
            assert found, 'a training image is no crop of a padded source image'
            i, (top, left, mirrored) = found[0]
            counts[i] += 1
            offsets.add((top, left))
            mirrors.append(mirrored)
    assert offsets == {(t, l) for t in range(5) for l in range(5)}  # every offset drawn
    assert 0.4 < np.mean(mirrors) < 0.6  # 1,200 draws: a fair coin lands within 0.04 of 1/2
    assert counts.sum() == 1200 and counts.min() == counts.max() == 30  # 30 passes, each whole


def test_order_follows_the_seed_and_a_pass_fills_its_last_batch(tmp_path):
    make_rec(tmp_path / 't', 50, 5, size=8)
    images, labels = _sets(tmp_path / 't', (3, 8, 8))

    def labels_of(seed):
        it = memory_data.MemoryTrainIter(images, np.arange(50, dtype=np.float32), 16, 4, 0, 0,
                                         False, False, [0] * 3, [1] * 3, seed=seed)
        return np.concatenate([b.label[0].asnumpy() for b in it])
    first = labels_of((0, 0))
    assert len(first) == 64 and sorted(first[:50]) == list(range(50))
    assert np.array_equal(first[50:], first[:14])  # filled from the start of the order
    assert np.array_equal(first, labels_of((0, 0)))
    assert not np.array_equal(first, labels_of((1, 0)))


def _args(tmp_path, *flags):
    parser = training_flags.make_parser('t')
    args = data.parse_args(parser, ['--network', 'igcv3', '--data-train', str(tmp_path / 't.rec'),
                                    '--data-val', str(tmp_path / 'v.rec'), '--num-classes', '4',
                                    '--image-shape', '3,16,16', '--batch-size', '8',
                                    '--val-resize', '0', '--random-crop', '1',
                                    '--pad-size', '2'] + list(flags))
    args.num_examples = 32
    return args


def test_get_rec_iter_decodes_small_sets_and_reads_others(tmp_path):
    make_rec(tmp_path / 't', 32, 4, size=16)
    make_rec(tmp_path / 'v', 12, 4, size=16, seed=2)
    train_it, val_it = data.get_rec_iter(_args(tmp_path))
    assert isinstance(train_it, memory_data.MemoryTrainIter)
    assert isinstance(val_it, memory_data.MemoryEvalIter)
    assert sum(1 for _ in train_it) == 4
    for flags in (['--data-in-memory', '0'], ['--max-random-h', '10'], ['--image-shape', '3,12,12']):
        train_it, val_it = data.get_rec_iter(_args(tmp_path, *flags))
        assert not isinstance(train_it, memory_data.MemoryTrainIter), flags
        assert not isinstance(val_it, memory_data.MemoryEvalIter), flags
    with pytest.raises(UserError, match='--data-in-memory 1: .*--max-random-h 10'):
        data.get_rec_iter(_args(tmp_path, '--data-in-memory', '1', '--max-random-h', '10'))
    make_rec(tmp_path / 'v', 12, 4, size=20, seed=2)  # validation of another size: read
    train_it, val_it = data.get_rec_iter(_args(tmp_path))
    assert isinstance(train_it, memory_data.MemoryTrainIter)
    assert not isinstance(val_it, memory_data.MemoryEvalIter)


def test_a_record_that_does_not_decode_is_one_line(tmp_path):
    with AtomicRecordWriter(str(tmp_path / 't')) as writer:
        writer.write(0, 0.0, cv2.imencode('.png', np.zeros((16, 16, 3), np.uint8))[1].tobytes())
        writer.write(1, 1.0, b'not an image at all')
    with pytest.raises(UserError, match='record 1 does not decode.*im2rec.py --verify'):
        _sets(tmp_path / 't', (3, 16, 16))


def test_a_set_too_large_for_memory_is_read_from_records(tmp_path, monkeypatch):
    make_rec(tmp_path / 't', 32, 4, size=16)
    make_rec(tmp_path / 'v', 12, 4, size=16, seed=2)
    monkeypatch.setattr(memory_data, 'MEMORY_LIMIT', 32 * 3 * 16 * 16 - 1)
    train_it, _ = data.get_rec_iter(_args(tmp_path))
    assert not isinstance(train_it, memory_data.MemoryTrainIter)
