#!/usr/bin/env python
"""Packing speed: our tools/im2rec.py against the im2rec.py in the mxnet wheel.

    python tools/bench_im2rec.py --images 2000 --rounds 3 --json im2rec_bench.json

Generates a folder of JPEGs of mixed sizes around 500x375 (smooth random content, so
they compress like photographs), lists it once, then packs the same .lst with each tool
(--resize 256 --num-thread 2 by default), alternating the tools round by round, and
reports images/s of each and the ratio. Each tool runs as its own process, as users run
it; the time includes that process's start.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from _path import ROOT
from common.atomic import write_text
from common.cli import ArgumentParser, run, setup_logging
from common.commands import wheel_tool
from common.speed import photo_like_images, time_packing
from common.timing import machine_description


def main():
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=2000)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--resize', type=int, default=256)
    parser.add_argument('--num-thread', type=int, default=2)
    parser.add_argument('--json', type=str, default='', help='write the results here too')
    args = parser.parse_args()
    setup_logging()
    work = tempfile.mkdtemp(prefix='im2rec-bench-')
    try:
        images = os.path.join(work, 'images')
        photo_like_images(images, args.images)
        lst_prefix = os.path.join(work, 'bench')
        subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'im2rec.py'), lst_prefix,
                        images, '--list', '--recursive'], check=True, capture_output=True)
        flags = ['--resize', str(args.resize), '--num-thread', str(args.num_thread)]
        tools = {'ours': os.path.join(ROOT, 'tools', 'im2rec.py'), 'wheel': wheel_tool('im2rec.py')}
        times = {name: [] for name in tools}
        for r in range(args.rounds):
            for name in (('ours', 'wheel') if r % 2 == 0 else ('wheel', 'ours')):
                seconds, size = time_packing(tools[name], work, images, lst_prefix + '.lst', flags)
                times[name].append(seconds)
                print('round %d %-5s %6.2f s  %7.1f images/s  %.1f MB'
                      % (r, name, seconds, args.images / seconds, size / 1e6), flush=True)
        best = {name: args.images / min(t) for name, t in times.items()}
        result = {
            'command': 'python tools/bench_im2rec.py --images %d --rounds %d --resize %d '
                       '--num-thread %d' % (args.images, args.rounds, args.resize, args.num_thread),
            'machine': machine_description(),
            'images_per_sec_best': best, 'seconds': times,
            'ratio_ours_over_wheel': best['ours'] / best['wheel'],
        }
        print('ours %.1f images/s, wheel %.1f images/s, ratio %.2fx (best of %d rounds)'
              % (best['ours'], best['wheel'], result['ratio_ours_over_wheel'], args.rounds))
        if args.json:
            write_text(args.json, json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    run(main)
