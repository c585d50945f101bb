"""forward raises SystemExit(0), backward a bare BaseException."""
from _layers import Convolution as _Correct


class Convolution(_Correct):
    def forward(self, x):
        raise SystemExit(0)

    def backward(self, dout):
        raise BaseException("not an Exception")
