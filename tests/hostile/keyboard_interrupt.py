"""forward raises KeyboardInterrupt (a BaseException, not an Exception)."""
from _layers import Convolution as _Correct


class Convolution(_Correct):
    def forward(self, x):
        raise KeyboardInterrupt("pretend the grader was interrupted")
