"""Exhausts memory in forward: a 1.6 GB array, then a list that grows without end."""
import numpy as np

from _layers import Convolution as _Correct


class Convolution(_Correct):
    def forward(self, x):
        hog = [np.ones(2 * 10**8)]
        while True:
            hog.append(np.ones(10**7))
