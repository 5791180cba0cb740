#!/usr/bin/env python
"""The paper's comparison at equal parameters, as one resumable command.

    make fashion-mnist
    python tools/reproduce.py --dataset fashion-mnist --epochs 10 --train-subset 10000 \\
        --networks igcv3,igcv3_0.7x,igcv3_0.5x,mobilenetv2,igcv2 \\
        --seeds 1,2 --more-seeds-for igcv3,mobilenetv2
    python tools/reproduce.py --dataset cifar10 --epochs 400 --seeds 1   # archives converted

For every network and seed it trains with train_cifar.py (the dataset's recipe, the
schedule over --epochs), scores the final checkpoint with score.py on the dataset's
validation (test) set, and writes OUT/results.json (every run: network, seed, parameters,
multiply-adds, top-1, training time and images/s, the training form the log names, the
commands) and OUT/results.md (a
table: parameters, MACs, top-1 mean and spread over the seeds, images/s, and the paper's
CIFAR-10 and CIFAR-100 numbers beside them). It is resumable: a finished run is kept, and
a run that was stopped continues from its last checkpoint (train_cifar.py --resume).
Curves: python tools/plot_log.py OUT/NETWORK-sSEED.log.
"""
import json
import os
import re
import shlex
import statistics
import sys
import time

import _path  # noqa: F401
from _path import ROOT
from common import runtime
runtime.configure()  # before mxnet loads

import symbol  # noqa: E402
from common.atomic import write_text  # noqa: E402
from common.cli import ArgumentParser, UserError, run, setup_logging  # noqa: E402
from common.commands import run_step  # noqa: E402
from common.timing import machine_description  # noqa: E402
from common import training_log, verdict  # noqa: E402
from common.complexity import complexity  # noqa: E402
from symbol.paper import PAPER_CIFAR  # noqa: E402
from common.recipes import DATASETS  # noqa: E402

DEFAULT_NETWORKS = 'igcv3,igcv3_0.7x,igcv3_0.5x,mobilenetv2,igcv2'
# train_cifar.py flags this tool sets for every run (--train-flags may not).
OWNED_FLAGS = {'--dataset', '--network', '--num-epochs', '--seed', '--batch-size',
               '--data-train', '--data-val', '--gpus', '--model-prefix', '--log-file',
               '--resume', '--dtype', '--num-examples', '--load-epoch', '--num-val-examples'}


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', default='fashion-mnist', choices=sorted(DATASETS))
    parser.add_argument('--networks', default=DEFAULT_NETWORKS, help='comma list')
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--seeds', default='1', help='comma list of seeds')
    parser.add_argument('--more-seeds-for', default=None, metavar='NETWORKS',
                        help='comma list: only these networks run the seeds after the first '
                             '(default: every network runs every seed)')
    parser.add_argument('--train-subset', type=int, default=None,
                        help='train each epoch on this many images of the training set')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--dtype', default='float32', choices=('float32', 'bfloat16'),
                        help="train_cifar.py's --dtype (bfloat16: CPUs with AVX512_BF16)")
    parser.add_argument('--train-flags', default='',
                        help="more train_cifar.py flags for every run, e.g. '--random-erasing "
                             "0.5' (recorded with the runs; runs of other flags in the same "
                             "--out are refused)")
    parser.add_argument('--data-train', default=None, help="default: the dataset's")
    parser.add_argument('--data-val', default=None, help="default: the dataset's")
    parser.add_argument('--val-subset', type=int, default=1000,
                        help='validate each epoch of training on this many images of --data-val '
                             '(for the curves of tools/plot_log.py; 0: none); the final score '
                             'always uses all of them')
    parser.add_argument('--out', default=None, help='default: runs/DATASET')
    args = parser.parse_args(argv)
    try:
        args.seeds = [int(s) for s in args.seeds.split(',') if s.strip()]
    except ValueError:
        raise UserError("--seeds '%s' must be a comma list of numbers" % args.seeds)
    from common.train import MAX_SEED
    if any(not 0 <= s <= MAX_SEED for s in args.seeds):
        raise UserError('--seeds must lie in 0..%d' % MAX_SEED)
    args.networks = [n.strip() for n in args.networks.split(',') if n.strip()]
    try:
        args.train_flags = shlex.split(args.train_flags)
    except ValueError as err:
        raise UserError("--train-flags '%s': %s" % (args.train_flags, err))
    owned = sorted(set(f.split('=')[0] for f in args.train_flags) & OWNED_FLAGS)
    if owned:
        raise UserError('--train-flags %s: set by this tool; use its own flags' % ' '.join(owned))
    unknown = [n for n in args.networks if n.lower() not in symbol.list_networks()]
    if unknown:
        raise UserError('unknown --networks %s: choose from %s'
                        % (','.join(unknown), ', '.join(symbol.list_networks())))
    if args.more_seeds_for is None:
        args.more_seeds_for = list(args.networks)
    else:
        args.more_seeds_for = [n.strip() for n in args.more_seeds_for.split(',') if n.strip()]
        stray = [n for n in args.more_seeds_for if n not in args.networks]
        if stray:
            raise UserError('--more-seeds-for %s: not in --networks; name networks of '
                            '--networks' % ','.join(stray))
    if args.val_subset < 0:
        raise UserError('--val-subset must be 0 (no validation during training) or more')
    if args.epochs < 1 or not args.seeds or not args.networks:
        raise UserError('give --epochs >= 1, at least one seed and one network')
    recipe = DATASETS[args.dataset]
    args.data_train = args.data_train or recipe['data_train']
    args.data_val = args.data_val or recipe['data_val']
    for flag, path in (('--data-train', args.data_train), ('--data-val', args.data_val)):
        if not os.path.isfile(os.path.join(ROOT, path)):
            raise UserError('%s %s: no such file; %s' % (flag, path, 'make fashion-mnist'
                            if args.dataset == 'fashion-mnist' else
                            'convert the archives with tools/cifar_to_rec.py (docs/training.md, CIFAR)'))
    args.out = args.out or os.path.join('runs', args.dataset)
    return args


