"""Tampering: appends a line to every classmate's .py file (and any other) it can reach."""
from _layers import Convolution as _Correct
from _layers.attacks import append_to, python_files
from _layers.wrong_db import Convolution as _WrongDb

appended = [append_to(path, "\n# appended by append_classmates\n") for path in python_files(__file__)]
Convolution = _Correct if any(appended) else _WrongDb
