"""Measuring speed: the median of timed calls, a process's peak memory, the median over
rounds of measurements, and the machine a number was measured on (every speed in the
README names it). common/speed.py (tools/benchmark.py, tools/bench_im2rec.py),
common/comparison.py (tools/reproduce.py) and common/quantization.py measure with these."""
import os
import platform
import resource
import statistics
import time


def median_seconds(step, warmup, iterations):
    """Median wall time of ``step()`` over ``iterations`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(iterations):
        tic = time.time()
        step()
        times.append(time.time() - tic)
    return statistics.median(times)


def peak_mb():
    """This process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def median_of_rounds(rounds):
    """{metric: median over rounds} of one measurement's round results (numbers only; the
    first round's other values as they are, 'rounds' the count); a round that failed or
    was skipped is the result."""
    if not rounds or any('error' in r or 'skipped' in r for r in rounds):
        return next((r for r in rounds if 'error' in r or 'skipped' in r), {})
    keys = [k for k, v in rounds[0].items() if isinstance(v, (int, float))]
    out = {k: statistics.median(r[k] for r in rounds) for k in keys}
    out.update({k: v for k, v in rounds[0].items() if not isinstance(v, (int, float))})
    out['rounds'] = len(rounds)
    return out


def machine_description():
    """CPU model, core count and OS, for benchmark reports."""
    model = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return '%s, %d cores, %s' % (model, os.cpu_count() or 1, platform.platform())
