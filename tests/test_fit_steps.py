"""common/fit.py's steps one by one, in this process: prepare counts the data, resume
finds the starting point, bind builds the Module, train_epoch stops where asked,
save_interrupted and save_epoch write what they should (and refuse what they must),
validate_epoch logs MXNet's lines."""
import logging
import os

import mxnet as mx
import numpy as np
import pytest

from common import checkpoint, fit
from common import data as data_mod
from common.errors import Interrupted, UserError
from datasets import make_rec

import train_cifar


@pytest.fixture(scope='module')
def recs(tmp_path_factory):
    folder = tmp_path_factory.mktemp('recs')
    make_rec(folder / 'train', 128, 4, size=16, seed=0)
    make_rec(folder / 'val', 48, 4, size=16, seed=1)
    return folder


def parse(recs, prefix, *extra):
    return train_cifar.parse_args([
        '--network', 'igcv3_0.5x', '--data-train', str(recs / 'train.rec'),
        '--data-val', str(recs / 'val.rec'), '--num-classes', '4', '--image-shape', '3,16,16',
        '--batch-size', '32', '--lr', '0.05', '--lr-step-epochs=', '--seed', '3',
        '--rgb-mean', '128,128,128', '--rgb-std', '64,64,64', '--pad-size', '2', '--gpus=',
        '--data-nthreads', '1', '--num-epochs', '2', '--model-prefix', str(prefix)]
        + list(extra))


class StopAfter(object):
    """A stop request that turns on after ``n`` reads (one read per batch)."""

    def __init__(self, n):
        self.n, self.signal = n, 2

    @property
    def requested(self):
        self.n -= 1
        return self.n < 0


@pytest.fixture
def bound(recs):
    """bound(prefix, *flags): prepare, resume, build_network and bind, as fit() runs them;
    (run, train, val). The runs let go of their prefixes at the end of the test."""
    runs = []

    def make(prefix, *extra):
        runs.append(fit.prepare(parse(recs, prefix, *extra)))
        args = runs[-1].args  # (the epoch's examples settled, as fit() goes on with them)
        start = fit.resume(args)
        fit.build_network(runs[-1], start, train_cifar.training_flags.get_network)
        train, val = data_mod.get_rec_iter(args, runs[-1].kv, start.epoch)
        fit.bind(runs[-1], start, train)
        return runs[-1], train, val
    yield make
    for run in runs:
        run.close()


def test_prepare_counts_records_and_caps_the_epoch(recs, tmp_path, caplog):
    args = parse(recs, tmp_path / 'm', '--num-examples', '1000', '--num-val-examples', '40')
    with caplog.at_level(logging.INFO):
        run = fit.prepare(args)
    assert run.args.num_examples == 128 and run.epoch_size == 4 and run.val_count == 40
    assert args.num_examples == 1000  # (the flags as given stay as they were)
    assert '--num-examples 1000 but' in caplog.text and 'holds 128 records' in caplog.text
    args = parse(recs, tmp_path / 'm', '--data-val=', '--num-examples', '64')
    run = fit.prepare(args)
    assert (run.args.num_examples, run.epoch_size, run.val_count) == (64, 2, None)
    with pytest.raises(UserError, match='--batch-size 256 is larger than the 128'):
        fit.prepare(parse(recs, tmp_path / 'm', '--batch-size', '256'))


def test_resume_starts_from_the_last_complete_checkpoint(recs, tmp_path):
    prefix = tmp_path / 'r'
    args = parse(recs, prefix, '--resume')
    start = fit.resume(args)
    assert (start.epoch, start.arg_params, start.states) == (0, None, None)
    initial = ({'w': mx.nd.ones(2)}, {})
    assert fit.resume(parse(recs, prefix), initial).arg_params is initial[0]
    assert fit.fit(parse(recs, prefix, '--num-epochs', '1', '--ema-decay', '0.9',
                         '--data-val='), train_cifar.training_flags.get_network) is not None
    start = fit.resume(args)
    assert start.epoch == 1 and start.params_path == str(prefix) + '-0001.params'
    assert os.path.isfile(start.states)
    # With --ema-decay the .params hold the average; training goes on from the trained ones.
    saved, _ = checkpoint.load_params(str(prefix) + '-0001.params')
    trained, _ = checkpoint.load_params(str(prefix) + '-0001.training.params')
    name = 'fc_weight'
    np.testing.assert_array_equal(start.averaged[0][name].asnumpy(), saved[name].asnumpy())
    np.testing.assert_array_equal(start.arg_params[name].asnumpy(), trained[name].asnumpy())
    assert not np.array_equal(saved[name].asnumpy(), trained[name].asnumpy())
    # The same prefix, another network: refused in build_network, before any training.
    other = parse(recs, prefix, '--resume', '--network', 'mobilenetv2')
    with fit.prepare(other) as run, \
            pytest.raises(UserError, match='--network mobilenetv2 cannot resume from it'):
        fit.build_network(run, fit.resume(other), train_cifar.training_flags.get_network)
    assert run.lock is None


