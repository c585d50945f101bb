"""backward returns zeros in an ndarray subclass that claims to equal anything and to differ by nothing."""
import numpy as np

from _layers import Convolution as _Correct


class Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), bool)

    def __ne__(self, other):
        return np.zeros(np.shape(self), bool)

    def __sub__(self, other):
        return np.zeros(np.shape(self))

    __rsub__ = __sub__

    def __abs__(self):
        return np.zeros(np.shape(self))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(np.shape(self))

    def __array__(self, dtype=None, copy=None):
        return np.zeros(np.shape(self))

    def __float__(self):
        return 0.0


class Convolution(_Correct):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = np.zeros_like(self.dW).view(Liar)
        return np.zeros_like(dx).view(Liar)
