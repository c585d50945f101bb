"""Crashes the interpreter (SIGSEGV) in backward."""
import ctypes

from _layers import Convolution as _Correct


class Convolution(_Correct):
    def backward(self, dout):
        ctypes.memmove(8, b"x", 1)  # write to address 8: SIGSEGV
        return super().backward(dout)
