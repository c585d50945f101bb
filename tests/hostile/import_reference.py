"""Reading what it should not: hands in the grader's reference Conv2d (importing reference_layers, wherever
it is found); computes an honest mistake when it finds none."""
import os
import sys

import numpy as np

from _layers.attacks import attempt, folders_to_search
from _layers.wrong_db import Convolution as _WrongDb


def reference_conv2d():
    """The grader's reference Conv2d, wherever reference_layers can be found; None if nowhere."""
    for folder in [None] + folders_to_search(__file__):
        if folder is not None and os.path.isdir(os.path.join(folder, "reference_layers")):
            sys.path.insert(0, folder)
        if attempt(__import__, "reference_layers"):
            return sys.modules["reference_layers"].Conv2d
    return None


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
