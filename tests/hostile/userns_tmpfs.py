"""Memory outside the limit: a user namespace of its own, in which it mounts a tmpfs of 4 GB over its working
directory and fills it with files; takes holding 1.2 GB beside its --memory 512 as licence to be right."""
import ctypes
import os

from _layers import Convolution as _Correct
from _layers.attacks import HOARD, attempt, hoard
from _layers.wrong_db import Convolution as _WrongDb

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
CHUNK = 16 << 20
libc = ctypes.CDLL(None, use_errno=True)


def call(result, what):
    if result != 0:
        raise OSError(ctypes.get_errno(), what)


def own_tmpfs():
    """Root of a new user namespace, mapped to itself, with a 4 GB tmpfs over the working directory."""
    uid, gid = os.getuid(), os.getgid()
    call(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as stream:
            stream.write(text)
    call(libc.mount(b"none", os.getcwd().encode(), b"tmpfs", 0, b"size=4g"), "mount")
    os.chdir(os.getcwd())  # into the new mount


files = []


def grab():
    with open(f"hoard-{len(files)}", "wb") as stream:
        stream.write(b"\1" * CHUNK)
    files.append(stream.name)


held = hoard(grab, CHUNK) if attempt(own_tmpfs) else 0
Convolution = _Correct if held >= HOARD else _WrongDb
