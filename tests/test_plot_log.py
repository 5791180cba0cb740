"""tools/plot_log.py (common/plots.py) and the log reader (common/training_log.py) on the log
of a real short training run."""
import re

import pytest

from common import plots
from common.training_log import parse_log
from datasets import make_rec
from helpers import assert_one_line_error, run_script


@pytest.fixture(scope='module')
def training_log(tmp_path_factory):
    """A 2-epoch train_cifar.py run on 200 records (7 batches of 32, the last filled),
    without --num-examples; --disp-batches 4: one Speed line an epoch, after batch 4."""
    folder = tmp_path_factory.mktemp('log')
    make_rec(folder / 'train', 200, 4, size=16, seed=0)
    log = folder / 'train.log'
    proc = run_script('train_cifar.py', '--network', 'igcv3_0.5x', '--data-train',
                      folder / 'train.rec', '--num-classes', '4', '--image-shape', '3,16,16',
                      '--batch-size', '32', '--num-epochs', '2', '--lr', '0.05',
                      '--lr-step-epochs', '1', '--seed', '3', '--rgb-mean', '128,128,128',
                      '--rgb-std', '64,64,64', '--pad-size', '2', '--gpus=', '--data-nthreads',
                      '1', '--data-val=', '--disp-batches', '4', '--model-prefix', folder / 'm',
                      '--log-file', log)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return log


def logged(text, name):
    """{epoch: value} of the ``Epoch[e] NAME=value`` lines."""
    return {int(e): float(v) for e, v in re.findall(r'Epoch\[(\d+)\] %s=([\d.eE+-]+)' % name, text)}


def test_speed_is_the_epoch_images_over_its_time_cost(training_log):
    text = training_log.read_text()
    seconds = logged(text, 'Time cost')
    assert sorted(seconds) == [0, 1]
    curves = parse_log(str(training_log))
    # 200 records in batches of 32: 7 batches, 224 images an epoch (common/fit.py).
    assert curves['images'] == {0: 224, 1: 224}
    assert curves['counted'] == {0: 'log', 1: 'log'}
    assert curves['seconds'] == seconds
    assert curves['speed'] == {e: 224 / seconds[e] for e in seconds}
    # The learning rate of each epoch, as logged: 0.05, then x0.1 after epoch 1.
    assert curves['lr'] == logged(text, 'Learning-rate') == {0: 0.05, 1: 0.005}
    assert curves['train'] == logged(text, 'Train-accuracy')


def test_the_trained_line_counts_every_epoch(training_log):
    text = training_log.read_text()
    trained = {int(e): int(n) for e, n in re.findall(r'Epoch\[(\d+)\] Trained (\d+) images', text)}
    assert trained == {0: 224, 1: 224}
    curves = parse_log(str(training_log))
    assert curves['counted'] == {0: 'log', 1: 'log'}
    # The line wins over the arguments: an edited --num-examples changes nothing.
    edited = training_log.parent / 'edited-with-trained.log'
    edited.write_text(text.replace("'num_examples': None", "'num_examples': 100"))
    assert parse_log(str(edited))['images'] == {0: 224, 1: 224}


def _old_log(text):
    """The log as written before the Trained line existed."""
    return ''.join(l for l in text.splitlines(True) if '] Trained ' not in l)


def test_num_examples_and_missing_data_as_the_log_says(training_log, tmp_path):
    text = _old_log(training_log.read_text())
    seconds = logged(text, 'Time cost')
    # --num-examples 100 given: 4 batches (the last filled), 128 images.
    edited = tmp_path / 'num-examples.log'
    edited.write_text(text.replace("'num_examples': None", "'num_examples': 100"))
    curves = parse_log(str(edited))
    assert curves['images'] == {0: 128, 1: 128}
    # Training data gone, no --num-examples: the Speed lines' last batch (4) is all the
    # log tells, so 5 of the 7 batches are counted: a lower bound, said on stderr.
    gone = tmp_path / 'gone.log'
    gone.write_text(text.replace(str(training_log.parent / 'train.rec'), '/nonexistent/t.rec'))
    curves = parse_log(str(gone))
    last = {int(e): int(b) for e, b in re.findall(r'Epoch\[(\d+)\] Batch \[\d+-(\d+)\]', text)}
    assert curves['images'] == {e: (last[e] + 1) * 32 for e in (0, 1)} == {0: 160, 1: 160}
    assert curves['counted'] == {0: 'speed lines', 1: 'speed lines'}
    assert curves['speed'] == {e: 160 / seconds[e] for e in seconds}
    proc = run_script('tools/plot_log.py', gone, '-o', tmp_path / 'gone.png')
    assert proc.returncode == 0, proc.stderr
    assert 'images/s of epochs 0, 1 are lower bounds' in proc.stderr


