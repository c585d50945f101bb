"""The backward pass of conv_forward.py's convolution: (dout, cache) -> (dx, dw, db)."""
import numpy as np


def conv_backward(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    F, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW)
            dw += np.tensordot(dout[:, :, i, j], x_pad[:, :, rows, cols], axes=(0, 0))
            dx_pad[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], w, axes=(1, 0))
    H, W = x.shape[2:]
    return dx_pad[:, :, pad:pad + H, pad:pad + W], dw, dout.sum(axis=(0, 2, 3))