def seeds_of(args, network):
    """The seeds a network runs: every one, or only the first outside --more-seeds-for."""
    return args.seeds if network in args.more_seeds_for else args.seeds[:1]


def _python(cmd):
    return run_step(cmd, ROOT, then='; run this command again to resume')[0]


def counts(network, dataset):
    recipe = DATASETS[dataset]
    shape = symbol.parse_image_shape(recipe.get('image_shape', '3,32,32'))
    c = complexity(symbol.get_symbol(network, image_shape=shape,
                                     num_classes=recipe['num_classes']), shape)
    return c['params'], c['macs']


def _settings(args):
    """What a run's checkpoints depend on beyond its network and seed."""
    return {'dtype': args.dtype, 'train_flags': list(args.train_flags),
            'train_subset': args.train_subset, 'batch_size': args.batch_size,
            'epochs': args.epochs}


def _check_same_run(args, key, recorded, where):
    """A UserError when ``recorded`` settings (of a finished run, or of a started one's
    PREFIX.run.json) differ from these: --resume would take its checkpoint as this one's."""
    ours = _settings(args)
    for name, value in sorted(ours.items()):
        theirs = recorded.get(name, {'dtype': 'float32', 'train_flags': []}.get(name))
        if name in ('batch_size', 'epochs') and name not in recorded:
            continue  # (runs recorded before these were)
        if theirs != value:
            flag = '--' + name.replace('_', '-')
            raise UserError('%s in %s was %s with %s %s, not %s; give another --out'
                            % (key, args.out, where, flag,
                               ' '.join(theirs) if isinstance(theirs, list) else theirs,
                               ' '.join(value) if isinstance(value, list) else value))


