"""What every entry point shares: logging and clean user errors (no mxnet import here)."""
import argparse
import errno
import logging
import os
import sys

from .errors import UserError

# MXNet's example scripts log this way; tools such as parse_log.py read the messages.
LOG_FORMAT = '%(asctime)-15s %(message)s'


class _DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in --help, except a switch's: "--no-shuffle ... (default: True)" reads as
    if the switch were on by default."""

    def _get_help_string(self, action):
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            return action.help
        return super(_DefaultsHelpFormatter, self)._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with defaults shown in --help and a bad flag reported as one line."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault('formatter_class', _DefaultsHelpFormatter)
        super(ArgumentParser, self).__init__(*args, **kwargs)

    def error(self, message):
        sys.stderr.write('error: %s (see %s --help)\n' % (message, self.prog))
        sys.exit(2)


GPUS_HELP = "GPUs, e.g. '0,1'; '' for the CPU; default every visible GPU, else the CPU"


def add_gpus_argument(parser):
    """--gpus, the same for every entry point (common.runtime.get_devices reads it)."""
    return parser.add_argument('--gpus', type=str, default=None, help=GPUS_HELP)


def setup_logging(log_file='', rank=0, level=logging.INFO):
    """Log to the console in MXNet's line format (``Node[rank]`` first on distributed
    workers other than 0) and, with ``log_file``, to that file too (its folder created).
    Calling it again adds no second console handler."""
    root = logging.getLogger()
    root.setLevel(level)
    fmt = logging.Formatter(('Node[%d] ' % rank if rank else '') + LOG_FORMAT)
    if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
               for h in root.handlers):
        console = logging.StreamHandler()
        console.setFormatter(fmt)
        root.addHandler(console)
    if log_file:
        folder = os.path.dirname(log_file)
        try:
            if folder:
                os.makedirs(folder, exist_ok=True)
            handler = logging.FileHandler(log_file)
        except OSError as err:
            raise UserError('cannot write --log-file %s (%s): choose a writable path'
                            % (log_file, err.strerror or err))
        handler.setFormatter(fmt)
        root.addHandler(handler)


# What to do about an operating-system error, by errno.
OS_ERROR_HINTS = {
    errno.ENOSPC: 'free disk space or write elsewhere, then run again',
    errno.EDQUOT: 'free disk space or write elsewhere, then run again',
    errno.EROFS: 'the file system is read-only: write to another folder',
    errno.EACCES: 'no permission: write to a folder you own, or fix its permissions',
    errno.EPERM: 'no permission: write to a folder you own, or fix its permissions',
}


def describe_os_error(err):
    """One line for an OSError: the file, what went wrong, and what to do."""
    where = ' %s:' % err.filename if getattr(err, 'filename', None) else ''
    hint = OS_ERROR_HINTS.get(err.errno)
    return '%s %s%s' % (where.strip(), err.strerror or err, '; ' + hint if hint else '')


def print_error(message):
    """The one form every error takes on stderr: ``error: MESSAGE`` on one line."""
    sys.stderr.write('error: %s\n' % ' '.join(str(message).split()))
    sys.stderr.flush()


def run(main):
    """Call ``main()``; a mistake the user can fix (an exception whose class sets
    ``user_fixable``: UserError, the network library's NetworkConfigError) or an error of
    the operating system (a full disk, a read-only folder) ends in one line on stderr and
    exit status 2."""
    try:
        return main()
    except OSError as err:
        print_error(describe_os_error(err))
        sys.exit(2)
    except Exception as err:
        if not getattr(err, 'user_fixable', False):
            raise
        print_error(err)
        sys.exit(getattr(err, 'exit_status', 2))
    except KeyboardInterrupt:
        sys.stderr.write('interrupted\n')
        sys.exit(130)
