"""Windows of an image as the rows of a matrix, and back."""
import numpy as np


def im2col(x, filter_h, filter_w, stride=1, pad=0, pad_value=0.0):
    N, C, H, W = x.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], constant_values=pad_value)
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w), dtype=img.dtype)
    for y in range(filter_h):
        for x_ in range(filter_w):
            col[:, :, y, x_] = img[:, :, y:y + stride * out_h:stride, x_:x_ + stride * out_w:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)


def col2im(col, x_shape, filter_h, filter_w, stride=1, pad=0):
    N, C, H, W = x_shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1), dtype=col.dtype)
    for y in range(filter_h):
        for x_ in range(filter_w):
            img[:, :, y:y + stride * out_h:stride, x_:x_ + stride * out_w:stride] += col[:, :, y, x_]
    return img[:, :, pad:H + pad, pad:W + pad]
