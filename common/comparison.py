"""The paper's comparison as tools/reproduce.py runs it: a Plan (networks, seeds, budget),
each run trained with train_cifar.py and scored with score.py as a user would (resumable:
a finished run is kept, a stopped one continues from its checkpoint, a run of other
settings is refused), its result recorded, and the table and verdicts (common.verdict)
made from the results."""
import collections
import json
import os
import statistics

import symbol
from symbol.paper import PAPER_CIFAR

from . import training_log, verdict
from .atomic import write_text
from .commands import ROOT, run_step
from .complexity import complexity
from .errors import UserError
from .recipes import DATASETS
from .timing import machine_description


class Plan(collections.namedtuple('Plan', [
        'dataset', 'networks', 'epochs', 'seeds', 'more_seeds_for', 'base_seeds',
        'train_subset',
        'batch_size', 'dtype', 'train_flags', 'data_train', 'data_val', 'val_subset', 'out'])):
    """A comparison (tools/reproduce.py's flags of the same names, checked): ``networks``,
    ``seeds`` and ``more_seeds_for`` lists (the networks outside it run the first
    ``base_seeds`` seeds), ``train_flags`` a list of train_cifar.py
    flags, ``data_train``/``data_val``/``out`` paths from the repository root."""


# Plan fields a results file may lack (written before they existed), with their value then.
PLAN_DEFAULTS = {'base_seeds': 1}


def seeds_of(plan, network):
    """The seeds a network runs: every one, or the first --base-seeds outside
    --more-seeds-for."""
    return plan.seeds if network in plan.more_seeds_for else plan.seeds[:plan.base_seeds]


def _python(cmd):
    return run_step(None, cmd, then='; run this command again to resume')[0]


def counts(network, dataset):
    """(parameters, multiply-adds) of ``network`` at the dataset's input and classes."""
    recipe = DATASETS[dataset]
    shape = symbol.parse_image_shape(recipe.get('image_shape', '3,32,32'))
    c = complexity(symbol.get_symbol(network, image_shape=shape,
                                     num_classes=recipe['num_classes']), shape)
    return c['params'], c['macs']


def run_settings(plan):
    """What a run's checkpoints depend on beyond its network and seed."""
    return {'dtype': plan.dtype, 'train_flags': list(plan.train_flags),
            'train_subset': plan.train_subset, 'batch_size': plan.batch_size,
            'epochs': plan.epochs}


def check_same_run(plan, key, recorded, where):
    """A UserError when ``recorded`` settings (of a finished run, or of a started one's
    PREFIX.run.json) differ from these: --resume would take its checkpoint as this one's."""
    ours = run_settings(plan)
    for name, value in sorted(ours.items()):
        theirs = recorded.get(name, {'dtype': 'float32', 'train_flags': []}.get(name))
        if name in ('batch_size', 'epochs') and name not in recorded:
            continue  # (runs recorded before these were)
        if theirs != value:
            flag = '--' + name.replace('_', '-')
            raise UserError('%s in %s was %s with %s %s, not %s; give another --out'
                            % (key, plan.out, where, flag,
                               ' '.join(theirs) if isinstance(theirs, list) else theirs,
                               ' '.join(value) if isinstance(value, list) else value))


