"""Layers as "Deep Learning from Scratch" writes them, each checked against gradcheck's reference of its kind.

    gradcheck affine --impl examples/dlfs_layers.py:Affine
    gradcheck sigmoid --impl examples/dlfs_layers.py:Sigmoid
    gradcheck sigmoid --impl examples/dlfs_layers.py:SigmoidFromInput     # exit 1
"""
import numpy as np


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape  # the book's Affine also takes images, flattened
        x = x.reshape(x.shape[0], -1)
        self.x = x
        return np.dot(self.x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx.reshape(*self.original_x_shape)


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = (x <= 0)
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0  # as the book writes it: dout is changed in place
        return dout


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class SigmoidFromInput(Sigmoid):
    """Writes the derivative with the input where the output belongs: x (1 - x) instead of out (1 - out)."""

    def forward(self, x):
        self.x = x
        return super().forward(x)

    def backward(self, dout):
        return dout * (1.0 - self.x) * self.x
