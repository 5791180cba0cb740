"""What every entry point shares: logging and clean user errors (no mxnet import here)."""
import argparse
import logging
import os
import platform
import sys

from .errors import UserError

# MXNet's example scripts log this way; tools such as parse_log.py read the messages.
LOG_FORMAT = '%(asctime)-15s %(message)s'


class ArgumentParser(argparse.ArgumentParser):
    """argparse with defaults shown in --help and a bad flag reported as one line."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault('formatter_class', argparse.ArgumentDefaultsHelpFormatter)
        super(ArgumentParser, self).__init__(*args, **kwargs)

    def error(self, message):
        sys.stderr.write('error: %s (see %s --help)\n' % (message, self.prog))
        sys.exit(2)


def setup_logging(level=logging.INFO):
    logging.basicConfig(level=level, format=LOG_FORMAT)


def run(main):
    """Call ``main()``; a user error ends in one line on stderr and exit status 2."""
    try:
        return main()
    except UserError as err:
        sys.stderr.write('error: %s\n' % ' '.join(str(err).split()))
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write('interrupted\n')
        sys.exit(130)


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


def median_seconds(step, warmup, iterations):
    """Median wall time of ``step()`` over ``iterations`` calls after ``warmup`` calls."""
    import statistics
    import time
    for _ in range(warmup):
        step()
    times = []
    for _ in range(iterations):
        tic = time.time()
        step()
        times.append(time.time() - tic)
    return statistics.median(times)
