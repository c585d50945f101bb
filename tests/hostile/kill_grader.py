"""Signals its parent (gradcheck's grading process) and then kills that process's group."""
import os
import signal

from _layers import Convolution as _Correct


class Convolution(_Correct):
    def forward(self, x):
        parent = os.getppid()
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
            os.kill(parent, number)
        os.killpg(os.getpgid(parent), signal.SIGKILL)
        return super().forward(x)
