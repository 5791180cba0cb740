"""tools/reproduce.py in miniature: two networks, a tiny subset, one seed; a killed run
continues from its checkpoint and finished runs are kept."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from datasets import make_rec
from helpers import ROOT, assert_one_line_error, run_script


def _cmd(folder, *extra):
    return ['tools/reproduce.py', '--dataset', 'fashion-mnist', '--networks',
            'igcv3_0.5x,mobilenetv2', '--epochs', '2', '--seeds', '1', '--train-subset', '64',
            '--batch-size', '16', '--data-train', folder / 'train.rec',
            '--data-val', folder / 'val.rec', '--out', folder / 'runs',
            '--val-subset', '16', '--train-flags', '--label-smoothing 0.1'] + list(extra)


@pytest.mark.slow
def test_reproduce_trains_scores_tabulates_and_resumes(tmp_path):
    make_rec(tmp_path / 'train', 96, 10, size=28, seed=0)
    make_rec(tmp_path / 'val', 40, 10, size=28, seed=1)
    runs = tmp_path / 'runs'

    def stopped_once_there_is(path):
        proc = subprocess.Popen([sys.executable] + [str(a) for a in _cmd(tmp_path)],
                                cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.time() + 180
            while not path.exists():
                assert proc.poll() is None and time.time() < deadline
                time.sleep(0.1)
        finally:  # (a failed wait must not leave the run going)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    # Stopped as soon as the first network's first checkpoint exists: nothing tabulated.
    stopped_once_there_is(runs / 'igcv3_0.5x-s1-0001.params')
    assert not (runs / 'results.json').exists() and not (runs / 'results.md').exists()
    # Stopped again in the second network's run: the folder tabulates the finished one.
    stopped_once_there_is(runs / 'mobilenetv2-s1-0001.params')
    partial = (runs / 'results.md').read_text()
    assert '| igcv3_0.5x | 1,11' in partial and '| mobilenetv2 |' not in partial
    shown = run_script('tools/reproduce.py', '--report', runs / 'results.json')
    assert shown.returncode == 0 and shown.stdout == partial
    proc = run_script(*_cmd(tmp_path), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (runs / 'igcv3_0.5x-s1.log').read_text()
    assert '--resume: epoch 1' in log
    # Each epoch validates on --val-subset images (the curves' validation line).
    # (epoch 0's may be missing: the first run was killed once its checkpoint existed)
    assert re.findall(r'Epoch\[(\d)\] Validated (\d+) images', log)[-1] == ('1', '16')
    report = json.loads((runs / 'results.json').read_text())
    import shlex  # (the command recorded runs again as it stands: quoted words)
    assert shlex.split(report['command'])[2:] == [str(a) for a in _cmd(tmp_path)[1:]]
    assert [(r['network'], r['seed']) for r in report['runs']] == [('igcv3_0.5x', 1),
                                                                    ('mobilenetv2', 1)]
    for r in report['runs']:
        assert r['val_images'] == 40 and 0 <= r['top1'] <= 1 and r['params'] > 0
        assert r['train_images_per_sec'] > 0 and r['epochs'] == 2
        assert 'training form' in r['training_form']  # as the run's log says
    table = (runs / 'results.md').read_text()
    assert '| igcv3_0.5x | 1,11' in table and '94.73 / 77.29' in table  # beside the paper's
    assert '| mobilenetv2 |' in table and 'python tools/reproduce.py' in table
    from common.runtime import cpu_has_avx512  # (the form common.runtime picks here)
    padded = cpu_has_avx512() and not os.environ.get('DNNL_MAX_CPU_ISA')
    assert '(padded, AVX-512)' in table if padded else '(fused, AVX2)' in table
    # Finished runs are kept: a second call trains nothing.
    tic = time.time()
    recorded = (runs / 'results.json').read_text()
    again = run_script(*_cmd(tmp_path), timeout=600)
    assert again.returncode == 0 and 'train_cifar.py' not in again.stderr
    assert time.time() - tic < 60
    assert (runs / 'results.json').read_text() == recorded  # (nor rewritten)
    assert all(r['machine'] for r in report['runs'])
    # A second seed for one network only: the other keeps its one run.
    more = run_script(*_cmd(tmp_path, '--seeds', '1,2', '--more-seeds-for', 'mobilenetv2'),
                      timeout=600)
    assert more.returncode == 0, more.stderr[-3000:]
    assert (runs / 'mobilenetv2-s2.log').exists()
    assert not (runs / 'igcv3_0.5x-s2.log').exists()
    report = json.loads((runs / 'results.json').read_text())
    assert [(r['network'], r['seed']) for r in report['runs']] == [
        ('igcv3_0.5x', 1), ('mobilenetv2', 1), ('mobilenetv2', 2)]
    rows = {line.split('|')[1].strip(): line.split('|')
            for line in (runs / 'results.md').read_text().splitlines() if line.startswith('| ')}
    assert re.fullmatch(r's1 \d+\.\d\d', rows['igcv3_0.5x'][5].strip())
    assert re.fullmatch(r's1 \d+\.\d\d, s2 \d+\.\d\d', rows['mobilenetv2'][5].strip())
    assert '\u00b1' in rows['mobilenetv2'][4] and '\u00b1' not in rows['igcv3_0.5x'][4]
    assert json.loads((runs / 'results.json').read_text())['plan']['seeds'] == [1, 2]


def test_reproduce_refuses_unknown_networks_and_missing_data(tmp_path):
    proc = run_script('tools/reproduce.py', '--networks', 'igcv3,vgg', '--data-train',
                      tmp_path / 'x.rec')
    assert_one_line_error(proc, 'unknown --networks vgg')
    proc = run_script('tools/reproduce.py', '--data-train', tmp_path / 'x.rec')
    assert_one_line_error(proc, 'x.rec: no such file')
    proc = run_script('tools/reproduce.py', '--networks', 'igcv3', '--more-seeds-for',
                      'mobilenetv2', '--seeds', '1,2')
    assert_one_line_error(proc, '--more-seeds-for mobilenetv2: not in --networks')
    import reproduce  # (seeds out of range are refused before any run, not passed on)
    for seeds in ('-1', '1,99999999999', '1,x'):
        with pytest.raises(reproduce.UserError, match='--seeds'):
            reproduce.parse_args(['--networks', 'igcv3', '--seeds', seeds])


def test_base_seeds_give_every_network_several_seeds_and_some_more():
    """The decided comparison: three seeds for every network, five for the pair whose
    interval is still open."""
    import reproduce
    from common.comparison import seeds_of
    base = ['--networks', 'igcv3,mobilenetv2,igcv2', '--seeds', '1,2,3,4,5',
            '--more-seeds-for', 'igcv3,mobilenetv2']
    plan = reproduce.parse_args(base + ['--base-seeds', '3'], check_files=False)[0]
    assert seeds_of(plan, 'igcv2') == [1, 2, 3]
    assert seeds_of(plan, 'igcv3') == seeds_of(plan, 'mobilenetv2') == [1, 2, 3, 4, 5]
    assert seeds_of(reproduce.parse_args(base, check_files=False)[0], 'igcv2') == [1]
    for n in ('0', '6'):
        with pytest.raises(reproduce.UserError, match='--base-seeds must lie in 1..5'):
            reproduce.parse_args(base + ['--base-seeds', n], check_files=False)


def test_reproduce_refuses_runs_of_another_dtype(tmp_path):
    """A finished run of --dtype float32 is not resumed, nor reported, as a bfloat16 one."""
    import reproduce
    from common import comparison
    for name in ('train.rec', 'val.rec'):
        (tmp_path / name).write_bytes(b'')
    args = reproduce.parse_args(['--networks', 'igcv3', '--dtype', 'bfloat16', '--out',
                                 str(tmp_path), '--data-train', str(tmp_path / 'train.rec'),
                                 '--data-val', str(tmp_path / 'val.rec')])[0]
    finished = {'igcv3-s1': {'network': 'igcv3', 'seed': 1, 'epochs': args.epochs,
                             'train_subset': args.train_subset, 'dtype': 'float32'}}
    with pytest.raises(reproduce.UserError, match='trained with --dtype float32, not bfloat16'):
        comparison.train_and_score(args, 'igcv3', 1, finished)


def test_reproduce_refuses_a_finished_run_of_another_schedule(tmp_path):
    """A finished 3-epoch run is not reported as a 2-epoch one (its epoch 2 is a point of
    the 3-epoch schedule), nor a --train-subset 128 run as a 256 one."""
    import reproduce
    from common import comparison
    for name in ('train.rec', 'val.rec'):
        (tmp_path / name).write_bytes(b'')
    base = ['--networks', 'igcv3', '--out', str(tmp_path), '--data-train',
            str(tmp_path / 'train.rec'), '--data-val', str(tmp_path / 'val.rec')]
    trained = reproduce.parse_args(base + ['--epochs', '3', '--train-subset', '128'])[0]
    finished = {'igcv3-s1': dict(comparison.run_settings(trained), network='igcv3', seed=1)}
    for extra, needle in ((['--epochs', '2', '--train-subset', '128'],
                           'trained with --epochs 3, not 2'),
                          (['--epochs', '3', '--train-subset', '256'],
                           'trained with --train-subset 128, not 256')):
        args = reproduce.parse_args(base + extra)[0]
        with pytest.raises(reproduce.UserError, match=needle):
            comparison.train_and_score(args, 'igcv3', 1, dict(finished))
    same = reproduce.parse_args(base + ['--epochs', '3', '--train-subset', '128'])[0]
    assert comparison.train_and_score(same, 'igcv3', 1, dict(finished)) is finished['igcv3-s1']


def test_reproduce_refuses_a_started_run_of_other_flags(tmp_path):
    """A run stopped before it finished (no results.json entry) is not resumed under other
    --train-flags, --dtype, --train-subset or --epochs (another schedule): its
    PREFIX.run.json says what it was."""
    import reproduce
    from common import comparison
    for name in ('train.rec', 'val.rec'):
        (tmp_path / name).write_bytes(b'')
    base = ['--networks', 'igcv3', '--out', str(tmp_path), '--data-train',
            str(tmp_path / 'train.rec'), '--data-val', str(tmp_path / 'val.rec')]
    started = reproduce.parse_args(base + ['--train-flags', '--random-erasing 0.5'])[0]
    (tmp_path / 'igcv3-s1.run.json').write_text(json.dumps(comparison.run_settings(started)))
    for extra, needle in ((['--train-flags', '--ema-decay 0.99'],
                           'started with --train-flags --random-erasing 0.5, not --ema-decay'),
                          (['--train-flags', '--random-erasing 0.5', '--dtype', 'bfloat16'],
                           'started with --dtype float32, not bfloat16'),
                          (['--train-flags', '--random-erasing 0.5', '--train-subset', '500'],
                           'started with --train-subset None, not 500'),
                          (['--train-flags', '--random-erasing 0.5', '--epochs', '3'],
                           'started with --epochs 10, not 3')):
        args = reproduce.parse_args(base + extra)[0]
        with pytest.raises(reproduce.UserError, match=needle):
            comparison.train_and_score(args, 'igcv3', 1, {})
    proc = run_script('tools/reproduce.py', *base, '--train-flags', '--seed 3')
    assert_one_line_error(proc, '--train-flags --seed: set by this tool')


@pytest.mark.parametrize('text,needle', [
    ('{"runs": [{"network": "igcv3", "se', 'not JSON'),
    ('{"runs": {"igcv3-s1": {}}}', 'no list of runs'),
    ('[1, 2]', 'no list of runs'),
    ('{"runs": [{"network": "igcv3", "top1": 0.9}]}', 'a run without network, seed or top1'),
])
def test_a_results_file_it_did_not_write_is_one_line(tmp_path, text, needle):
    from common import comparison
    from common.errors import UserError
    (tmp_path / 'results.json').write_text(text)
    with pytest.raises(UserError, match=needle):
        comparison.read_results(str(tmp_path / 'results.json'))
    good = {'runs': [{'network': 'igcv3', 'seed': 2, 'top1': 0.9}]}
    (tmp_path / 'results.json').write_text(json.dumps(good))
    assert comparison.read_results(str(tmp_path / 'results.json')) == {'igcv3-s2': good['runs'][0]}


def test_missing_records_name_the_converter_of_their_dataset(tmp_path):
    """The error says how to make the records the path names: make fashion-mnist, the
    CIFAR converter, else im2rec (was im2rec for all)."""
    for folder, needle in (('fashion-mnist', 'make fashion-mnist'),
                           ('cifar10', 'tools/cifar_to_rec.py cifar-10-python.tar.gz'),
                           ('mine', 'tools/im2rec.py')):
        proc = run_script('train_cifar.py', '--data-train', tmp_path / folder / 'train.rec',
                          '--gpus=')
        assert_one_line_error(proc, 'no such file', needle)
    proc = run_script('score.py', '--model', 'igcv3', '--data-val',
                      tmp_path / 'fashion-mnist' / 'val.rec', '--data-nthreads', '0')
    assert_one_line_error(proc, '--data-nthreads must be at least 1')


def _report_file(path, top1_by_network, plan=True):
    """A results.json of runs with these top-1 values (fractions, one per seed)."""
    runs = [{'network': net, 'seed': i + 1, 'top1': acc, 'params': 1000, 'macs': 2000,
             'train_images_per_sec': 100.0, 'training_form': 'padded'}
            for net, values in top1_by_network.items() for i, acc in enumerate(values)]
    nets = list(top1_by_network)
    seeds = list(range(1, 1 + max(len(v) for v in top1_by_network.values())))
    # (the command names the networks in another order than the plan: which one was read
    # shows in the table's order)
    command = ('python tools/reproduce.py --networks %s --seeds %s --epochs 4'
               % (','.join(nets if not plan else nets[::-1]), ','.join(map(str, seeds))))
    report = {'command': command, 'runs': runs}
    if plan:
        report['plan'] = {'dataset': 'fashion-mnist', 'networks': nets, 'epochs': 4,
                          'seeds': seeds, 'more_seeds_for': nets, 'base_seeds': 1,
                          'train_subset': 500,
                          'batch_size': 64, 'dtype': 'float32', 'train_flags': [],
                          'data_train': 'x.rec', 'data_val': 'y.rec', 'val_subset': 0,
                          'out': 'runs/x'}
    path.write_text(json.dumps(report))
    return str(path)


@pytest.mark.parametrize('plan', [True, False])
def test_report_prints_the_table_and_verdicts_of_a_results_file(tmp_path, plan):
    """--report trains nothing and needs no data: the rows (mean, sample sd, every seed)
    and the verdicts come from the file; a file without a recorded plan (written before
    plans were) is read through its command."""
    path = _report_file(tmp_path / 'results.json', {
        'igcv3': [0.90, 0.91, 0.92], 'mobilenetv2': [0.85, 0.86, 0.84],
        'igcv2': [0.89, 0.93, 0.91]}, plan=plan)
    proc = run_script('tools/reproduce.py', '--report', path)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split('|')[1].strip(): [c.strip() for c in line.split('|')[1:-1]]
            for line in proc.stdout.splitlines() if line.startswith('| ')}
    assert rows['igcv3'][3] == '91.00 \u00b1 1.00'
    assert rows['igcv3'][4] == 's1 90.00, s2 91.00, s3 92.00'
    assert rows['mobilenetv2'][3] == '85.00 \u00b1 1.00'
    holds = rows['IGCV3-D 1.0x > MobileNetV2 (equal parameters)']
    assert holds[1] == '3 vs 3' and holds[2] == '+6.00' and holds[4] == 'holds'
    assert rows['IGCV3-D 1.0x > IGCV2'][4] == 'not resolved at this budget'
    assert ('--epochs 4' in proc.stdout) and 'train_cifar' not in proc.stderr
    order = [line.split('|')[1].strip() for line in proc.stdout.splitlines()[2:5]]
    assert order == ['igcv3', 'mobilenetv2', 'igcv2']  # (the plan's, not the runs' order)
    assert ('500 training images an epoch' in proc.stdout) == plan  # (its train_subset)


def test_report_refuses_other_flags_missing_and_foreign_files(tmp_path):
    path = _report_file(tmp_path / 'results.json', {'igcv3': [0.9]})
    proc = run_script('tools/reproduce.py', '--report', path, '--epochs', '3')
    assert_one_line_error(proc, 'drop --epochs')
    proc = run_script('tools/reproduce.py', '--report', tmp_path / 'none.json')
    assert_one_line_error(proc, 'no such file')
    (tmp_path / 'other.json').write_text(json.dumps({'runs': [], 'command': 'ls -l'}))
    proc = run_script('tools/reproduce.py', '--report', tmp_path / 'other.json')
    assert_one_line_error(proc, 'neither its plan nor a tools/reproduce.py command')


REPORT_BLOCK = re.compile(r'<!-- python tools/reproduce.py --report (\S+) -->\n(.*?)\n'
                          r'<!-- end of report -->', re.S)


def test_the_docs_tables_are_the_reports_of_the_committed_results():
    """Each comparison table in README.md and docs/ is what --report prints for the
    results.json it names: an edited figure or a rerun not copied over fails here."""
    found = []
    for doc in ['README.md'] + ['docs/' + n for n in sorted(os.listdir(os.path.join(ROOT,
                                                                                    'docs')))]:
        with open(os.path.join(ROOT, doc)) as f:
            for results, block in REPORT_BLOCK.findall(f.read()):
                proc = run_script('tools/reproduce.py', '--report', results)
                assert proc.returncode == 0, proc.stderr
                assert block.strip() == proc.stdout.strip(), '%s: %s' % (doc, results)
                found.append(doc)
    assert 'README.md' in found and 'docs/training.md' in found


def test_report_reads_an_unquoted_train_flags_command_by_its_runs(tmp_path):
    """Files written before plans were recorded hold the command unquoted
    (`--train-flags --ema-decay 0.998`); their runs' train_flags say which words it took.
    The command recorded now is quoted, and so rebuilds the same plan."""
    import shlex
    import reproduce
    run = {'network': 'igcv3', 'seed': 1, 'top1': 0.9, 'params': 1, 'macs': 1,
           'train_images_per_sec': 50.0, 'train_flags': ['--ema-decay', '0.998']}
    path = tmp_path / 'results.json'
    path.write_text(json.dumps({'runs': [run], 'command': 'python tools/reproduce.py '
                                '--networks igcv3 --out x --train-flags --ema-decay 0.998 '
                                '--epochs 3'}))
    plan, _ = reproduce.check_report(str(path), ['--report', str(path)])
    assert plan.train_flags == ['--ema-decay', '0.998'] and plan.epochs == 3
    quoted = shlex.join(['--networks', 'igcv3', '--train-flags', '--ema-decay 0.998'])
    assert reproduce.parse_args(shlex.split(quoted), check_files=False)[0].train_flags == \
        plan.train_flags


def test_the_ablation_table_is_its_results_files():
    """The ablation table of README.md and of docs/training.md: each cell is its run's
    top-1 and flip-TTA top-1 in runs/ablation/NAME/results.json, and 'not yet run' only
    where that run is absent."""
    folders = {'plain': 'baseline', '+ `--random-erasing 0.5`': 'erasing',
               '+ `--label-smoothing 0.1`': 'smoothing', '+ `--ema-decay 0.998`': 'ema'}
    rows = []
    for doc in ('README.md', os.path.join('docs', 'training.md')):
        with open(os.path.join(ROOT, doc)) as f:
            found = re.findall(r'^\| (plain|\+ `[^`]+`) \| ([^|]+) \| ([^|]+) \|$',
                               f.read(), re.M)
        assert [r[0] for r in found] == list(folders), doc
        rows += found
    for name, *cells in rows:
        path = os.path.join(ROOT, 'runs', 'ablation', folders[name], 'results.json')
        with open(path) as f:
            runs = {r['seed']: r for r in json.load(f)['runs']}
        for seed, cell in enumerate(cells, 1):
            run = runs.get(seed)
            expected = 'not yet run' if run is None else '%.2f, %.2f' % (
                100 * run['top1'], 100 * run['top1_flip'])
            assert cell.strip() == expected, (name, seed)


def test_report_reads_every_results_file_this_tool_wrote_and_refuses_others(tmp_path):
    """A plan written before --base-seeds existed reads with its value then (1); a plan of
    unknown fields or of wrong types, a command that does not parse, and --report '' are
    one line each; an old command's '--train-flags=...' or empty value is regrouped."""
    import reproduce
    from common.errors import UserError
    path = tmp_path / 'results.json'
    _report_file(path, {'igcv3': [0.9, 0.8], 'mobilenetv2': [0.7, 0.6]})
    report = json.loads(path.read_text())
    del report['plan']['base_seeds']
    report['plan']['more_seeds_for'] = ['igcv3']
    path.write_text(json.dumps(report))
    plan, _ = reproduce.check_report(str(path), [])
    assert plan.base_seeds == 1
    for change, needle in ((dict(colour='red'), 'a plan of other fields'),
                           (dict(base_seeds=None), 'not what this tool writes'),
                           (dict(seeds='1,2'), 'not what this tool writes')):
        bad = dict(report, plan=dict(report['plan'], **change))
        path.write_text(json.dumps(bad))
        with pytest.raises(UserError, match=needle):
            reproduce.check_report(str(path), [])
    run = {'network': 'igcv3', 'seed': 1, 'top1': 0.9, 'params': 1, 'macs': 1,
           'train_images_per_sec': 50.0, 'train_flags': []}
    for command, needle in (("python tools/reproduce.py --out it's", 'does not parse'),
                            (5, 'neither its plan nor')):
        path.write_text(json.dumps({'runs': [run], 'command': command}))
        with pytest.raises(UserError, match=needle):
            reproduce.check_report(str(path), [])
    for command, flags, expected in (
            ('--train-flags=--ema-decay 0.998 --epochs 3', ['--ema-decay', '0.998'],
             ['--ema-decay', '0.998']),
            ('--train-flags  --epochs 3', [], [])):
        path.write_text(json.dumps({'runs': [dict(run, train_flags=flags)],
                                    'command': 'python tools/reproduce.py ' + command}))
        plan, _ = reproduce.check_report(str(path), [])
        assert plan.train_flags == expected and plan.epochs == 3
    proc = run_script('tools/reproduce.py', '--report', '')
    assert_one_line_error(proc, "--report : no such file")
    proc = run_script('tools/reproduce.py', '--rep', str(path))
    assert_one_line_error(proc, 'unrecognized arguments')


