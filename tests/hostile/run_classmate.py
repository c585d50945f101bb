"""Reading what it should not: runs a classmate's file and hands in its layer; computes an honest mistake
when it finds none."""
import re

from _layers.attacks import attempt, python_files
from _layers.wrong_db import Convolution as _WrongDb

Convolution = _WrongDb
for path in python_files(__file__):
    found = {}
    if attempt(lambda: re.search(r"^class Convolution\b", open(path).read(), re.M).group()) and \
            attempt(lambda: exec(compile(open(path).read(), path, "exec"), found)) and "Convolution" in found:
        Convolution = found["Convolution"]
        break
