"""A correct layer that prints a lot, to stdout and stderr, on every call."""
import sys

from _layers import Convolution as _Correct

print("loading my layer " + "=" * 5000)


class Convolution(_Correct):
    def forward(self, x):
        print(f"forward x.shape={x.shape} " + "." * 2000)
        print("debug: forward called " + "-" * 2000, file=sys.stderr)
        return super().forward(x)

    def backward(self, dout):
        print(f"backward dout.shape={dout.shape} " + "." * 2000)
        return super().backward(dout)
