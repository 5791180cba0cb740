#!/usr/bin/env python
"""MXNet's distributed launcher (mxnet/tools/launch.py from the wheel), runnable on Python 3.9+.

    python tools/launch.py -n 2 -s 1 --launcher local \\
        python train_cifar.py --kv-store dist_sync ...
    python tools/launch.py -n 4 -H hosts --launcher ssh python train_imagenet.py --kv-store dist_sync ...

The wheel's launcher starts the scheduler through dmlc_tracker, whose tracker polls
``Thread.isAlive()``, removed in Python 3.9. This wrapper restores that name as an alias
of ``Thread.is_alive`` and then runs the wheel's own launch.py unchanged, with the same
arguments.

With ``--launcher local`` it also supervises the job: when a worker or server exits with
an error (a crash, or the stall watchdog of common/supervision.py), the launcher stops every
process of the job and exits non-zero, instead of waiting forever on the scheduler.
"""
import importlib.util
import os
import runpy
import signal
import sys
import threading


def wheel_launcher():
    spec = importlib.util.find_spec('mxnet')
    if spec is None or not spec.origin:
        sys.stderr.write('error: mxnet is not installed; run make setup\n')
        sys.exit(2)
    return os.path.join(os.path.dirname(spec.origin), 'tools', 'launch.py')


def _descendants(pid):
    """PIDs below ``pid`` (Linux /proc)."""
    children = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry) as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _supervise_local_jobs():
    from dmlc_tracker import local
    run_node = local.exec_cmd

    def exec_cmd(cmd, num_attempt, role, taskid, pass_env):
        try:
            run_node(cmd, num_attempt, role, taskid, pass_env)
        except BaseException:
            sys.stderr.write('error: %s %d of the job exited with an error; stopping every '
                             'process of the job\n' % (role, taskid))
            sys.stderr.flush()
            for pid in _descendants(os.getpid()):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            os._exit(1)
    local.exec_cmd = exec_cmd


def main():
    if not hasattr(threading.Thread, 'isAlive'):
        threading.Thread.isAlive = threading.Thread.is_alive
    path = wheel_launcher()
    if 'local' in sys.argv:
        _supervise_local_jobs()
    sys.argv[0] = path
    runpy.run_path(path, run_name='__main__')


if __name__ == '__main__':
    main()
