"""Wrong only when stride > 1 (dX and dW both doubled there: an honest 6 of 8), and it knows it: it exits with
os._exit(0) in forward as soon as a configuration has stride > 1, before any check could see the mistake.

Had the checks it passed on the stride-1 configurations before kept their points, dying would have paid (7 of 8).
A grader copies it with EXIT_WHEN_EXPOSED = False to grade the same computation honestly.
"""
import os

from _layers import Convolution

EXIT_WHEN_EXPOSED = True


class Conv2d(Convolution):
    def forward(self, x):
        if EXIT_WHEN_EXPOSED and self.stride > 1:
            os._exit(0)
        return super().forward(x)

    def backward(self, dout):
        dx = super().backward(dout)
        if self.stride > 1:
            self.dW = 2 * self.dW
            return 2 * dx
        return dx
