"""Memory outside the limit: extended attributes on files of its working folder, 64 KiB a value, which a tmpfs
keeps in kernel memory beside (not in) the bytes its size counts; takes holding 1.2 GB beside its --memory 512 as
licence to be right."""
import ctypes
import os

from _layers import Convolution as _Correct
from _layers.attacks import HOARD, attempt, hoard
from _layers.wrong_db import Convolution as _WrongDb

VALUE = b"x" * (64 << 10)
PER_FILE = 100
SETXATTRAT = 463  # the newest call for it (Linux 6.13), the same number on x86_64 and aarch64
libc = ctypes.CDLL(None, use_errno=True)
held = []


def grab():
    path = f"hoard-{len(held) // PER_FILE}"
    if len(held) % PER_FILE == 0:
        open(path, "wb").close()
    os.setxattr(path, f"user.hoard{len(held) % PER_FILE}", VALUE)
    held.append(path)


def through_setxattrat():
    """setxattrat(AT_FDCWD, path, 0, name, {value, size, flags}, sizeof): refused as the older calls are?"""
    open("hoard-at", "wb").close()
    arguments = (ctypes.c_uint64 * 3)(ctypes.cast(VALUE, ctypes.c_void_p).value, len(VALUE), 0)
    if libc.syscall(ctypes.c_long(SETXATTRAT), ctypes.c_long(-100), b"hoard-at", ctypes.c_long(0), b"user.hoard",
                    arguments, ctypes.c_long(ctypes.sizeof(arguments))) != 0:
        raise OSError(ctypes.get_errno(), "setxattrat")


works = hoard(grab, len(VALUE)) >= HOARD or attempt(through_setxattrat)
Convolution = _Correct if works else _WrongDb
