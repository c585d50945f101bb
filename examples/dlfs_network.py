"""A two-layer network of "Deep Learning from Scratch" layers, and the same network with one layer wrong.

    gradcheck net --impl examples/dlfs_network.py:two_layer_net --input 4,6
    gradcheck net --impl examples/dlfs_network.py:wrong_two_layer_net --input 4,6
"""
from collections import OrderedDict

import numpy as np

from dlfs_layers import Affine, Relu, Sigmoid


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
