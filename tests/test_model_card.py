"""tools/model_card.py (common/model_card.py): a checkpoint released as files, and the card
of numbers read off them, on a real short training run."""
import hashlib
import json
import re

import pytest

from datasets import make_rec
from helpers import assert_one_line_error, run_script


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp('card')
    make_rec(folder / 'train', 256, 4, size=16, seed=0)
    make_rec(folder / 'val', 64, 4, size=16, seed=5)
    proc = run_script('train_cifar.py', '--network', 'igcv3_0.5x', '--data-train',
                      folder / 'train.rec', '--data-val', folder / 'val.rec', '--num-classes',
                      '4', '--batch-size', '32', '--num-epochs', '2', '--gpus=', '--seed', '1',
                      '--model-prefix', folder / 'm', '--log-file', folder / 'm.log')
    assert proc.returncode == 0, proc.stderr[-2000:]
    return folder


def test_a_release_copies_the_files_and_its_card_is_theirs(run, tmp_path):
    out = tmp_path / 'models' / 'tiny'
    proc = run_script('tools/model_card.py', run / 'm', '--epoch', '2', '--release', out,
                      '--json', tmp_path / 'card.json')
    assert proc.returncode == 0, proc.stderr
    names = ['tiny-symbol.json', 'tiny-0002.params', 'tiny-model.json', 'tiny.log']
    sources = ['m-symbol.json', 'm-0002.params', 'm-model.json', 'm.log']
    for name, source in zip(names, sources):
        assert (tmp_path / 'models' / name).read_bytes() == (run / source).read_bytes()
    assert not list((tmp_path / 'models').glob('*.states'))  # the optimizer stays behind
    card = json.loads((tmp_path / 'card.json').read_text())
    for entry, name in zip(card['files'], names):
        data = (tmp_path / 'models' / name).read_bytes()
        assert entry == {'name': name, 'bytes': len(data),
                         'sha256': hashlib.sha256(data).hexdigest()}
        assert '| `%s` | %s | `%s` |' % (name, '{:,}'.format(len(data)),
                                         entry['sha256']) in proc.stdout
    log = (run / 'm.log').read_text()
    val = [float(v) for v in re.findall(r'Epoch\[\d\] Validation-accuracy=([\d.]+)', log)]
    assert [e['val'] for e in card['epochs']] == val and len(val) == 2
    for e, v in zip(card['epochs'], val):
        assert re.search(r'^\| %d \| [\d.]+ \| %.2f \|' % (e['epoch'], 100 * v), proc.stdout,
                         re.M)
    from common.training_log import form_name
    form = form_name(re.search(r'CPU training: (.*)', log).group(1))
    assert form != '-' and [e['form'] for e in card['epochs']] == [form, form]
    assert re.search(r'^\| 2 \| .* \| %s \|$' % re.escape(form), proc.stdout, re.M)
    assert '%s: 2 epochs, median' % form in proc.stdout
    assert card['arguments']['network'] == 'igcv3_0.5x'
    assert card['model_info']['num_classes'] == 4


def test_a_release_never_overwrites_and_needs_every_file(run, tmp_path):
    out = tmp_path / 'rel'
    assert run_script('tools/model_card.py', run / 'm', '--epoch', '2', '--release',
                      out).returncode == 0
    before = (tmp_path / 'rel.log').read_bytes()
    (tmp_path / 'rel-symbol.json').write_text('edited')
    again = run_script('tools/model_card.py', run / 'm', '--epoch', '2', '--release', out)
    assert_one_line_error(again, 'rel-symbol.json exists', 'another output prefix')
    assert (tmp_path / 'rel-symbol.json').read_text() == 'edited'
    assert (tmp_path / 'rel.log').read_bytes() == before
    missing = run_script('tools/model_card.py', run / 'm', '--epoch', '3')
    assert_one_line_error(missing, 'm-0003.params: no such file')
    (tmp_path / 'short.log').write_text('\n'.join(
        l for l in (run / 'm.log').read_text().splitlines() if 'Epoch[1]' not in l) + '\n')
    for name in ('symbol.json', '0002.params', 'model.json'):
        (tmp_path / ('short-' + name)).write_bytes((run / ('m-' + name)).read_bytes())
    short = run_script('tools/model_card.py', tmp_path / 'short', '--epoch', '2')
    assert_one_line_error(short, 'no Train-accuracy line of epoch 2')
