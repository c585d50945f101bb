"""Layer functions whose backward takes what its forward was given instead of a cache, and a forward that returns
its output alone: gradcheck calls the backward by the names of its parameters."""
import numpy as np


def windows(x, kh, kw, stride):
    """Every (kh, kw) window of x at the stride: shape (N, C, H_out, W_out, kh, kw)."""
    H_out, W_out = (x.shape[2] - kh) // stride + 1, (x.shape[3] - kw) // stride + 1
    rows = (np.arange(H_out) * stride)[:, None] + np.arange(kh)
    cols = (np.arange(W_out) * stride)[:, None] + np.arange(kw)
    return x[:, :, rows[:, None, :, None], cols[None, :, None, :]]


def conv_forward_windows(x, w, b, conv_param):
    p = conv_param["pad"]
    x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    patches = windows(x_pad, w.shape[2], w.shape[3], conv_param["stride"])
    return np.einsum("ncijst,fcst->nfij", patches, w) + b[:, None, None]


def conv_backward_windows(dout, x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    F, C, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dw = np.einsum("ncijst,nfij->fcst", windows(x_pad, HH, WW, s), dout)
    dx_pad = np.zeros_like(x_pad)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx_pad[:, :, i * s:i * s + HH, j * s:j * s + WW] += np.einsum("nf,fcst->ncst", dout[:, :, i, j], w)
    H, W = x.shape[2:]
    return dx_pad[:, :, p:p + H, p:p + W], dw, dout.sum(axis=(0, 2, 3))


def max_pool_forward_windows(x, pool_param):
    patches = windows(x, pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"])
    return patches.max(axis=(4, 5))


def max_pool_backward_windows(dout, x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    patches = windows(x, ph, pw, s)
    N, C, H_out, W_out = dout.shape
    first = patches.reshape(N, C, H_out, W_out, -1).argmax(axis=4)
    n, c, i, j = np.indices(first.shape)
    dx = np.zeros_like(x)
    np.add.at(dx, (n, c, i * s + first // pw, j * s + first % pw), dout)
    return dx
