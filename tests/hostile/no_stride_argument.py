"""A constructor with no stride argument, Conv2d(W, b, pad=0), whose layer always steps by 1.

Outside grading such a layer is checked with stride 1 only (it cannot be
told another); in grading, the instructor's geometry is checked whatever the
signature offers, and the configurations with stride > 1 fail.
"""
from _layers import Convolution


class Conv2d(Convolution):
    def __init__(self, W, b, pad=0):
        super().__init__(W, b, stride=1, pad=pad)
