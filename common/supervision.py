"""Supervision of a training run: the stall watchdog of distributed jobs and the stop
request of SIGINT/SIGTERM."""
import logging
import os
import signal
import threading
import time

from .cli import print_error


class Watchdog(object):
    """Ends the process when training makes no progress for ``timeout`` seconds.

    MXNet's parameter server waits forever for a worker or server that died; with a
    distributed kvstore every surviving worker would hang. ``touch()`` after each batch;
    a thread checks and, past the timeout, logs the reason and exits with status 3.
    """

    def __init__(self, timeout, what):
        self.timeout, self.what = timeout, what
        self.last = time.time()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def touch(self, *unused):
        self.last = time.time()

    update = touch  # usable as the progress object of common.evaluate

    def _watch(self):
        while not self.stopped.wait(min(5.0, self.timeout / 4)):
            idle = time.time() - self.last
            if idle > self.timeout:
                logging.error('no progress for %.0f s in %s: a worker, server or scheduler '
                              'has probably died; stopping (see --dist-timeout)', idle, self.what)
                print_error('distributed training stalled for %.0f s (a peer died?); resume '
                            'with --resume once every node is up' % idle)
                os._exit(3)

    def stop(self):
        self.stopped.set()


class StopRequest(object):
    """``with StopRequest() as stop``: SIGINT/SIGTERM set ``stop.requested`` (training stops
    after the current batch and saves); a second signal stops at once (after the operator
    running, with one line, exit 128 + signal).

    A worker of a ``distributed`` job cannot finish its batch alone (its peers wait for it
    in every step), so there a signal ends the process at once with status 128 + signal
    and one line saying so; the launcher (tools/launch.py) then stops the other roles."""

    def __init__(self, distributed=False):
        self.requested = False
        self.signal = None
        self.distributed = distributed

    def __enter__(self):
        self.old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.old[sig] = signal.signal(sig, self.handle)
        return self

    def handle(self, signum, frame):
        if self.distributed:
            logging.error('Signal %d: this worker stops now; the distributed job cannot go on '
                          'without it', signum)
            print_error('stopped by signal %d; a distributed job stops with any of its '
                        'workers: resume it with --resume' % signum)
            os._exit(128 + signum)
        if self.requested:
            # At once, and with nothing of Python's unwinding (a KeyboardInterrupt raised in
            # a destructor or in the error report printed a traceback): checkpoints are
            # published by rename, so what is on disk is whole.
            print_error('stopped at once by a second signal %d; resume from the last '
                        'complete checkpoint with --resume' % signum)
            os._exit(128 + signum)
        logging.info('Signal %d: stopping after this batch and saving a checkpoint '
                     '(send again to stop at once)', signum)
        self.requested = True
        self.signal = signum

    def __exit__(self, *exc):
        if self.requested:
            return  # the run ends for the signal: a second one still stops it at once
        for sig, handler in self.old.items():
            signal.signal(sig, handler)
