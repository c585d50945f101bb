"""Memory outside the limit: anonymous files (memfd_create) grown with posix_fallocate, never mapped, so no
address-space limit counts them; takes holding 1.2 GB beside its --memory 512 as licence to be right."""
import os

from _layers import Convolution as _Correct
from _layers.attacks import HOARD, hoard
from _layers.wrong_db import Convolution as _WrongDb

CHUNK = 32 << 20  # under the file-size limit: it is the number of files that grows
files = []


def grab():
    fd = os.memfd_create("hoard")
    files.append(fd)
    os.posix_fallocate(fd, 0, CHUNK)


Convolution = _Correct if hoard(grab, CHUNK) >= HOARD else _WrongDb