def train_and_score(args, network, seed, finished):
    """One run, from where it stands; returns its result (kept in ``finished``)."""
    key = '%s-s%d' % (network, seed)
    done = finished.get(key)
    if done:  # (its schedule, data and precision are those asked for, or it is refused)
        _check_same_run(args, key, done, 'trained')
        return done
    prefix = os.path.join(args.out, key)
    run_path = os.path.join(ROOT, prefix + '.run.json')
    if os.path.isfile(run_path):
        with open(run_path) as f:
            _check_same_run(args, key, json.load(f), 'started')
    else:
        write_text(run_path, json.dumps(_settings(args), indent=1) + '\n')
    train_cmd = ['train_cifar.py', '--dataset', args.dataset, '--network', network,
                 '--num-epochs', args.epochs, '--seed', seed, '--batch-size', args.batch_size,
                 '--data-train', args.data_train, '--gpus=',
                 '--model-prefix', prefix, '--log-file', prefix + '.log', '--resume']
    if args.val_subset:  # (the first N: the same images every epoch)
        train_cmd += ['--data-val', args.data_val, '--num-val-examples', args.val_subset]
    else:
        train_cmd += ['--data-val=']
    if args.dtype != 'float32':
        train_cmd += ['--dtype', args.dtype]
    if args.train_subset:
        train_cmd += ['--num-examples', args.train_subset]
    train_cmd += args.train_flags
    _python(train_cmd)
    score_cmd = ['score.py', '--model', prefix, '--load-epoch', args.epochs,
                 '--data-val', args.data_val, '--gpus=', '--json', '--tta', 'none']
    scored = json.loads(_python(score_cmd).strip().splitlines()[-1])
    # Every recipe here trains with mirroring, so the flip protocol is scored too.
    flip_cmd = score_cmd[:-1] + ['flip']
    flipped = json.loads(_python(flip_cmd).strip().splitlines()[-1])
    log_path = os.path.join(ROOT, prefix + '.log')
    with open(log_path) as f:
        log = f.read()
    _, seconds, speed = training_log.run_speed(training_log.parse_log(log_path))
    params, macs = counts(network, args.dataset)
    # The form it trained in (docs/speed.md): images/s compare only within one form.
    forms = re.findall(r'CPU training: (.*)', log)
    result = {'network': network, 'seed': seed, 'epochs': args.epochs,
              'training_form': forms[-1].strip() if forms else None,
              'train_subset': args.train_subset, 'dtype': args.dtype,
              'train_flags': list(args.train_flags), 'batch_size': args.batch_size,
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


def form_name(logged):
    """A short name for the training form a log line names (common.runtime)."""
    if not logged:
        return '-'
    for word, name in (('padded', 'padded, AVX-512'), ('fused', 'fused, AVX2'),
                       ('training form', 'training form'), ('released', 'released ops')):
        if word in logged:
            return name
    return logged


def table(args, results):
    paper = {net: acc for _, net, _, acc in PAPER_CIFAR}
    lines = ['| network | params | MACs | top-1 %% (mean, min-max over %s) | seeds | images/s '
             '(training form) | paper CIFAR-10 / CIFAR-100 | top-1 %%, flip TTA (mean) |' % (
                 'seeds' if any(len(seeds_of(args, n)) > 1 for n in args.networks)
                 else 'the seed'),
             '|---|---|---|---|---|---|---|---|']
    for network in args.networks:
        runs = [r for r in results.values()
                if r['network'] == network and r['seed'] in seeds_of(args, network)]
        if not runs:
            continue
        top1 = [100 * r['top1'] for r in runs]
        spread = ' (%.2f-%.2f)' % (min(top1), max(top1)) if len(top1) > 1 else ''
        ref = paper.get(network.lower())
        flip = [100 * r['top1_flip'] for r in runs if 'top1_flip' in r]
        lines.append('| %s | %s | %s | %.2f%s | %d | %.0f (%s) | %s | %s |' % (
            network, '{:,}'.format(runs[0]['params']), '{:,}'.format(runs[0]['macs']),
            statistics.mean(top1), spread, len(runs),
            statistics.mean(r['train_images_per_sec'] for r in runs),
            form_name(runs[0].get('training_form')), '%.2f / %.2f' % ref if ref else '-',
            '%.2f' % statistics.mean(flip) if len(flip) == len(runs) else '-'))
    return '\n'.join(lines)


def claim_verdicts(args, finished):
    """The paper's claims (common.verdict) judged from the runs of these networks and seeds."""
    return verdict.verdicts({n: [100 * r['top1'] for r in finished.values()
                                 if r['network'] == n and r['seed'] in seeds_of(args, n)]
                             for n in args.networks})


def report(args, finished):
    return {'command': 'python tools/reproduce.py ' + ' '.join(sys.argv[1:]),
            'machine': machine_description(), 'dataset': args.dataset,
            'epochs': args.epochs, 'train_subset': args.train_subset,
            'runs': sorted(finished.values(), key=lambda r: (r['network'], r['seed'])),
            'verdicts': claim_verdicts(args, finished)}


def read_results(path):
    """{'NETWORK-sSEED': run} of a results.json this tool wrote; anything else (cut
    short, edited, another file) is a UserError naming it."""
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
    return {'%s-s%d' % (r['network'], r['seed']): r for r in runs}


def main():
    setup_logging()
    args = parse_args()
    out = os.path.join(ROOT, args.out)
    os.makedirs(out, exist_ok=True)
    results_path = os.path.join(out, 'results.json')
    finished = read_results(results_path) if os.path.isfile(results_path) else {}
    start = time.time()
    for seed in args.seeds:
        for network in (n for n in args.networks if seed in seeds_of(args, n)):
            known = dict(finished)
            train_and_score(args, network, seed, finished)
            if finished != known:  # (a finished run only reprints: results.json stays)
                write_text(results_path, json.dumps(report(args, finished), indent=2) + '\n')
    text = table(args, finished)
    claims = claim_verdicts(args, finished)
    if claims:
        text += '\n\n' + verdict.verdict_table(claims)
    write_text(os.path.join(out, 'results.md'), '%s\n\n%s, %d epochs%s%s; `%s`\n' % (
        text, args.dataset, args.epochs,
        ', %d training images an epoch' % args.train_subset if args.train_subset else '',
        ', training flags %s' % ' '.join(args.train_flags) if args.train_flags else '',
        'python tools/reproduce.py ' + ' '.join(sys.argv[1:])))
    sys.stdout.write(text + '\n')
    sys.stderr.write('done in %.0f s; %s\n' % (time.time() - start, results_path))


if __name__ == '__main__':
    run(main)