def test_plot_is_written_and_a_log_without_epochs_is_refused(training_log, tmp_path):
    png = tmp_path / 'curves.png'
    proc = run_script('tools/plot_log.py', training_log, '-o', png)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 'lower bounds' not in proc.stderr
    (tmp_path / 'other.log').write_text('2026-01-01 00:00:00,000 something else\n')
    proc = run_script('tools/plot_log.py', tmp_path / 'other.log', '-o', tmp_path / 'x.png')
    assert_one_line_error(proc, 'holds no "Epoch[N] Train-accuracy=" lines')
    assert not (tmp_path / 'x.png').exists()


def test_an_interrupted_epoch_is_left_out_until_it_runs_again(training_log, tmp_path):
    """A stopped epoch logs the accuracy and speed of its few batches; it is marked and not
    drawn as a full epoch. Losses are read, and the title names the run."""
    text = training_log.read_text()
    part = ('2026-01-01 00:00:00,000 Epoch[2] Train-accuracy=0.250000\n'
            '2026-01-01 00:00:00,000 Epoch[2] Train-cross-entropy=1.300000\n'
            '2026-01-01 00:00:00,000 Epoch[2] Time cost=0.100\n'
            '2026-01-01 00:00:00,000 Epoch[2] Trained 32 images in 0.100 s: 320.00 images/s\n'
            '2026-01-01 00:00:00,000 Epoch[2] Interrupted after 1 of 7 batches\n')
    log = tmp_path / 'stopped.log'
    log.write_text(text + part)
    curves = parse_log(str(log))
    assert curves['interrupted'] == {2: (1, 7)}
    assert 2 not in plots.complete(curves['speed'], curves) and 1 in curves['speed']
    assert sorted(curves['train_loss']) == [0, 1, 2] and curves['train_loss'][2] == 1.3
    assert plots.title(curves, str(log)) == 'igcv3_0.5x, 1x, cifar10, 2 epochs (stopped.log)'
    proc = run_script('tools/plot_log.py', log, '-o', tmp_path / 'c.png')
    assert proc.returncode == 0 and 'epoch 2 was stopped after 1 of 7 batches' in proc.stderr
    # resumed: the epoch runs again in full, and counts
    log.write_text(text + part + part.replace('0.250000', '0.500000').rsplit('2026', 1)[0])
    curves = parse_log(str(log))
    assert curves['interrupted'] == {} and curves['train'][2] == 0.5


def test_each_epoch_keeps_the_cpu_form_of_the_run_that_trained_it(training_log, tmp_path):
    """A run resumed on another machine trains in another form: each epoch is read with the
    form its own run logged (the model card's column), not the last one."""
    text = training_log.read_text()
    forms = re.findall(r'CPU training: (.*)', text)
    assert len(forms) == 1  # (the run logs its form once, after its arguments)
    curves = parse_log(str(training_log))
    assert curves['form'] == {0: forms[0].strip(), 1: forms[0].strip()}
    start = re.search(r'.*start with arguments .*\n', text).group(0)
    avx2 = 'oneDNN kernels DNNL_MAX_CPU_ISA=AVX2, training form, fused'
    other = 'x CPU training: %s\n' % avx2
    epoch1 = text[text.index('Epoch[1]') - 24:]
    log = tmp_path / 'resumed.log'
    log.write_text(text + start + other + epoch1)
    curves = parse_log(str(log))
    assert curves['form'][0] == forms[0].strip() and curves['form'][1] == avx2
    from common.training_log import form_name
    assert form_name(curves['form'][1]) == 'fused, AVX2'
    log.write_text(text + start + epoch1)  # (a run that logged no form: none is assumed)
    assert 1 not in parse_log(str(log))['form']
