#!/usr/bin/env python
"""MXNet's distributed launcher (mxnet/tools/launch.py from the wheel), runnable on Python 3.9+.

    python tools/launch.py -n 2 -s 1 --launcher local \\
        python train_cifar.py --kv-store dist_sync ...
    python tools/launch.py -n 4 -H hosts --launcher ssh python train_imagenet.py --kv-store dist_sync ...

The wheel's launcher starts the scheduler through dmlc_tracker, whose tracker polls
``Thread.isAlive()``, removed in Python 3.9. This wrapper restores that name as an alias
of ``Thread.is_alive`` and then runs the wheel's own launch.py unchanged, with the same
arguments.
"""
import importlib.util
import os
import runpy
import sys
import threading


def wheel_launcher():
    spec = importlib.util.find_spec('mxnet')
    if spec is None or not spec.origin:
        sys.stderr.write('error: mxnet is not installed; run make setup\n')
        sys.exit(2)
    return os.path.join(os.path.dirname(spec.origin), 'tools', 'launch.py')


def main():
    if not hasattr(threading.Thread, 'isAlive'):
        threading.Thread.isAlive = threading.Thread.is_alive
    path = wheel_launcher()
    sys.argv[0] = path
    runpy.run_path(path, run_name='__main__')


if __name__ == '__main__':
    main()
