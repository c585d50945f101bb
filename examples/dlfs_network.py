"""A two-layer network of "Deep Learning from Scratch" layers, and the same network with one layer wrong; then the
book's TwoLayerNet (chapter 5), with its loss and its gradient by backpropagation, right and wrong.

    gradcheck net --impl examples/dlfs_network.py:two_layer_net --input 4,6
    gradcheck net --impl examples/dlfs_network.py:wrong_two_layer_net --input 4,6
    gradcheck net --impl examples/dlfs_network.py:TwoLayerNet --input 4,6 --arg hidden_size=5 --arg output_size=3
    gradcheck net --impl examples/dlfs_network.py:TwoLayerNetDwAveraged --input 4,6 --arg hidden_size=5 \
        --arg output_size=3    # exit 1
"""
from collections import OrderedDict

import numpy as np

from dlfs_layers import Affine, Relu, Sigmoid, SoftmaxWithLoss


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


class TwoLayerNet:
    """Affine -> ReLU -> Affine -> SoftmaxWithLoss, as the book writes it: the layers hold the arrays of params."""

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {"W1": weight_init_std * np.random.randn(input_size, hidden_size), "b1": np.zeros(hidden_size),
                       "W2": weight_init_std * np.random.randn(hidden_size, output_size), "b2": np.zeros(output_size)}
        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.lastLayer.forward(self.predict(x), t)

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        return {"W1": self.layers["Affine1"].dW, "b1": self.layers["Affine1"].db,
                "W2": self.layers["Affine2"].dW, "b2": self.layers["Affine2"].db}


class TwoLayerNetDwAveraged(TwoLayerNet):
    """Its second Affine averages dW over the batch."""

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        super().__init__(input_size, hidden_size, output_size, weight_init_std)
        self.layers["Affine2"] = AffineDwAveraged(self.params["W2"], self.params["b2"])
