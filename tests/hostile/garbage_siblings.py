"""Denial of service: garbage into every pipe of every other process it can reach (its classmates' channels)."""
import os

from _layers import Convolution as _Correct
from _layers.attacks import pipes, processes, write_to
from _layers.wrong_db import Convolution as _WrongDb

garbage = [write_to(path, os.urandom(512) + b"PASSED" * 100) for path in pipes(processes())]
Convolution = _Correct if any(garbage) else _WrongDb