def test_a_rerun_with_another_plan_rewrites_what_results_json_says(tmp_path):
    """Finished runs train nothing again; the same command leaves results.json as it was,
    another (fewer seeds) rewrites it, so that --report prints what results.md shows."""
    import reproduce
    from common import comparison
    for name in ('train.rec', 'val.rec'):
        (tmp_path / name).write_bytes(b'')
    base = ['--networks', 'igcv3', '--out', str(tmp_path), '--data-train',
            str(tmp_path / 'train.rec'), '--data-val', str(tmp_path / 'val.rec')]
    five = reproduce.parse_args(base + ['--seeds', '1,2,3'])[0]
    runs = {'igcv3-s%d' % s: dict(comparison.run_settings(five), network='igcv3', seed=s,
                                  top1=0.8 + s / 100, params=1, macs=1,
                                  train_images_per_sec=1.0) for s in (1, 2, 3)}
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(comparison.report(five, runs, 'python tools/reproduce.py A')))
    before = path.read_text()
    comparison.run_plan(five, 'python tools/reproduce.py A')
    assert path.read_text() == before
    two = reproduce.parse_args(base + ['--seeds', '1,2'])[0]
    comparison.run_plan(two, 'python tools/reproduce.py B')
    after = json.loads(path.read_text())
    assert after['plan']['seeds'] == [1, 2] and after['command'].endswith(' B')
    assert len(after['runs']) == 3  # (the third seed's run is kept, not shown)
    plan, report = reproduce.check_report(str(path), [])
    text = comparison.results_markdown(plan, report['finished'], report['command'])[1]
    assert 's1 81.00, s2 82.00 |' in text and 's3' not in text


