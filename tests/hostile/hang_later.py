"""Right, but its backward hangs from its fourth call on: the checks call backward three times per
configuration, so it completes one configuration and hangs in the second's dX, after that one's forward: a slow
layer that completes some configurations within the time limit."""
import itertools

from _layers import Convolution as _Correct

_calls = itertools.count(1)


class Convolution(_Correct):
    def backward(self, dout):
        while next(_calls) >= 4:
            pass
        return super().backward(dout)
