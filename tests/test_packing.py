"""What im2rec did to the images travels with them: PREFIX.pack.json beside the records,
the model info's ``pack``, and tools/predict.py applying it to raw images (common/packing.py)."""
import json

import cv2
import mxnet as mx
import numpy as np
import pytest

from common import packing
from common.errors import UserError
from datasets import class_image
from helpers import run_script


def _tree(root, per_class=8):
    rng = np.random.RandomState(0)
    for label in range(2):
        folder = root / ('class_%d' % label)
        folder.mkdir(parents=True)
        for i in range(per_class):
            cv2.imwrite(str(folder / ('%02d.png' % i)), class_image(label, 64, rng))


def test_a_model_of_resized_records_is_fed_raw_images_as_it_was_trained(tmp_path):
    """Records packed with --resize 40 from 64-pixel images: predict.py on a raw image gives
    what it gives on the image as the record holds it (was: the raw 64 pixels center-cropped
    to 32, another picture); without the pack info in the model info it does not."""
    _tree(tmp_path / 'img')
    for extra in (['--list', '--recursive'], ['--resize', '40', '--encoding', '.png']):
        proc = run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', *extra)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((tmp_path / 'd.pack.json').read_text()) == \
        {'resize': 40, 'center_crop': False, 'color': 1}
    proc = run_script('train_cifar.py', '--network', 'igcv3_0.5x', '--data-train', tmp_path / 'd.rec',
                      '--data-val=', '--num-classes', '2', '--image-shape', '3,32,32',
                      '--num-epochs', '1', '--batch-size', '8', '--rgb-mean', '128,128,128',
                      '--rgb-std', '64,64,64', '--gpus=', '--model-prefix', tmp_path / 'm')
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads((tmp_path / 'm-model.json').read_text())
    assert info['pack'] == {'resize': 40, 'center_crop': False, 'color': 1}
    # The record's own image (40 pixels), written out, and the raw 64-pixel file.
    reader = mx.recordio.MXIndexedRecordIO(str(tmp_path / 'd.idx'), str(tmp_path / 'd.rec'), 'r')
    lst = {int(r.split('\t')[0]): r.split('\t')[2] for r in
           (tmp_path / 'd.lst').read_text().splitlines()}
    key = reader.keys[0]
    _, packed = mx.recordio.unpack_img(reader.read_idx(key))
    reader.close()
    assert packed.shape[:2] == (40, 40)
    cv2.imwrite(str(tmp_path / 'packed.png'), packed)

    def probabilities(image):
        proc = run_script('tools/predict.py', image, '--model', tmp_path / 'm', '--gpus=', '--json')
        assert proc.returncode == 0, proc.stderr[-2000:]
        return [t['probability'] for t in sorted(json.loads(proc.stdout)['top'],
                                                 key=lambda t: t['label'])], proc.stderr
    raw = tmp_path / 'img' / lst[key]
    want, _ = probabilities(tmp_path / 'packed.png')
    got, said = probabilities(raw)
    assert 'packed with --resize 40' in said
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=0)  # (the small ones too)
    del info['pack']
    (tmp_path / 'm-model.json').write_text(json.dumps(info))
    unaware, _ = probabilities(raw)
    assert not np.allclose(unaware, want, rtol=1e-2, atol=0), (unaware, want)


def test_pass_through_records_record_no_transform_and_bad_pack_infos_are_refused(tmp_path):
    _tree(tmp_path / 'img', per_class=2)
    run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--list', '--recursive')
    proc = run_script('tools/im2rec.py', tmp_path / 'd', tmp_path / 'img', '--pass-through')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert packing.read_pack_info(str(tmp_path / 'd.rec')) == \
        {'resize': 0, 'center_crop': False, 'color': -1}
    for bad, needle in (({'resize': -1, 'center_crop': False, 'color': 1}, "'resize'"),
                        ({'resize': 40, 'center_crop': 'yes', 'color': 1}, "'center_crop'"),
                        ({'resize': 40, 'center_crop': False, 'color': 2}, "'color'")):
        (tmp_path / 'd.pack.json').write_text(json.dumps(bad))
        with pytest.raises(UserError, match=needle):
            packing.read_pack_info(str(tmp_path / 'd.rec'))
    (tmp_path / 'd.pack.json').write_text('{')
    with pytest.raises(UserError, match='is not JSON'):
        packing.read_pack_info(str(tmp_path / 'd.rec'))
    assert packing.read_pack_info(str(tmp_path / 'none.rec')) is None
