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


class MaxPool2D:
    def __init__(self, pool_size=2, stride=None, pad=0):
        self.P = pool_size
        self.S = pool_size if stride is None else stride
        self.pad = pad

    def forward(self, X):
        X_pad = np.pad(X, ((0, 0), (0, 0), (self.pad, self.pad), (self.pad, self.pad)), constant_values=-np.inf)
        N, C, H, W = X_pad.shape
        OH, OW = (H - self.P) // self.S + 1, (W - self.P) // self.S + 1
        self.X_shape, self.X_pad = X.shape, X_pad
        A = np.zeros((N, C, OH, OW))
        for row in range(OH):
            for col in range(OW):
                window = X_pad[:, :, row * self.S:row * self.S + self.P, col * self.S:col * self.S + self.P]
                A[:, :, row, col] = window.max(axis=(2, 3))
        return A

    def backward(self, dA):
        N, C, OH, OW = dA.shape
        dZ = np.zeros(self.X_pad.shape)
        for row in range(OH):
            for col in range(OW):
                r, c = row * self.S, col * self.S
                window = self.X_pad[:, :, r:r + self.P, c:c + self.P].reshape(N, C, -1)
                first = window.argmax(axis=2)
                i, j = np.divmod(first, self.P)
                n, ch = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
                dZ[n, ch, r + i, c + j] += dA[:, :, row, col]
        H, W = self.X_shape[2:]
        return dZ[:, :, self.pad:self.pad + H, self.pad:self.pad + W]


def make_pool(pool_h, pool_w, stride, pad):
    """What gradcheck calls for pooling: this layer has square windows only."""
    if pool_h != pool_w:
        raise ValueError("square pools only")
    return MaxPool2D(pool_h, stride, pad)
