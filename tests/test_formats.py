"""common's data-format modules on their own, as a library user calls them: image_lists
(the .lst format), classes (class-name files), packing (a list's images into records),
record_checks (what a .rec must pass), digits (the demos' data). The command lines over
them are tested in test_im2rec.py, test_hardening_tools.py and test_demo.py."""
import os

import cv2
import numpy as np
import pytest

from common import classes, digits, image_lists, packing, record_checks, recordio
from common.errors import UserError


def _tree(root, per_class=3, names=('cat', 'dog')):
    rng = np.random.RandomState(0)
    for name in names:
        os.makedirs(os.path.join(root, name))
        for i in range(per_class):
            img = rng.randint(0, 256, (20 + i, 24, 3)).astype(np.uint8)
            cv2.imwrite(os.path.join(root, name, '%d.png' % i), img)


def test_lists_of_a_tree_read_back_with_their_class_file(tmp_path):
    _tree(tmp_path / 'img')
    written = image_lists.make_lists(str(tmp_path / 'out' / 'd'), str(tmp_path / 'img'),
                                     recursive=True, train_ratio=0.5)
    assert [(os.path.basename(p), n) for p, n in written] == [('d_train.lst', 3),
                                                              ('d_val.lst', 3)]
    items = [item for path, _ in written for item in image_lists.read_list(path)]
    assert sorted(index for index, _, _ in items) == list(range(6))
    for _, rel, labels in items:
        assert labels == [float(('cat', 'dog').index(rel.split('/')[0]))]
    assert classes.read_class_names(str(tmp_path / 'out' / 'd_classes.txt')) == ['cat', 'dog']


def test_a_name_a_list_line_cannot_hold_is_refused(tmp_path):
    for bad in ('a\tb.png', ' lead.png'):
        with pytest.raises(UserError, match='rename it'):
            image_lists.check_list_name(str(tmp_path), bad)
    image_lists.check_list_name(str(tmp_path), 'fine name.png')
    (tmp_path / 'x.lst').write_text('0\t1.0\n')
    with pytest.raises(UserError, match='line 1 is not'):
        list(image_lists.read_list(str(tmp_path / 'x.lst')))


def test_class_names_round_trip_and_a_line_break_is_refused(tmp_path):
    path = str(tmp_path / 'classes.txt')
    classes.write_class_names(path, ['T-shirt/top', 'Ankle boot'])
    assert classes.read_class_names(path, 2) == ['T-shirt/top', 'Ankle boot']
    classes.write_labelled_class_names(path, [('b', 1), ('a', 0)])
    assert classes.read_class_names(path) == ['a', 'b']
    with pytest.raises(UserError, match='cannot be a line'):
        classes.write_class_names(path, ['two\nlines'])
    assert classes.read_class_names(path) == ['a', 'b']  # left as it was


def test_packing_a_list_writes_records_that_verify(tmp_path):
    _tree(tmp_path / 'img')
    (lst, _), = image_lists.make_lists(str(tmp_path / 'd'), str(tmp_path / 'img'),
                                       recursive=True, shuffle=False)
    options = packing.pack_options(resize=10, encoding='.png', num_thread=2)
    count, skipped = packing.pack_list(lst, str(tmp_path / 'img'), options)
    assert (count, skipped) == (6, [])
    assert record_checks.verify(str(tmp_path / 'd')) == {0.0: 3, 1.0: 3}
    assert packing.read_pack_info(str(tmp_path / 'd.rec')) == {
        'resize': 10, 'center_crop': False, 'color': 1}
    with open(tmp_path / 'd.rec', 'rb') as f:
        first = recordio.read_record_at(f, 0)
    label, index, _, payload = recordio.unpack_image_record(first)
    image = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_UNCHANGED)
    assert (label, index, min(image.shape[:2])) == (0.0, 0, 10)


def test_an_unreadable_image_is_skipped_or_with_strict_refused(tmp_path):
    _tree(tmp_path / 'img', per_class=2, names=('a',))
    (tmp_path / 'img' / 'a' / '1.png').write_bytes(b'not a png')
    (lst, _), = image_lists.make_lists(str(tmp_path / 'd'), str(tmp_path / 'img'),
                                       recursive=True, shuffle=False)
    count, skipped = packing.pack_list(lst, str(tmp_path / 'img'), packing.pack_options())
    assert count == 1 and skipped == ['a/1.png: not a decodable image']
    with pytest.raises(UserError, match='--strict: a/1.png'):
        packing.pack_list(lst, str(tmp_path / 'img'), packing.pack_options(strict=True))


@pytest.mark.parametrize('entries, problem', [
    ([(0, 0), (1, 40)], None),
    ([(0, 0)], '1 entries for 2 records'),
    ([(0, 0), (1, 44)], 'key 1 points at byte 44, which is not the start of a record'),
    ([(0, 0), (1, 0)], 'its entries do not point once at each record'),
    ([(0, 0), (0, 40)], 'its entries do not point once at each record'),
])
def test_index_problem_names_what_is_wrong(entries, problem):
    assert record_checks.index_problem(entries, [0, 40]) == problem


def test_record_check_sees_a_format_mxnet_cannot_decode():
    webp = cv2.imencode('.webp', np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    png = cv2.imencode('.png', np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    assert record_checks.check_record(recordio.pack_image_record(3, 7, png))[1:] == (7, None)
    assert 'not JPEG, PNG' in record_checks.check_record(
        recordio.pack_image_record(3, 7, webp))[2]
    assert record_checks.check_record(recordio.pack_image_record(3, 7, png[:40]))[2] == \
        'does not decode'


def test_digits_are_the_packages_images_resized(tmp_path):
    images, labels = digits.digit_images(28, limit=20)
    assert len(images) == 20 and images[0].shape == (28, 28) and images[0].dtype == np.uint8
    assert list(labels[:10]) == list(range(10))  # the package's order
    assert images[0].max() > 200 and images[0].min() == 0  # 0..16 scaled to 0..255
    train, val = digits.write_digit_records(str(tmp_path), 1500)
    assert (train, val) == (1500, 297)
    assert classes.read_class_names(str(tmp_path / 'classes.txt')) == [str(d) for d in range(10)]
    assert record_checks.verify(str(tmp_path / 'val'))[0.0] > 0
