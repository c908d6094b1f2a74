"""A simulated Windows process (tests/unit/test_platforms.py): put this folder first on
PYTHONPATH and Python loads it at start-up. It removes what the POSIX ``signal``
and ``os`` modules have and Windows does not (the code must not rely on it),
and the parent's MAILMIGRATE_START_METHOD=spawn and PYTHONIOENCODING=cp1252
stand for Windows' only start method and the ANSI code page of a redirected
output. What it cannot simulate (msvcrt locks, CTRL_BREAK_EVENT, drive letters)
runs on a real Windows in .github/workflows/platforms.yml."""

import os
import signal

for _name in ("pthread_sigmask", "pthread_kill", "sigwait", "sigpending", "siginterrupt",
              "setitimer", "getitimer", "alarm", "pause", "SIGHUP", "SIGQUIT", "SIGUSR1",
              "SIGUSR2", "SIGALRM", "SIGPIPE", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP"):
    if hasattr(signal, _name):
        delattr(signal, _name)
for _name in ("fork", "forkpty", "killpg", "getpgid", "setsid", "setpgid", "getuid",
              "geteuid", "getgid", "chown", "lchown", "mkfifo", "mknod", "sync"):
    if hasattr(os, _name):
        delattr(os, _name)
os.environ["MAILMIGRATE_SIMULATED_WINDOWS"] = "1"
