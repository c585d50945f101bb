"""Memory outside the limit: System V shared memory, each segment attached, filled and detached again, so
that it outlives every mapping (and, outside an IPC namespace of its own, the submission); takes holding
1.2 GB beside its --memory 512 as licence to be right."""
import ctypes

from _layers import Convolution as _Correct
from _layers.attacks import HOARD, hoard
from _layers.wrong_db import Convolution as _WrongDb

CHUNK = 128 << 20
IPC_PRIVATE, IPC_CREAT = 0, 0o1000
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p


def grab():
    segment = libc.shmget(IPC_PRIVATE, ctypes.c_size_t(CHUNK), IPC_CREAT | 0o600)
    if segment < 0:
        raise OSError(ctypes.get_errno(), "shmget")
    address = libc.shmat(segment, None, 0)
    if address in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "shmat")
    ctypes.memset(address, 1, CHUNK)
    libc.shmdt(ctypes.c_void_p(address))


Convolution = _Correct if hoard(grab, CHUNK) >= HOARD else _WrongDb
