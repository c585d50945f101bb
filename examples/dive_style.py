"""Student layers in the DIVE INTO CODE style: an initializer and an optimizer that backward calls itself.

The constructors take an initializer, so gradcheck is pointed at the small
factory functions at the bottom, which build a layer and hand it the weights.
"""
import numpy as np


class SimpleInitializer:
    def __init__(self, sigma):
        self.sigma = sigma

    def W(self, *shape):
        return self.sigma * np.random.randn(*shape)

    def B(self, *shape):
        return np.zeros(shape)


class SGD:
    def __init__(self, lr):
        self.lr = lr

    def update(self, layer):
        layer.W -= self.lr * layer.dW
        layer.B -= self.lr * layer.dB
        return layer


class Conv2d:
    def __init__(self, initializer, optimizer, n_in, n_out, filter_size=3, stride=1, pad=0):
        self.optimizer = optimizer
        self.S, self.P = stride, pad
        self.W = initializer.W(n_out, n_in, filter_size, filter_size)
        self.B = initializer.B(n_out)

    def forward(self, X):
        F, C, FH, FW = self.W.shape
        self.X_pad = np.pad(X, ((0, 0), (0, 0), (self.P, self.P), (self.P, self.P)))
        N, _, H, W = self.X_pad.shape
        OH, OW = (H - FH) // self.S + 1, (W - FW) // self.S + 1
        self.shape = (X.shape, OH, OW)
        A = np.zeros((N, F, OH, OW))
        for row in range(OH):
            for col in range(OW):
                patch = self.X_pad[:, :, row * self.S:row * self.S + FH, col * self.S:col * self.S + FW]
                A[:, :, row, col] = np.tensordot(patch, self.W, axes=([1, 2, 3], [1, 2, 3])) + self.B
        return A

    def backward(self, dA):
        F, C, FH, FW = self.W.shape
        x_shape, OH, OW = self.shape
        dZ = np.zeros(self.X_pad.shape)
        self.dW = np.zeros(self.W.shape)
        for row in range(OH):
            for col in range(OW):
                rows = slice(row * self.S, row * self.S + FH)
                cols = slice(col * self.S, col * self.S + FW)
                dZ[:, :, rows, cols] += np.tensordot(dA[:, :, row, col], self.W, axes=(1, 0))
                self.dW += np.tensordot(dA[:, :, row, col], self.X_pad[:, :, rows, cols], axes=(0, 0))
        self.dB = dA.sum(axis=(0, 2, 3))
        self.optimizer.update(self)
        return dZ[:, :, self.P:self.P + x_shape[2], self.P:self.P + x_shape[3]]


def make_conv(W, b, stride, pad):
    """What gradcheck calls: build the layer your way, then give it these weights."""
    F, C, FH, FW = W.shape
    layer = Conv2d(SimpleInitializer(0.01), SGD(lr=0.01), C, F, FH, stride, pad)
    layer.W, layer.B = W, b
    return layer
