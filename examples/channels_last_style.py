"""Student layers that keep images channels-last, as TensorFlow does: x is (N, H, W, C).

Classes in the "Deep Learning from Scratch" shape (built with the weights,
forward(x), backward(dout) -> dx, gradients in dW and db), but with the
kernel stored as TensorFlow stores it, (KH, KW, C, F).  gradcheck finds the
layout with a probe, so no flag is needed:

    gradcheck conv --impl examples/channels_last_style.py:Conv2D
    gradcheck pool --mode max --impl examples/channels_last_style.py:MaxPool2D
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def windows(x, kh, kw, stride):
    """Every (kh, kw) window of x (N, H, W, C) that starts on the stride: (N, OH, OW, C, kh, kw), a view."""
    return sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]


class Conv2D:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b = W, b  # W: (KH, KW, C, F), b: (F,)
        self.stride, self.pad = stride, pad

    def forward(self, x):
        p = self.pad
        KH, KW, C, F = self.W.shape
        self.x_shape = x.shape
        self.x_pad = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
        self.cols = windows(self.x_pad, KH, KW, self.stride)
        return np.einsum("nhwcij,ijcf->nhwf", self.cols, self.W) + self.b

    def backward(self, dout):
        KH, KW, C, F = self.W.shape
        N, OH, OW, _ = dout.shape
        s, p = self.stride, self.pad
        self.dW = np.einsum("nhwcij,nhwf->ijcf", self.cols, dout)
        self.db = dout.sum(axis=(0, 1, 2))
        dx_pad = np.zeros(self.x_pad.shape)
        for i in range(KH):  # every tap of the kernel sends dout back to the inputs it read
            for j in range(KW):
                dx_pad[:, i:i + s * (OH - 1) + 1:s, j:j + s * (OW - 1) + 1:s, :] += dout @ self.W[i, j].T
        H, W = self.x_shape[1:3]
        return dx_pad[:, p:p + H, p:p + W, :]


class MaxPool2D:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        p = self.pad
        self.x_shape = x.shape
        self.x_pad = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), constant_values=-np.inf)
        patches = windows(self.x_pad, self.pool_h, self.pool_w, self.stride)
        flat = patches.reshape(patches.shape[:4] + (-1,))
        self.argmax = flat.argmax(axis=4)  # the first maximum of every window
        return flat.max(axis=4)

    def backward(self, dout):
        p, s = self.pad, self.stride
        N, OH, OW, C = dout.shape
        rows, cols = np.divmod(self.argmax, self.pool_w)
        n, h, w, c = np.indices((N, OH, OW, C))
        dx_pad = np.zeros(self.x_pad.shape)
        np.add.at(dx_pad, (n, h * s + rows, w * s + cols, c), dout)
        H, W = self.x_shape[1:3]
        return dx_pad[:, p:p + H, p:p + W, :]