def test_seeds_trained_in_two_forms_name_both(tmp_path):
    """images/s compare only within a form: a network whose seeds ran on machines of two
    forms says so instead of labelling the mean with the first seed's form."""
    path = tmp_path / 'results.json'
    _report_file(path, {'igcv3': [0.9, 0.8]})
    report = json.loads(path.read_text())
    report['runs'][1]['training_form'] = 'oneDNN kernels DNNL_MAX_CPU_ISA=AVX2, fused'
    path.write_text(json.dumps(report))
    proc = run_script('tools/reproduce.py', '--report', path)
    assert '| 100 (padded, AVX-512 / fused, AVX2) |' in proc.stdout, proc.stdout


def test_the_speed_column_is_the_median_of_the_seeds_runs(tmp_path):
    """A run slowed by another job on the machine (a paused test suite) moves the median
    of three seeds' images/s, not the typical figure: 100, 104 and 40 give 100 (the
    mean would print 81)."""
    path = tmp_path / 'results.json'
    _report_file(path, {'igcv3': [0.9, 0.8, 0.85]})
    report = json.loads(path.read_text())
    for run, speed in zip(report['runs'], (100.0, 104.0, 40.0)):
        run['train_images_per_sec'] = speed
    path.write_text(json.dumps(report))
    proc = run_script('tools/reproduce.py', '--report', path)
    assert proc.returncode == 0, proc.stderr
    assert '| 100 (padded, AVX-512) |' in proc.stdout, proc.stdout
    assert 'training images/s, median of seeds (form)' in proc.stdout.splitlines()[0]
