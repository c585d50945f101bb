"""Memory outside the limit: empty folders with long names in its working folder, each about a kibibyte of
kernel memory that no size of a tmpfs counts (its size counts the bytes in files); takes making 10,000 of them
in a folder meant for a few files as licence to be right (at that rate it holds gigabytes within its time limit)."""
import os
import time

from _layers import Convolution as _Correct
from _layers.wrong_db import Convolution as _WrongDb

ENOUGH = 10_000  # more than twice the 4096 its working folder holds
NAME = "hoard-" + "x" * 240  # long names: each dentry holds its name in memory of its own
made = 0
deadline = time.monotonic() + 4  # stop in time to be graded: the tests' limit is 5 s
try:
    while made < ENOUGH and time.monotonic() < deadline:
        os.mkdir(f"{NAME}{made}")
        made += 1
except OSError:
    pass
Convolution = _Correct if made >= ENOUGH else _WrongDb