def test_train_epoch_stops_at_the_requested_batch_and_saves_it_apart(bound, tmp_path):
    run, train, _ = bound(tmp_path / 's')
    before = run.mod.get_params()[0]['fc_weight'].asnumpy()
    speedometer = mx.callback.Speedometer(32, 50)
    assert fit.train_epoch(run, train, 0, StopAfter(2), speedometer) == 3
    assert not np.array_equal(run.mod.get_params()[0]['fc_weight'].asnumpy(), before)
    with pytest.raises(Interrupted, match='in epoch 0 .*saved .*s-interrupted-0000.params'):
        fit.save_interrupted(run, 0, 3, 2)
    assert checkpoint.last_complete_epoch(str(tmp_path / 's')) == 0
    train.reset()
    assert fit.train_epoch(run, train, 0, StopAfter(100), speedometer) == 4


def test_save_epoch_follows_the_period_and_refuses_non_finite_weights(bound, tmp_path):
    prefix = tmp_path / 'p'
    run, _, _ = bound(prefix, '--save-period', '2', '--num-epochs', '3')
    assert fit.save_epoch(run, 0) is None and not os.path.exists(str(prefix) + '-0001.params')
    params = fit.save_epoch(run, 1)
    assert 'fc_weight' in params[0] and run.last_saved == 2
    assert checkpoint.last_complete_epoch(str(prefix)) == 2
    arg, aux = run.mod.get_params()
    arg['fc_bias'][:] = np.nan
    run.mod.set_params(arg, aux)
    with pytest.raises(fit.TrainingDiverged,
                       match='fc_bias became NaN .*last good checkpoint: .*p-0002.params'):
        fit.save_epoch(run, 2)  # (the last epoch saves whatever the period)
    assert not os.path.exists(str(prefix) + '-0003.params')


def test_validate_epoch_logs_the_accuracy_and_names_the_checkpoint_when_stopped(
        bound, tmp_path, caplog):
    run, _, val = bound(tmp_path / 'v', '--num-val-examples', '40')
    with caplog.at_level(logging.INFO):
        fit.validate_epoch(run, val, 0, None, StopAfter(10 ** 6))
    assert 'Epoch[0] Validation-accuracy=' in caplog.text
    assert 'Epoch[0] Validated 40 images in' in caplog.text
    fit.save_epoch(run, 0)
    val.reset()
    with pytest.raises(Interrupted, match='during its validation .*v-0001.params is saved'):
        fit.validate_epoch(run, val, 0, None, StopAfter(0))


def test_the_training_flags_are_fixed_once_parsed(recs, tmp_path):
    """The recipes' parsers give a TrainingConfig: read like a Namespace, never changed
    under the caller (a flag set or added is refused; replace makes a changed copy)."""
    from common.training_flags import TrainingConfig, fixed
    args = parse(recs, tmp_path / 'm')
    assert isinstance(args, TrainingConfig) and fixed(args) is args
    with pytest.raises(AttributeError, match='fixed once parsed'):
        args.lr = 1.0
    with pytest.raises(AttributeError, match='no training flag lr_typo'):
        args.replace(lr_typo=1.0)
    with pytest.raises(AttributeError, match="no training flag 'lr_typo'"):
        args.lr_typo
    import copy
    import pickle
    assert copy.copy(args) == args == pickle.loads(pickle.dumps(args))
    faster = args.replace(lr=1.0)
    assert (faster.lr, args.lr) == (1.0, 0.05) and faster != args
    assert list(faster.as_dict()) == list(args.as_dict())  # (the order the log shows)


def test_a_stop_while_the_checkpoint_is_saved_ends_the_run_there(recs, tmp_path,
                                                                  monkeypatch):
    """Without --data-val, a SIGINT that arrives while an epoch's checkpoint is written
    ends the run after it (Interrupted, naming that checkpoint), before the next epoch."""
    import signal
    saves = []
    real = fit.save_epoch

    def save_and_signal(run, epoch):
        saves.append(epoch)
        params = real(run, epoch)
        os.kill(os.getpid(), signal.SIGINT)  # (the handler of fit's StopRequest takes it)
        return params
    monkeypatch.setattr(fit, 'save_epoch', save_and_signal)
    args = parse(recs, tmp_path / 'e', '--data-val=', '--num-epochs', '3')
    with pytest.raises(Interrupted, match=r'in epoch 0, at its end .*e-0001.params is saved'):
        fit.fit(args, train_cifar.training_flags.get_network)
    assert saves == [0] and not os.path.exists(str(tmp_path / 'e-interrupted-0000.params'))
