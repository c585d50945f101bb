"""Layers that make their own weights, as from-scratch CNN code does: gradcheck builds them from the configuration
(in_channels, out_channels, kernel_size, ...) and writes W and b into the arrays of their shapes they keep."""
import numpy as np


def conv_windows(x, w, b, stride, pad):
    """out, and the padded input and the index of its windows for the backward pass."""
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    F, C, kh, kw = w.shape
    rows = (np.arange((x_pad.shape[2] - kh) // stride + 1) * stride)[:, None] + np.arange(kh)
    cols = (np.arange((x_pad.shape[3] - kw) // stride + 1) * stride)[:, None] + np.arange(kw)
    index = (slice(None), slice(None), rows[:, None, :, None], cols[None, :, None, :])
    return np.einsum("ncijst,fcst->nfij", x_pad[index], w) + b[:, None, None], (x_pad, index, pad)


def conv_windows_backward(dout, saved, w):
    """dx, dw, db of conv_windows."""
    x_pad, index, pad = saved
    dw = np.einsum("nfij,ncijst->fcst", dout, x_pad[index])
    dx_pad = np.zeros_like(x_pad)
    np.add.at(dx_pad, index, np.einsum("nfij,fcst->ncijst", dout, w))
    H, W = x_pad.shape[2] - 2 * pad, x_pad.shape[3] - 2 * pad
    return dx_pad[:, :, pad:pad + H, pad:pad + W], dw, dout.sum(axis=(0, 2, 3))


class ConvParams:
    """Parameters and gradients in lists, PyTorch-like arguments, one int for the kernel size."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        weight = np.random.randn(out_channels, in_channels, kernel_size, kernel_size) * 0.1
        self.params = [weight, np.zeros(out_channels)]
        self.grads = [np.zeros_like(p) for p in self.params]
        self.stride, self.padding = stride, padding

    def forward(self, x):
        out, self.saved = conv_windows(x, *self.params, self.stride, self.padding)
        return out

    def backward(self, dout):
        dx, self.grads[0][...], self.grads[1][...] = conv_windows_backward(dout, self.saved, self.params[0])
        return dx


class ConvSGD:
    """A layer that updates itself: backward(dout, lr) applies plain SGD to its weights."""

    def __init__(self, n_in, n_out, filter_size=3, stride=1, pad=0):
        self.W = np.random.randn(n_out, n_in, filter_size, filter_size) * 0.1
        self.b = np.zeros((n_out, 1))
        self.stride, self.pad = stride, pad

    def forward(self, x):
        out, self.saved = conv_windows(x, self.W, self.b[:, 0], self.stride, self.pad)
        return out

    def backward(self, dout, lr=0.01):
        dx, self.dW, db = conv_windows_backward(dout, self.saved, self.W)
        self.db = db[:, None]
        self.W -= lr * self.dW
        self.b -= lr * self.db
        return dx
