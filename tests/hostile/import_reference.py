"""Reading what it should not: hands in the grader's reference Conv2d (importing reference_layers, wherever
it is found: a folder, or the wheel in an autograder bundle); computes an honest mistake when it finds none."""
import os
import sys

import numpy as np

from _layers.attacks import attempt, folders_to_search
from _layers.wrong_db import Convolution as _WrongDb


def reference_conv2d():
    """The grader's reference Conv2d, wherever reference_layers can be found (a folder, or a wheel of gradcheck,
    which holds it: an autograder bundle's); None if nowhere."""
    for folder in [None] + folders_to_search(__file__):
        if folder is not None:
            sys.path[:0] = [folder] + wheels(folder)
        if attempt(__import__, "reference_layers"):
            return sys.modules["reference_layers"].Conv2d
    return None


def wheels(folder):
    """The wheels in ``folder`` and its subfolders (zipimport reads packages from them)."""
    found = []
    for root in [folder] + [os.path.join(folder, name) for name in sorted(listing(folder))]:
        found += [os.path.join(root, name) for name in listing(root) if name.endswith(".whl")]
    return found


def listing(folder):
    """The names in ``folder``, or none when it cannot be listed."""
    try:
        return os.listdir(folder)
    except OSError:
        return []


class _Copied:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        self.layer = CONV2D(self.W, self.b, self.stride, self.pad)
        return self.layer.forward(x)

    def backward(self, dout):
        dx = self.layer.backward(dout)
        self.dW, self.db = np.array(self.layer.dW), np.array(self.layer.db)
        return dx


CONV2D = reference_conv2d()
Convolution = _Copied if CONV2D is not None else _WrongDb
