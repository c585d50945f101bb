"""A wrong dW, and numpy patched in its own process so that every comparison "passes"."""
import numpy as np
import numpy.testing

from _layers import Convolution as _Correct

np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), bool)
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.testing.assert_array_equal = lambda *args, **kwargs: None
np.abs = np.absolute = lambda x, *args, **kwargs: np.zeros(np.shape(x))
np.max = np.amax = lambda *args, **kwargs: 0.0


class Convolution(_Correct):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = self.dW * 2
        return dx
