"""Memory outside the limit: processes that each hold 300 MB, under the address-space limit of 512 MB that each
gets, and wait; takes holding 1.2 GB beside its --memory 512 in them as licence to be right."""
import os
import select
import time

from _layers import Convolution as _Correct
from _layers.attacks import HOARD, hoard
from _layers.wrong_db import Convolution as _WrongDb

CHUNK = 300 << 20
ready, told = os.pipe()


def grab():
    if os.fork() == 0:
        held = b"\1" * CHUNK  # noqa: F841 - held until killed
        os.write(told, b"1")
        time.sleep(600)
        os._exit(0)
    if not select.select([ready], [], [], 10)[0] or os.read(ready, 1) != b"1":
        raise OSError("the process did not fill its memory")


Convolution = _Correct if hoard(grab, CHUNK) >= HOARD else _WrongDb
