"""A progress line with rate and ETA on stderr (a bar on a terminal, log lines otherwise)."""
import logging
import sys
import time


class Progress(object):
    def __init__(self, total, name, unit='img'):
        self.total, self.name, self.unit, self.done = total, name, unit, 0
        self.start = self.last = time.time()
        self.tty = sys.stderr.isatty()

    def update(self, n=1):
        self.done += n
        now = time.time()
        if now - self.last < (0.2 if self.tty else 10) and self.done < self.total:
            return
        self.last = now
        rate = self.done / max(now - self.start, 1e-9)
        eta = (self.total - self.done) / rate if rate else 0
        width = 30
        filled = width * min(self.done, self.total) // max(self.total, 1)
        text = '%s [%s%s] %d/%d %.1f %s/s ETA %ds' % (
            self.name, '#' * filled, '.' * (width - filled), self.done, self.total, rate,
            self.unit, eta)
        if self.tty:
            sys.stderr.write('\r' + text + ('\n' if self.done >= self.total else ''))
            sys.stderr.flush()
        else:
            logging.info(text)
