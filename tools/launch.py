#!/usr/bin/env python
"""MXNet's distributed launcher (mxnet/tools/launch.py from the wheel), runnable on Python 3.9+.

    python tools/launch.py -n 2 -s 1 --launcher local \\
        python train_cifar.py --kv-store dist_sync ...
    python tools/launch.py -n 4 -H hosts --launcher ssh python train_imagenet.py --kv-store dist_sync ...

The wheel's launcher starts the scheduler through dmlc_tracker, whose tracker polls
``Thread.isAlive()``, removed in Python 3.9. This wrapper restores that name as an alias
of ``Thread.is_alive`` and then runs the wheel's own launch.py, with the same arguments.

With ``--launcher local`` it also supervises the job, which the wheel's launcher does not
(it exits 0 when the scheduler dies and leaves the workers and servers running, blocked
for good): it starts every role itself, each process set to die with the launcher, and
- when the scheduler, a server or a worker exits with an error or is killed (a crash, a
  signal, the stall watchdog of common/supervision.py), it stops every process of the job
  (SIGTERM, then SIGKILL after a grace period) and exits non-zero, naming the role;
- on SIGINT (Ctrl-C) or SIGTERM it stops the job the same way and exits 128 + signal;
- when the job ends, it exits 0 only if every role exited 0, and leaves no process behind.
"""
import runpy
import signal
import sys
import threading

import _path  # noqa: F401
from common.cli import print_error
from common.errors import UserError
from common.launcher import supervise_local_jobs, wheel_launcher


def check_counts(argv):
    """-n/--num-workers at least 1 and -s/--num-servers at least 0 (with no worker the wheel's
    launcher prints nothing and waits for good); a one-line error otherwise."""
    import argparse
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('-n', '--num-workers', type=int, default=1)
    parser.add_argument('-s', '--num-servers', type=int, default=None)
    try:
        known, _ = parser.parse_known_args(argv)
    except SystemExit:
        return  # (the wheel's own parser reports it)
    if known.num_workers < 1 or (known.num_servers is not None and known.num_servers < 0):
        print_error('-n/--num-workers must be at least 1 and -s/--num-servers at least 0, '
                    'got -n %d -s %s' % (known.num_workers, known.num_servers))
        sys.exit(2)


def main():
    check_counts(sys.argv[1:])
    if not hasattr(threading.Thread, 'isAlive'):
        threading.Thread.isAlive = threading.Thread.is_alive
    try:
        path = wheel_launcher()
    except UserError as err:
        print_error(err)
        sys.exit(2)
    job = supervise_local_jobs() if 'local' in sys.argv else None
    sys.argv[0] = path
    if job is None:
        runpy.run_path(path, run_name='__main__')
        return
    # The wheel's script installs a SIGINT handler that exits 0; ours stays in force.
    handler = signal.getsignal(signal.SIGINT)
    real_signal = signal.signal
    signal.signal = lambda sig, h: real_signal(sig, handler if sig == signal.SIGINT else h)
    try:
        runpy.run_path(path, run_name='__main__')
    finally:
        signal.signal = real_signal
    job.finish()


if __name__ == '__main__':
    main()
