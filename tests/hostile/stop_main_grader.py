"""Denial of service: SIGSTOPs every gradcheck process it can find (the main grader, the grading processes)."""
import os
import signal

from _layers.attacks import attempt, graders
from _layers.wrong_db import Convolution as _WrongDb


class Convolution(_WrongDb):
    def forward(self, x):
        for pid in graders():
            attempt(os.kill, pid, signal.SIGSTOP)
        return super().forward(x)