def train_and_score(plan, network, seed, finished):
    """One run, from where it stands; returns its result (kept in ``finished``)."""
    key = '%s-s%d' % (network, seed)
    done = finished.get(key)
    if done:  # (its schedule, data and precision are those asked for, or it is refused)
        check_same_run(plan, key, done, 'trained')
        return done
    prefix = os.path.join(plan.out, key)
    run_path = os.path.join(ROOT, prefix + '.run.json')
    if os.path.isfile(run_path):
        with open(run_path) as f:
            check_same_run(plan, key, json.load(f), 'started')
    else:
        write_text(run_path, json.dumps(run_settings(plan), indent=1) + '\n')
    train_cmd = ['train_cifar.py', '--dataset', plan.dataset, '--network', network,
                 '--num-epochs', plan.epochs, '--seed', seed, '--batch-size', plan.batch_size,
                 '--data-train', plan.data_train, '--gpus=',
                 '--model-prefix', prefix, '--log-file', prefix + '.log', '--resume']
    if plan.val_subset:  # (the first N: the same images every epoch)
        train_cmd += ['--data-val', plan.data_val, '--num-val-examples', plan.val_subset]
    else:
        train_cmd += ['--data-val=']
    if plan.dtype != 'float32':
        train_cmd += ['--dtype', plan.dtype]
    if plan.train_subset:
        train_cmd += ['--num-examples', plan.train_subset]
    train_cmd += plan.train_flags
    _python(train_cmd)
    score_cmd = ['score.py', '--model', prefix, '--load-epoch', plan.epochs,
                 '--data-val', plan.data_val, '--gpus=', '--json', '--tta', 'none']
    scored = json.loads(_python(score_cmd).strip().splitlines()[-1])
    # Every recipe here trains with mirroring, so the flip protocol is scored too.
    flip_cmd = score_cmd[:-1] + ['flip']
    flipped = json.loads(_python(flip_cmd).strip().splitlines()[-1])
    curves = training_log.parse_log(os.path.join(ROOT, prefix + '.log'))
    _, seconds, speed = training_log.run_speed(curves)
    params, macs = counts(network, plan.dataset)
    # The form its last epoch trained in (docs/speed.md): images/s compare only within one.
    forms = curves['form']
    result = {'network': network, 'seed': seed, 'epochs': plan.epochs,
              'training_form': forms[max(forms)] if forms else None,
              'train_subset': plan.train_subset, 'dtype': plan.dtype,
              'train_flags': list(plan.train_flags), 'batch_size': plan.batch_size,
              'params': params, 'macs': macs,
              'top1': scored['accuracy'], 'top1_flip': flipped['accuracy'],
              'val_images': scored['images'], 'score_images_per_sec': scored['images_per_sec'],
              'score_flip_images_per_sec': flipped['images_per_sec'],
              'train_seconds': seconds, 'train_images_per_sec': speed,
              'machine': machine_description(),
              'commands': ['python ' + ' '.join(str(c) for c in cmd)
                           for cmd in (train_cmd, score_cmd, flip_cmd)]}
    finished[key] = result
    return result


def seed_figures(runs):
    """Each seed's top-1 (percent), in seed order: 's1 88.09, s2 88.21'."""
    return ', '.join('s%d %.2f' % (r['seed'], 100 * r['top1'])
                     for r in sorted(runs, key=lambda r: r['seed']))


def table(plan, results):
    """results.md's table: a row per network of the plan (its seeds' runs): the mean top-1
    with its sample standard deviation over the seeds, and every seed's figure; the
    training images/s is the median of the seeds' runs."""
    paper = {net: acc for _, net, _, acc in PAPER_CIFAR}
    lines = ['| network | params | MACs | top-1 % (mean \u00b1 sd) | top-1 % of each seed '
             '| training images/s, median of seeds (form) | paper CIFAR-10 / CIFAR-100 '
             '| top-1 %, flip TTA (mean) |',
             '|---|---|---|---|---|---|---|---|']
    for network in plan.networks:
        runs = [r for r in results.values()
                if r['network'] == network and r['seed'] in seeds_of(plan, network)]
        if not runs:
            continue
        top1 = [100 * r['top1'] for r in runs]
        spread = ' \u00b1 %.2f' % statistics.stdev(top1) if len(top1) > 1 else ''
        ref = paper.get(network.lower())
        flip = [100 * r['top1_flip'] for r in runs if 'top1_flip' in r]
        # (seeds trained on machines of other forms: each named, in the runs' order)
        forms = dict.fromkeys(training_log.form_name(r.get('training_form')) for r in runs)
        lines.append('| %s | %s | %s | %.2f%s | %s | %.0f (%s) | %s | %s |' % (
            network, '{:,}'.format(runs[0]['params']), '{:,}'.format(runs[0]['macs']),
            statistics.mean(top1), spread, seed_figures(runs),
            # (the median: one seed's run slowed by another job on the machine moves it
            # less than the mean)
            statistics.median(r['train_images_per_sec'] for r in runs),
            ' / '.join(forms), '%.2f / %.2f' % ref if ref else '-',
            '%.2f' % statistics.mean(flip) if len(flip) == len(runs) else '-'))
    return '\n'.join(lines)


def claim_verdicts(plan, finished):
    """The paper's claims (common.verdict) judged from the runs of these networks and seeds."""
    return verdict.verdicts({n: [100 * r['top1'] for r in finished.values()
                                 if r['network'] == n and r['seed'] in seeds_of(plan, n)]
                             for n in plan.networks})


