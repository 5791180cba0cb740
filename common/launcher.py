"""Supervising a local distributed job under the wheel's launcher (tools/launch.py
--launcher local): every role (scheduler, servers, workers) started as a watched process
in its own process group, set to die with the launcher; a role that fails or is killed,
or a SIGINT/SIGTERM to the launcher, stops every process of the job (SIGTERM, then SIGKILL
after a grace period) with a non-zero exit naming the role; the scheduler's port chosen by
the OS; the cores shared among the workers."""
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time

from .cli import print_error
from .commands import wheel_tool

# Seconds between SIGTERM and SIGKILL when the job is stopped.
GRACE_SECONDS = 5
PR_SET_PDEATHSIG = 1


def wheel_launcher():
    """The path of the wheel's own launch.py."""
    return wheel_tool('launch.py')


def descendants(pid):
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


def _role_process_setup():
    """In a role's process before it runs: its own process group, so that Ctrl-C at the
    terminal reaches the launcher alone (which then stops every role in order, instead of
    each role dying on it where it stands), and killed by the kernel when the launcher's
    thread that started it ends, so that a launcher killed outright leaves no orphans."""
    os.setpgid(0, 0)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _signal_all(sig):
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, sig)
        except OSError:
            pass


class Job(object):
    """The roles of a local job: started, watched, and stopped together."""

    def __init__(self):
        self.stopping = threading.Lock()
        self.procs = []  # (role, task, Popen)
        self.lock = threading.Lock()

    def run_role(self, command, env, role, task):
        """Run one role to its end; an error or a signal stops the whole job."""
        proc = subprocess.Popen(command, shell=True, executable='/bin/bash', env=env,
                                preexec_fn=_role_process_setup)
        with self.lock:
            self.procs.append((role, task, proc))
        code = proc.wait()
        if code != 0:
            how = 'was killed by signal %d' % -code if code < 0 else 'exit status %d' % code
            self.stop('%s %s of the job exited with an error; stopping every process of the '
                      'job (%s)' % (role, task, how), 1)

    def stop(self, message, status):
        """Once: say why, SIGTERM every process of the job, SIGKILL what is left after
        GRACE_SECONDS, and exit with ``status``."""
        if not self.stopping.acquire(blocking=False):
            while True:  # another thread is stopping the job and will exit
                time.sleep(1)
        print_error(message)
        _signal_all(signal.SIGTERM)
        deadline = time.time() + GRACE_SECONDS
        while descendants(os.getpid()) and time.time() < deadline:
            time.sleep(0.1)
        _signal_all(signal.SIGKILL)
        os._exit(status)

    def finish(self):
        """After the scheduler ended well: wait for every role, then exit 0 only if all
        exited 0 (a failure stops the job from its own thread)."""
        deadline = time.time() + 60
        while time.time() < deadline:
            with self.lock:
                running = [p for _, _, p in self.procs if p.poll() is None]
            if not running:
                break
            time.sleep(0.2)
        else:
            self.stop('the scheduler ended but roles of the job still run; stopping every '
                      'process of the job', 1)
        time.sleep(0.5)  # let a role thread that saw a failure report it
        if self.stopping.acquire(blocking=False):
            _signal_all(signal.SIGKILL)  # nothing should be left; make sure
            sys.exit(0)
        while True:
            time.sleep(1)


def supervise_local_jobs():
    """Makes the wheel's local launcher (dmlc_tracker) start every role, the scheduler
    included, as a watched role of a Job, on a port the OS chose, with SIGINT and SIGTERM
    stopping the job; returns the Job."""
    from dmlc_tracker import local, tracker
    job = Job()

    def exec_cmd(cmd, num_attempt, role, taskid, pass_env):
        env = dict(os.environ)
        env.update({k: str(v) for k, v in pass_env.items()})
        env.update(DMLC_TASK_ID=str(taskid), DMLC_ROLE=role, DMLC_JOB_CLUSTER='local')
        if not os.environ.get('OMP_NUM_THREADS'):  # (the user's value stands)
            env['OMP_NUM_THREADS'] = str(local_threads(role, pass_env.get('DMLC_NUM_WORKER')))
        # (The wheel joins the words with spaces, which loses an empty one: --gpus "".)
        job.run_role(' '.join(word if word else "''" for word in cmd), env, role, taskid)
    local.exec_cmd = exec_cmd

    class SchedulerProcess(object):
        """What the tracker module sees as ``subprocess``: it starts the scheduler with
        check_call, which here is a watched role like the others."""

        @staticmethod
        def check_call(command, env=None, shell=True, executable=None):
            job.run_role(command, env, 'scheduler', 0)

    tracker.subprocess = SchedulerProcess
    use_os_chosen_ports(tracker)

    def on_signal(signum, frame):
        job.stop('interrupted by signal %d; stopping every process of the job' % signum,
                 128 + signum)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    return job


def local_threads(role, num_workers, cores=None):
    """OpenMP threads of one process of a local job: the workers share the cores (each
    taking all of them collapses every one: 8 images/s per worker instead of ~40 on 2
    cores); servers and the scheduler only add and pass arrays, one thread each."""
    if role != 'worker':
        return 1
    return max(1, (cores or os.cpu_count() or 1) // max(1, int(num_workers or 1)))


def free_port():
    """A TCP port the OS says is free now (bound to port 0 and released)."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('', 0))
        return sock.getsockname()[1]


def use_os_chosen_ports(tracker, attempts=5):
    """The wheel's tracker gives the scheduler the first port from 9091 up that it can
    bind, then releases it: two local jobs started together (two test suites) both take
    9091. Here the OS chooses the port, and a port taken in between is chosen again."""
    original = tracker.PSTracker.__init__

    def init(self, hostIP, cmd, port=None, port_end=None, envs=None):
        for _ in range(attempts):
            chosen = free_port()
            try:
                # (its loop tries the one port; when it cannot bind it, it fails before
                # starting the scheduler, for want of self.port)
                return original(self, hostIP, cmd, port=chosen, port_end=chosen + 1, envs=envs)
            except AttributeError:
                continue
        raise RuntimeError('no free port for the scheduler after %d tries' % attempts)
    tracker.PSTracker.__init__ = init
