"""common.runtime: the CPU defaults every entry point sets first, the oneDNN training
kernels, and the training form chosen from the devices."""
import json
import os
import subprocess
import sys

import mxnet as mx
import pytest

from common import runtime
from common.errors import UserError
from helpers import ROOT
from symbol import Form


def _env_after_configure(**preset):
    """The thread and kernel variables in a fresh process after runtime.configure() and
    runtime.use_training_kernels(), with ``preset`` set by the user first."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('OMP_NUM_THREADS', 'MXNET_USE_OPERATOR_TUNING', 'DNNL_MAX_CPU_ISA')}
    env.update(preset)
    code = ('import sys, os, json; sys.path.insert(0, %r); from common import runtime; '
            'import common.fit, common.data, common.checkpoint, common.inference, common.training_flags; '
            'untouched = os.environ.get("OMP_NUM_THREADS"); runtime.configure(); '
            'before = os.environ.get("DNNL_MAX_CPU_ISA"); runtime.use_training_kernels(); '
            'print(json.dumps([untouched, os.environ.get("OMP_NUM_THREADS"), '
            'os.environ.get("MXNET_USE_OPERATOR_TUNING"), before, '
            'os.environ.get("DNNL_MAX_CPU_ISA")]))' % str(ROOT))
    proc = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_cpu_defaults_use_every_core_and_respect_the_user():
    """Importing changes nothing; configure() sets the defaults, never over the user's."""
    assert _env_after_configure() == [None, str(os.cpu_count()), '0', None, 'AVX2']
    assert _env_after_configure(OMP_NUM_THREADS='1', MXNET_USE_OPERATOR_TUNING='1',
                                DNNL_MAX_CPU_ISA='AVX512_CORE') == \
        ['1', '1', '1', 'AVX512_CORE', 'AVX512_CORE']


def test_training_form_follows_the_devices(monkeypatch):
    monkeypatch.setenv('DNNL_MAX_CPU_ISA', 'AVX2')
    assert runtime.training_form(None, [mx.cpu()]) is Form.CPU_TRAINING_FUSED
    assert runtime.training_form(None, [mx.gpu(0), mx.gpu(1)]) is Form.RELEASED
    with pytest.raises(UserError, match='--fast-group-conv 0 with --gpus'):
        runtime.training_form(1, [mx.gpu(0)])
    monkeypatch.setenv('DNNL_MAX_CPU_ISA', 'AVX512_CORE')  # a user's choice: not fused
    assert runtime.training_form(None, [mx.cpu()]) is Form.CPU_TRAINING
    assert runtime.training_form(0, [mx.cpu()]) is Form.RELEASED


def test_cpu_training_form_flag_has_its_first_name_too():
    from common import training_flags
    parser = training_flags.make_parser('t')
    for flag in ('--cpu-training-form', '--fast-group-conv'):
        assert parser.parse_args([flag, '0']).fast_group_conv == 0
    assert parser.parse_args([]).fast_group_conv is None


def _build(network, shape=(3, 32, 32)):
    import symbol
    return lambda form: symbol.get_symbol(network, image_shape=shape, num_classes=10, form=form)


@pytest.mark.parametrize('avx512', [True, False])
def test_training_network_pads_for_avx512_kernels_where_it_can(monkeypatch, avx512):
    """On an AVX-512 CPU with DNNL_MAX_CPU_ISA unset: the padded form with every
    activation a multiple of 16 channels; IGCV2 (not paddable) and any CPU without
    AVX-512 get the fused form under AVX2 kernels; the user's ISA and --fast-group-conv 0
    are kept."""
    from symbol.training_form import unblocked_activations
    monkeypatch.setattr(runtime, 'cpu_has_avx512', lambda: avx512)
    shape = (4, 3, 32, 32)
    for network in ('igcv3', 'mobilenetv2', 'igcv2'):
        monkeypatch.delenv('DNNL_MAX_CPU_ISA', raising=False)
        form, sym = runtime.training_network(None, [mx.cpu()], _build(network), shape)
        if avx512 and network != 'igcv2':
            assert form is Form.CPU_TRAINING_PADDED and 'DNNL_MAX_CPU_ISA' not in os.environ
            assert unblocked_activations(sym, shape) == []
            assert unblocked_activations(_build(network)(Form.CPU_TRAINING_FUSED), shape)
        else:
            assert form is Form.CPU_TRAINING_FUSED and os.environ['DNNL_MAX_CPU_ISA'] == 'AVX2'
    if avx512:  # float16 graphs are not padded
        import symbol
        monkeypatch.delenv('DNNL_MAX_CPU_ISA', raising=False)
        half = runtime.training_network(None, [mx.cpu()], lambda f: symbol.get_symbol(
            'igcv3', image_shape=(3, 32, 32), num_classes=10, form=f, dtype='float16'), shape)
        assert half[0] is Form.CPU_TRAINING_FUSED
    monkeypatch.setenv('DNNL_MAX_CPU_ISA', 'AVX2')
    assert runtime.training_network(None, [mx.cpu()], _build('igcv3'), shape)[0] \
        is Form.CPU_TRAINING_FUSED
    monkeypatch.delenv('DNNL_MAX_CPU_ISA')
    assert runtime.training_network(0, [mx.cpu()], _build('igcv3'), shape)[0] is Form.RELEASED