def report(plan, finished, command):
    """results.json's contents: the command, the machine, the plan's budget, every run and
    the verdicts."""
    return {'command': command, 'plan': plan._asdict(),
            'machine': machine_description(), 'dataset': plan.dataset,
            'epochs': plan.epochs, 'train_subset': plan.train_subset,
            'runs': sorted(finished.values(), key=lambda r: (r['network'], r['seed'])),
            'verdicts': claim_verdicts(plan, finished)}


def read_report(path):
    """results.json's contents as this tool wrote them, with ``finished``
    {'NETWORK-sSEED': run}; anything else (cut short, edited, another file) is a UserError
    naming it."""
    def bad(why):
        return UserError('%s is not a results file of tools/reproduce.py (%s); restore it, or '
                         'move it away to score the finished runs again' % (path, why))
    try:
        with open(path) as f:
            report = json.load(f)
    except ValueError as err:
        raise bad('not JSON: %s' % err)
    runs = report.get('runs') if isinstance(report, dict) else None
    if not isinstance(runs, list):
        raise bad('no list of runs')
    for r in runs:
        if not (isinstance(r, dict) and isinstance(r.get('network'), str)
                and isinstance(r.get('seed'), int) and isinstance(r.get('top1'), (int, float))):
            raise bad('a run without network, seed or top1: %s' % json.dumps(r)[:80])
    plan = report.get('plan')
    if plan is not None:
        if not isinstance(plan, dict) or set(plan) - set(Plan._fields):
            raise bad('a plan of other fields')
        plan = dict(PLAN_DEFAULTS, **plan)
        if set(plan) != set(Plan._fields):
            raise bad('a plan without %s' % ', '.join(sorted(set(Plan._fields) - set(plan))))
        lists = ('networks', 'seeds', 'more_seeds_for', 'train_flags')
        if not (all(isinstance(plan[k], list) for k in lists)
                and all(isinstance(s, int) for s in plan['seeds'])
                and isinstance(plan['base_seeds'], int) and isinstance(plan['epochs'], int)):
            raise bad('a plan whose networks, seeds or epochs are not what this tool writes')
        report['plan'] = plan
    report['finished'] = {'%s-s%d' % (r['network'], r['seed']): r for r in runs}
    return report


def read_results(path):
    """{'NETWORK-sSEED': run} of a results.json this tool wrote (see read_report)."""
    return read_report(path)['finished']


def results_markdown(plan, finished, command):
    """results.md: the table, the verdicts, and the budget and command they come from."""
    text = table(plan, finished)
    claims = claim_verdicts(plan, finished)
    if claims:
        text += '\n\n' + verdict.verdict_table(claims)
    return text, '%s\n\n%s, %d epochs%s%s; `%s`\n' % (
        text, plan.dataset, plan.epochs,
        ', %d training images an epoch' % plan.train_subset if plan.train_subset else '',
        ', training flags %s' % ' '.join(plan.train_flags) if plan.train_flags else '',
        command)


def write_table(plan, finished, command):
    """OUT/results.md, replaced whole; returns the table and verdicts it holds."""
    text, markdown = results_markdown(plan, finished, command)
    write_text(os.path.join(ROOT, plan.out, 'results.md'), markdown)
    return text


def write_results(plan, finished, command):
    """OUT/results.json and OUT/results.md, each replaced whole."""
    write_text(os.path.join(ROOT, plan.out, 'results.json'),
               json.dumps(report(plan, finished, command), indent=2) + '\n')
    write_table(plan, finished, command)


def run_plan(plan, command):
    """Every run of the plan not yet finished, results.json and results.md rewritten after
    each (a stopped plan's folder tabulates the runs it finished); returns (finished runs,
    results.json's path)."""
    out = os.path.join(ROOT, plan.out)
    os.makedirs(out, exist_ok=True)
    results_path = os.path.join(out, 'results.json')
    stored = read_report(results_path) if os.path.isfile(results_path) else {}
    finished = stored.get('finished', {})
    # (rerun with another plan, e.g. fewer seeds: the file says what its table shows)
    stale = bool(finished) and (stored.get('command') != command
                                or stored.get('plan') != dict(plan._asdict()))
    for seed in plan.seeds:
        for network in (n for n in plan.networks if seed in seeds_of(plan, n)):
            known = dict(finished)
            train_and_score(plan, network, seed, finished)
            if finished != known or stale:  # (the same command reprints: the file stays)
                write_results(plan, finished, command)
                stale = False
    return finished, results_path
