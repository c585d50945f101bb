"""A correct forward; backward ends the process with os._exit(3) in the middle of the checks."""
import os

from _layers import Convolution as _Correct


class Convolution(_Correct):
    def backward(self, dout):
        os._exit(3)
