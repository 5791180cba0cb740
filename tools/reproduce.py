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
table: parameters, MACs, top-1 mean and standard deviation over the seeds and every seed's
figure, images/s, the paper's CIFAR-10 and CIFAR-100 numbers beside them; and the verdict on
each of the paper's claims, common.verdict), both rewritten after each finished run. It is
resumable: a finished run is kept, and a run that was stopped continues from its last
checkpoint (train_cifar.py --resume).
Curves: python tools/plot_log.py OUT/NETWORK-sSEED.log. The table and verdicts of a
results file, without training: python tools/reproduce.py --report OUT/results.json.
"""
import os
import shlex
import sys
import time

import _path  # noqa: F401
from _path import ROOT
from common import runtime
runtime.configure()  # before mxnet loads

import symbol  # noqa: E402
from common.cli import ArgumentParser, UserError, run, setup_logging  # noqa: E402
from common.comparison import (Plan, read_report, results_markdown, run_plan,  # noqa: E402
                               write_table)
from common.recipes import DATASETS  # noqa: E402

DEFAULT_NETWORKS = 'igcv3,igcv3_0.7x,igcv3_0.5x,mobilenetv2,igcv2'
# train_cifar.py flags this tool sets for every run (--train-flags may not).
OWNED_FLAGS = {'--dataset', '--network', '--num-epochs', '--seed', '--batch-size',
               '--data-train', '--data-val', '--gpus', '--model-prefix', '--log-file',
               '--resume', '--dtype', '--num-examples', '--load-epoch', '--num-val-examples'}


def parse_args(argv=None, check_files=True):
    """(Plan, None); with --report, (the Plan the results file records, its report)."""
    parser = ArgumentParser(description=__doc__.split('\n')[0], allow_abbrev=False)
    parser.add_argument('--report', default=None, metavar='RESULTS_JSON',
                        help='train nothing: print the table and verdicts of a results.json '
                             '(its runs, plan and command) as the run that wrote it did')
    parser.add_argument('--dataset', default='fashion-mnist', choices=sorted(DATASETS))
    parser.add_argument('--networks', default=DEFAULT_NETWORKS, help='comma list')
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--seeds', default='1', help='comma list of seeds')
    parser.add_argument('--more-seeds-for', default=None, metavar='NETWORKS',
                        help='comma list: only these networks run the seeds after the first '
                             '--base-seeds (default: every network runs every seed)')
    parser.add_argument('--base-seeds', type=int, default=1, metavar='N',
                        help='the networks outside --more-seeds-for run the first N of --seeds')
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
    if args.report is not None:
        return check_report(args.report, sys.argv[1:] if argv is None else argv)
    try:
        args.seeds = [int(s) for s in args.seeds.split(',') if s.strip()]
    except ValueError:
        raise UserError("--seeds '%s' must be a comma list of numbers" % args.seeds)
    from common.training_flags import MAX_SEED
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
    if not 1 <= args.base_seeds <= len(args.seeds):
        raise UserError('--base-seeds must lie in 1..%d (the number of --seeds)'
                        % len(args.seeds))
    if args.val_subset < 0:
        raise UserError('--val-subset must be 0 (no validation during training) or more')
    if args.epochs < 1 or not args.seeds or not args.networks:
        raise UserError('give --epochs >= 1, at least one seed and one network')
    recipe = DATASETS[args.dataset]
    args.data_train = args.data_train or recipe['data_train']
    args.data_val = args.data_val or recipe['data_val']
    for flag, path in (('--data-train', args.data_train), ('--data-val', args.data_val)):
        if check_files and not os.path.isfile(os.path.join(ROOT, path)):
            how = 'make fashion-mnist' if args.dataset == 'fashion-mnist' else \
                'convert the archives with tools/cifar_to_rec.py (docs/training.md, CIFAR)'
            raise UserError('%s %s: no such file; %s' % (flag, path, how))
    args.out = args.out or os.path.join('runs', args.dataset)
    return Plan(**{field: getattr(args, field) for field in Plan._fields}), None


def check_report(path, argv):
    """(Plan, report) of the results.json at ``path``: the plan it records, or (a file
    written before plans were recorded) the one its command asked for."""
    others = [a for a in argv if a.startswith('-') and a.split('=')[0] != '--report']
    if others:
        raise UserError('--report prints a results file as it stands: drop %s' % ' '.join(others))
    if not os.path.isfile(path):
        raise UserError('--report %s: no such file; give the results.json of a tools/'
                        'reproduce.py run (runs/DATASET/results.json)' % path)
    report = read_report(path)
    if report.get('plan'):
        return Plan(**report['plan']), report
    command = report.get('command')
    try:
        words = shlex.split(command) if isinstance(command, str) else []
    except ValueError as err:
        raise UserError('%s: its command does not parse (%s); restore the file' % (path, err))
    if words[:2] != ['python', 'tools/reproduce.py']:
        raise UserError('%s records neither its plan nor a tools/reproduce.py command; '
                        'restore the file' % path)
    words = words[2:]
    # (such files recorded their command unquoted: --train-flags' words, as its runs say)
    flags = report['runs'][0].get('train_flags') if report['runs'] else None
    for at, word in enumerate(words):
        if word.split('=')[0] != '--train-flags' or not isinstance(flags, list):
            continue
        head = [word[len('--train-flags='):]] if '=' in word else []
        rest = words[at + 1:]
        given = head + rest[:len(flags) - len(head)] if flags else head
        if given == flags or (not flags and not given):
            words[at:at + 1 + len(given) - len(head)] = ['--train-flags=' + shlex.join(flags)]
        break
    return parse_args(words, check_files=False)[0], report


def main():
    setup_logging()
    plan, report = parse_args()
    if report is not None:
        sys.stdout.write(results_markdown(plan, report['finished'], report['command'])[1])
        return
    command = 'python tools/reproduce.py ' + shlex.join(sys.argv[1:])
    start = time.time()
    finished, results_path = run_plan(plan, command)
    text = write_table(plan, finished, command)  # (also when no run finished this time)
    sys.stdout.write(text + '\n')
    sys.stderr.write('done in %.0f s; %s\n' % (time.time() - start, results_path))


if __name__ == '__main__':
    run(main)
