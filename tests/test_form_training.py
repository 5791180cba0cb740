"""The CPU training forms train as the released ops do (symbol.forms): from the same
weights, momentum and batch, one SGD step (momentum 0.9, weight decay 1e-4) in each form
gives the released step's weights and BatchNorm running statistics, at each of 20 steps
along a training run, for IGCV3-D and MobileNetV2; and every such step starts from a
checkpoint another form wrote (weights, running statistics in the released order,
optimizer state), so it is a resume across a change of form.

Why step by step and not one 20-step run against another: training these networks from
their initialization is chaotic. Measured here (igcv3, 3x32x32, batch 16, lr 0.05):
moving the initial weights by 1e-7 relative (float32 rounding) leaves the released ops'
weights after 20 steps as far from the unmoved run's as both are from the start
(distance / update = 1.07, at lr 0.001 too), and so are the forms'. Along one trajectory
the steps agree: at 3x32x32 and batch 16 the largest distance of a form's step from the
released step, over the step's own update, was 1.1% for IGCV3 and 3.6% for MobileNetV2
(padded; the median step 0.03% and 0.1%), where the released ops' own step from weights
moved by 1e-7 gives 0.54% and 1.2%. The test runs at 3x16x16 and batch 8 (form_steps.py's
defaults; a quarter of the time), where on this project's AMD EPYC machine the largest
was 0.47% (IGCV3) and 1.3% (MobileNetV2, padded; fused 0.44% and 0.94%), the median
0.0006% and 0.014%, the running statistics 1.4e-6 and 4.8e-6 relative, while the 20 steps
moved the weights by 68% and 114% of their norm. TOLERANCE allows about 4x the largest and
7x the median seen, 10x the statistics'; MXNet's own Module (last test) misses the
statistics by 1.0.
"""
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

from common import runtime
from common.module import Module
from helpers import ROOT
from symbol import Form

sys.path.insert(0, os.path.join(ROOT, 'tests'))
import form_steps  # noqa: E402

STEPS = 20
# Largest distance of a form's step from the released step, over the step's own update
# (weights), and over the running statistics' own change (BatchNorm).
TOLERANCE = {'arg': 0.05, 'arg_median': 0.001, 'aux': 5e-5}
NETWORKS = ['igcv3', 'mobilenetv2']
# (Form.CPU_TRAINING, unfused, trains only where DNNL_MAX_CPU_ISA is set to AVX-512 by
# hand; the check of MXNet's own Module below runs in it.)
FORMS = ['fused', 'padded']


def run_steps(mode, network, form, source, out, start=0, end=STEPS, **env_extra):
    env = dict(os.environ)
    env.pop('DNNL_MAX_CPU_ISA', None)
    if form != 'padded':
        env['DNNL_MAX_CPU_ISA'] = 'AVX2'
    env.update(env_extra)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'form_steps.py'), mode,
                           network, form, str(start), str(end), str(source), str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _vector(params):
    return np.concatenate([params[k].asnumpy().ravel() for k in sorted(params)])


def distances(reference, other, steps=STEPS):
    """Per step i: |other_i - reference_i| / |reference_i - reference_(i-1)| for the
    weights and for the running statistics (other's step i started from reference's
    step i-1)."""
    rows = []
    for i in range(1, steps + 1):
        ref, before, got = (form_steps.load(form_steps.state(folder, step)) for folder, step in
                            ((reference, i), (reference, i - 1), (other, i)))
        assert sorted(got[0]) == sorted(ref[0]) and sorted(got[1]) == sorted(ref[1])
        rows.append({part: np.linalg.norm(_vector(got[j]) - _vector(ref[j])) /
                     np.linalg.norm(_vector(ref[j]) - _vector(before[j]))
                     for j, part in enumerate(('arg', 'aux'))})
    return {'arg': max(r['arg'] for r in rows), 'aux': max(r['aux'] for r in rows),
            'arg_median': float(np.median([r['arg'] for r in rows]))}


def assert_within_tolerance(got):
    assert all(got[k] <= TOLERANCE[k] for k in TOLERANCE), (got, TOLERANCE)


@pytest.fixture(scope='module', params=NETWORKS)
def released_run(request, tmp_path_factory):
    """20 steps of the released ops from a seeded initialization: every step saved."""
    network = request.param
    folder = tmp_path_factory.mktemp('released-' + network)
    mod = Module(form_steps.build(network, Form.RELEASED), context=mx.cpu())
    mod.bind(data_shapes=[('data', (form_steps.BATCH,) + form_steps.SHAPE)],
             label_shapes=[('softmax_label', (form_steps.BATCH,))])
    mx.random.seed(0)
    mod.init_params(mx.init.Xavier(magnitude=2))
    form_steps.save(form_steps.state(folder, 0), *mod.get_params())
    run_steps('chain', network, 'released', folder, folder)
    return network, folder


@pytest.mark.parametrize('form', FORMS)
def test_each_training_step_of_a_form_is_the_released_step(released_run, form, tmp_path):
    network, reference = released_run
    if form == 'padded' and not runtime.cpu_has_avx512():
        pytest.skip('the padded form runs AVX-512 kernels, which this CPU does not have')
    run_steps('from', network, form, reference, tmp_path)
    assert_within_tolerance(distances(reference, tmp_path))
    # The steps trained: the weights moved, by more than float noise.
    first, last = (_vector(form_steps.load(form_steps.state(reference, s))[0]) for s in (0, STEPS))
    assert np.linalg.norm(last - first) > 1e-3 * np.linalg.norm(first)


def test_the_released_ops_resume_the_padded_forms_checkpoints(tmp_path):
    """The other way: a padded-form run's every step, resumed in the released ops."""
    if not runtime.cpu_has_avx512():
        pytest.skip('the padded form runs AVX-512 kernels, which this CPU does not have')
    padded, resumed = tmp_path / 'padded', tmp_path / 'resumed'
    padded.mkdir()
    steps = 10
    mod = Module(form_steps.build('igcv3', Form.RELEASED), context=mx.cpu())
    mod.bind(data_shapes=[('data', (form_steps.BATCH,) + form_steps.SHAPE)],
             label_shapes=[('softmax_label', (form_steps.BATCH,))])
    mx.random.seed(1)
    mod.init_params(mx.init.Xavier(magnitude=2))
    form_steps.save(form_steps.state(padded, 0), *mod.get_params())
    run_steps('chain', 'igcv3', 'padded', padded, padded, end=steps)
    run_steps('from', 'igcv3', 'released', padded, resumed, end=steps)
    assert_within_tolerance(distances(padded, resumed, steps))


def test_the_check_sees_what_mxnets_own_module_gets_wrong(released_run, tmp_path):
    """MXNet's own Module in the training form, for what common.module.Module adds: it
    reads the running statistics before oneDNN's BatchNorm has written them (MobileNetV2:
    each step's statistics come out as they were before it, distance 1.0) and, for IGCV3,
    leaves those of its folded permutations in the graph's interleaved order. The check
    fails for both."""
    network, reference = released_run
    run_steps('from', network, 'training', reference, tmp_path, end=3, FS_PLAIN_MODULE='1')
    got = distances(reference, tmp_path, steps=3)
    assert got['aux'] > 100 * TOLERANCE['aux'], got
