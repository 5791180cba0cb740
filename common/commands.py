"""Running the repository's own commands as child processes, as a user would run them:
the demos and common/comparison.py (tools/reproduce.py) chain entry points, and
common/speed.py measures each of tools/benchmark.py's phases in a fresh process."""
import importlib.util
import json
import os
import subprocess
import sys
import time

from .errors import UserError

# The repository's root, where its commands run from.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_step(title, cmd, then='', cwd=ROOT):
    """Run ``python CMD...`` (one of the repository's commands) in ``cwd`` as a user would,
    its log on the console, after a line naming it (and ``title``, if any); returns (its
    stdout, seconds). A failure is a UserError ending in ``then``."""
    words = ' '.join(str(c) for c in cmd)
    sys.stderr.write(('\n=== %s\n' % title if title else '') + '$ python %s\n' % words)
    sys.stderr.flush()
    tic = time.time()
    proc = subprocess.run([sys.executable] + [str(c) for c in cmd], cwd=cwd,
                          stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise UserError('%s failed (exit %d); its output is above%s'
                        % (title or cmd[0], proc.returncode, then))
    return proc.stdout, time.time() - tic


def run_json(cmd, cwd):
    """The JSON object a ``python CMD...`` child prints as its last line of output, or
    {'error': its last line of stderr} when it fails."""
    proc = subprocess.run([sys.executable] + [str(c) for c in cmd], capture_output=True,
                          text=True, cwd=cwd)
    if proc.returncode != 0:
        return {'error': proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else
                'failed (exit %d)' % proc.returncode}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def wheel_tool(name):
    """The path of a script of the mxnet wheel's tools/ folder (im2rec.py, launch.py)."""
    spec = importlib.util.find_spec('mxnet')
    if spec is None or not spec.origin:
        raise UserError('mxnet is not installed; run make setup')
    return os.path.join(os.path.dirname(spec.origin), 'tools', name)
