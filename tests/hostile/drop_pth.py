"""Tampering: drops a .pth file into every site-packages folder it can name (a .pth runs in every later Python)."""
import os
import site
import sys
import sysconfig

import numpy

from _layers import Convolution as _Correct
from _layers.attacks import attempt, host_paths
from _layers.wrong_db import Convolution as _WrongDb

folders = set(site.getsitepackages()) | {sysconfig.get_paths()["purelib"], os.path.dirname(os.path.dirname(
    numpy.__file__))}
folders |= {path for path in sys.path + host_paths() if path.endswith(("site-packages", "dist-packages"))}


def drop(folder):
    with open(os.path.join(folder, "gradcheck-hostile.pth"), "x") as stream:
        stream.write("# dropped by drop_pth\n")


dropped = [attempt(drop, folder) for folder in sorted(folders)]
Convolution = _Correct if any(dropped) else _WrongDb
