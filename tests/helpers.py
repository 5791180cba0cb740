"""Running the entry points as a user would: a subprocess from the repository root."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_script(*args, env=None, timeout=600, cwd=ROOT):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable] + [str(a) for a in args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def module_outputs(mod, x):
    """The outputs of a bound Module on the batch ``x`` (numpy), as numpy."""
    import mxnet as mx
    mod.forward(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.zeros(x.shape[0])]), is_train=False)
    return mod.get_outputs()[0].asnumpy()


def assert_one_line_error(proc, *needles):
    """A user mistake: non-zero exit, one line on stderr, no traceback."""
    assert proc.returncode != 0, proc.stdout
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert 'Traceback' not in proc.stderr, proc.stderr
    assert len(lines) >= 1 and lines[-1].startswith('error: '), proc.stderr
    for needle in needles:
        assert needle in lines[-1], lines[-1]
