"""A two-layer network of "Deep Learning from Scratch" layers, and the same network with one layer wrong.

    gradcheck net --impl examples/dlfs_network.py:two_layer_net --input 4,6
    gradcheck net --impl examples/dlfs_network.py:wrong_two_layer_net --input 4,6
"""
from collections import OrderedDict

import numpy as np


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0  # as the book writes it: dout is changed in place
        return dout


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class AffineDwAveraged(Affine):
    """Its dW is averaged over the batch."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = self.dW / len(dout)
        return dx


def two_layer_net(layer=Affine):
    """Affine -> ReLU -> Affine -> Sigmoid, its weights from a fixed seed, as DLFS's TwoLayerNet keeps them."""
    rng = np.random.default_rng(0)
    layers = OrderedDict()
    layers["Affine1"] = Affine(rng.standard_normal((6, 5)), rng.standard_normal(5))
    layers["Relu1"] = Relu()
    layers["Affine2"] = layer(rng.standard_normal((5, 3)), rng.standard_normal(3))
    layers["Sigmoid"] = Sigmoid()
    return layers


def wrong_two_layer_net():
    return two_layer_net(layer=AffineDwAveraged)
