"""Channels-last layers, right and wrong, that import nothing but numpy: the grading sandbox can load this file as a
submission, and every reproduction command runs on it.  tests/mutants/layouts.py registers what each must give.

deeplearning.ai-style function pairs (A_prev (m, n_H, n_W, n_C), W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C)),
written as that assignment's copies that loop over output positions and take all samples and channels at once; each
wrong backward carries one bug students write.  Then classes taking x (N, H, W, C) with the kernel as (KH, KW, C, F)
or (F, KH, KW, C).
"""
import numpy as np


def zero_pad(X, pad):
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)))


# -- deeplearning.ai conv: conv_forward(A_prev, W, b, hparameters) -> (Z, cache), conv_backward(dZ, cache) ------------
def conv_forward(A_prev, W, b, hparameters):
    (m, n_H_prev, n_W_prev, n_C_prev) = A_prev.shape
    (f, f, n_C_prev, n_C) = W.shape
    stride, pad = hparameters["stride"], hparameters["pad"]
    n_H = (n_H_prev - f + 2 * pad) // stride + 1
    n_W = (n_W_prev - f + 2 * pad) // stride + 1
    A_prev_pad = zero_pad(A_prev, pad)
    Z = np.zeros((m, n_H, n_W, n_C))
    for h in range(n_H):
        for w in range(n_W):
            a_slice = A_prev_pad[:, h * stride:h * stride + f, w * stride:w * stride + f, :]
            Z[:, h, w, :] = np.tensordot(a_slice, W, axes=([1, 2, 3], [0, 1, 2])) + b[0, 0, 0]
    return Z, (A_prev, W, b, hparameters)


def conv_backward(dZ, cache):
    (A_prev, W, b, hparameters) = cache
    (f, f, n_C_prev, n_C) = W.shape
    stride, pad = hparameters["stride"], hparameters["pad"]
    (m, n_H, n_W, n_C) = dZ.shape
    A_prev_pad = zero_pad(A_prev, pad)
    dA_prev_pad = np.zeros(A_prev_pad.shape)
    dW = np.zeros(W.shape)
    for h in range(n_H):
        for w in range(n_W):
            vert_start, horiz_start = h * stride, w * stride
            window = (slice(None), slice(vert_start, vert_start + f), slice(horiz_start, horiz_start + f))
            dA_prev_pad[window] += np.tensordot(dZ[:, h, w, :], W, axes=([1], [3]))
            dW += np.tensordot(A_prev_pad[window], dZ[:, h, w, :], axes=([0], [0]))
    db = dZ.sum(axis=(0, 1, 2)).reshape(1, 1, 1, n_C)
    n_H_prev, n_W_prev = A_prev.shape[1:3]
    return dA_prev_pad[:, pad:pad + n_H_prev, pad:pad + n_W_prev, :], dW, db


def conv_forward_stride_in_backward(A_prev, W, b, hparameters):
    return conv_forward(A_prev, W, b, hparameters)


def conv_backward_stride_in_backward(dZ, cache):
    """The stride forgotten in backward's slicing: vert_start = h instead of h * stride."""
    (A_prev, W, b, hparameters) = cache
    (f, f, n_C_prev, n_C) = W.shape
    pad = hparameters["pad"]
    (m, n_H, n_W, n_C) = dZ.shape
    A_prev_pad = zero_pad(A_prev, pad)
    dA_prev_pad = np.zeros(A_prev_pad.shape)
    dW = np.zeros(W.shape)
    for h in range(n_H):
        for w in range(n_W):
            vert_start, horiz_start = h, w  # BUG: h * stride, w * stride
            window = (slice(None), slice(vert_start, vert_start + f), slice(horiz_start, horiz_start + f))
            dA_prev_pad[window] += np.tensordot(dZ[:, h, w, :], W, axes=([1], [3]))
            dW += np.tensordot(A_prev_pad[window], dZ[:, h, w, :], axes=([0], [0]))
    db = dZ.sum(axis=(0, 1, 2)).reshape(1, 1, 1, n_C)
    n_H_prev, n_W_prev = A_prev.shape[1:3]
    return dA_prev_pad[:, pad:pad + n_H_prev, pad:pad + n_W_prev, :], dW, db


def conv_forward_minus_pad(A_prev, W, b, hparameters):
    return conv_forward(A_prev, W, b, hparameters)


def conv_backward_minus_pad(dZ, cache):
    """The assignment's own un-padding, da_prev_pad[pad:-pad, pad:-pad, :], which is empty when pad is 0."""
    (A_prev, W, b, hparameters) = cache
    pad = hparameters["pad"]
    dA_prev = np.zeros(A_prev.shape)
    dA_prev_pad, dW, db = conv_backward(dZ, (zero_pad(A_prev, pad), W, b, dict(hparameters, pad=0)))
    for i in range(A_prev.shape[0]):
        da_prev_pad = dA_prev_pad[i]
        dA_prev[i, :, :, :] = da_prev_pad[pad:-pad, pad:-pad, :]  # BUG: [pad:pad + n_H_prev, pad:pad + n_W_prev]
    return dA_prev, dW, db


def conv_forward_unpad_side(A_prev, W, b, hparameters):
    return conv_forward(A_prev, W, b, hparameters)


def conv_backward_unpad_side(dZ, cache):
    """The padding cut from the bottom and right only: dA_prev_pad[:, :n_H_prev, :n_W_prev, :]."""
    (A_prev, W, b, hparameters) = cache
    pad = hparameters["pad"]
    dA_prev_pad, dW, db = conv_backward(dZ, (zero_pad(A_prev, pad), W, b, dict(hparameters, pad=0)))
    n_H_prev, n_W_prev = A_prev.shape[1:3]
    return dA_prev_pad[:, :n_H_prev, :n_W_prev, :], dW, db  # BUG: [:, pad:pad + n_H_prev, pad:pad + n_W_prev, :]


# -- deeplearning.ai pools: pool_forward(A_prev, hparameters, mode), pool_backward(dA, cache, mode) -----------------
def pool_forward(A_prev, hparameters, mode="max"):
    (m, n_H_prev, n_W_prev, n_C) = A_prev.shape
    f, stride = hparameters["f"], hparameters["stride"]
    n_H, n_W = (n_H_prev - f) // stride + 1, (n_W_prev - f) // stride + 1
    A = np.zeros((m, n_H, n_W, n_C))
    for h in range(n_H):
        for w in range(n_W):
            a_prev_slice = A_prev[:, h * stride:h * stride + f, w * stride:w * stride + f, :]
            A[:, h, w, :] = a_prev_slice.max(axis=(1, 2)) if mode == "max" else a_prev_slice.mean(axis=(1, 2))
    return A, (A_prev, hparameters)


def create_mask_from_window(x):
    """(m, f, f, n_C) windows -> True at each window's first maximum (over f x f)."""
    flat = x.reshape(x.shape[0], -1, x.shape[3])
    return (np.arange(flat.shape[1])[None, :, None] == flat.argmax(axis=1)[:, None, :]).reshape(x.shape)


def pool_backward(dA, cache, mode="max", mask_from_window=create_mask_from_window, area=None):
    (A_prev, hparameters) = cache
    f, stride = hparameters["f"], hparameters["stride"]
    (m, n_H, n_W, n_C) = dA.shape
    dA_prev = np.zeros(A_prev.shape)
    for h in range(n_H):
        for w in range(n_W):
            window = (slice(None), slice(h * stride, h * stride + f), slice(w * stride, w * stride + f))
            da = dA[:, h:h + 1, w:w + 1, :]
            if mode == "max":
                dA_prev[window] += mask_from_window(A_prev[window]) * da
            else:
                dA_prev[window] += np.ones((1, f, f, 1)) * da / (f * f if area is None else area)
    return dA_prev


def pool_forward_mask_ties(A_prev, hparameters, mode="max"):
    return pool_forward(A_prev, hparameters, mode)


def pool_backward_mask_ties(dA, cache, mode="max"):
    """The assignment's create_mask_from_window, mask = (x == np.max(x)): every tied maximum gets the gradient."""
    return pool_backward(dA, cache, mode, lambda x: x == x.max(axis=(1, 2), keepdims=True))


def pool_forward_no_division(A_prev, hparameters, mode="max"):
    return pool_forward(A_prev, hparameters, mode)


def pool_backward_no_division(dA, cache, mode="max"):
    """distribute_value that forgot to divide: each element of the window gets the whole dz."""
    return pool_backward(dA, cache, mode, area=1)


# -- classes on x (N, H, W, C) --------------------------------------------------------------------------------------
class ConvHWIO:
    """Conv(W, b, stride, pad) with W (KH, KW, C, F), as TensorFlow keeps a kernel; loops over output positions."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def kernel(self):
        return self.W

    def forward(self, x):
        K, s, p = self.kernel(), self.stride, self.pad
        self.x_shape = x.shape
        self.x_pad = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
        KH, KW = K.shape[:2]
        OH, OW = (self.x_pad.shape[1] - KH) // s + 1, (self.x_pad.shape[2] - KW) // s + 1
        out = np.zeros((x.shape[0], OH, OW, K.shape[3]))
        for i in range(OH):
            for j in range(OW):
                out[:, i, j, :] = np.tensordot(self.x_pad[:, i * s:i * s + KH, j * s:j * s + KW, :], K, axes=3) + self.b
        return out

    def backward(self, dout):
        K, s, p = self.kernel(), self.stride, self.pad
        KH, KW = K.shape[:2]
        dx_pad, dK = np.zeros(self.x_pad.shape), np.zeros(K.shape)
        for i in range(dout.shape[1]):
            for j in range(dout.shape[2]):
                window = (slice(None), self.rows(i, s, KH), slice(j * s, j * s + KW))
                dx_pad[window] += np.tensordot(dout[:, i, j, :], K, axes=([1], [3]))
                patch = self.x_pad[:, i * s:i * s + KH, j * s:j * s + KW, :]
                dK += np.tensordot(patch, dout[:, i, j, :], axes=([0], [0]))
        self.set_gradients(dK, dout.sum(axis=(0, 1, 2)))
        H, W = self.x_shape[1:3]
        return dx_pad[:, p:p + H, p:p + W, :]

    def rows(self, i, s, KH):
        return slice(i * s, i * s + KH)

    def set_gradients(self, dK, db):
        self.dW, self.db = dK, db


class ConvOHWI(ConvHWIO):
    """Conv(W, b, stride, pad) with W (F, KH, KW, C), filters first; the loops of ConvHWIO on W's transpose."""

    def kernel(self):
        return self.W.transpose(1, 2, 3, 0)

    def set_gradients(self, dK, db):
        self.dW, self.db = dK.transpose(3, 0, 1, 2), db


class ConvHWIORowsIgnoreStride(ConvHWIO):
    """Backward sends output row i to input rows i .. i + KH instead of i * stride ..: dX wrong when stride > 1."""

    def rows(self, i, s, KH):
        return slice(i, i + KH)  # BUG: i * s


class ConvHWIOFiltersFirstDw(ConvHWIO):
    """dW summed as (F, KH, KW, C), the order of a PyTorch-minded student, though W is (KH, KW, C, F)."""

    def set_gradients(self, dK, db):
        self.dW, self.db = dK.transpose(3, 0, 1, 2), db  # BUG: dW must have W's shape


class MaxPoolNHWC:
    """MaxPool(pool_h, pool_w, stride, pad) on x (N, H, W, C); each window's dout to its first maximum."""

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        s, p = self.stride, self.pad
        self.x_shape = x.shape
        self.x_pad = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), constant_values=-np.inf)
        OH = (self.x_pad.shape[1] - self.pool_h) // s + 1
        OW = (self.x_pad.shape[2] - self.pool_w) // s + 1
        out = np.empty((x.shape[0], OH, OW, x.shape[3]))
        for i in range(OH):
            for j in range(OW):
                out[:, i, j, :] = self.window(i, j).max(axis=(1, 2))
        return out

    def window(self, i, j):
        s = self.stride
        return self.x_pad[:, i * s:i * s + self.pool_h, j * s:j * s + self.pool_w, :]

    def backward(self, dout):
        s, p = self.stride, self.pad
        dx_pad = np.zeros(self.x_pad.shape)
        for i in range(dout.shape[1]):
            for j in range(dout.shape[2]):
                rows, cols = slice(i * s, i * s + self.pool_h), slice(j * s, j * s + self.pool_w)
                mask = create_mask_from_window(self.window(i, j))
                self.route(dx_pad, (slice(None), rows, cols), mask * dout[:, i:i + 1, j:j + 1, :])
        H, W = self.x_shape[1:3]
        return dx_pad[:, p:p + H, p:p + W, :]

    def route(self, dx_pad, window, grad):
        dx_pad[window] += grad


class MaxPoolNHWCAssign(MaxPoolNHWC):
    """dx[window] = ... instead of +=: where windows overlap, later windows overwrite earlier ones."""

    def route(self, dx_pad, window, grad):
        dx_pad[window] = grad  # BUG: +=


# -- a class on x (N, H, W, C) holding deeplearning.ai's arrays: W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C) ----------
class ConvBias4D:
    """Conv(stride, padding, W, b) whose b is (1, 1, 1, F) and read as such (b[0, 0, 0] fails on a flat b)."""

    def __init__(self, stride, padding, W, b):
        self.stride, self.pad, self.W, self.b = stride, padding, W, b

    def kernel_size(self):
        KH, KW = self.W.shape[:2]
        return KH, KW

    def forward(self, A_prev):
        s = self.stride
        KH, KW = self.kernel_size()
        self.A_prev = A_prev
        A_pad = zero_pad(A_prev, self.pad)
        n_H, n_W = (A_pad.shape[1] - KH) // s + 1, (A_pad.shape[2] - KW) // s + 1
        Z = np.zeros((A_prev.shape[0], n_H, n_W, self.W.shape[3]))
        for h in range(n_H):
            for w in range(n_W):
                window = A_pad[:, h * s:h * s + KH, w * s:w * s + KW, :]
                Z[:, h, w, :] = np.tensordot(window, self.W, axes=3) + self.bias()
        return Z

    def bias(self):
        return self.b[0, 0, 0, :]

    def backward(self, dZ):
        s, p = self.stride, self.pad
        KH, KW = self.kernel_size()
        A_pad = zero_pad(self.A_prev, p)
        dA_pad, self.dW = np.zeros(A_pad.shape), np.zeros(self.W.shape)
        for h in range(dZ.shape[1]):
            for w in range(dZ.shape[2]):
                window = (slice(None), slice(h * s, h * s + KH), slice(w * s, w * s + KW))
                dA_pad[window] += np.tensordot(dZ[:, h, w, :], self.W, axes=([1], [3]))
                self.dW += np.tensordot(A_pad[window], dZ[:, h, w, :], axes=([0], [0]))
        self.db = dZ.sum(axis=(0, 1, 2)).reshape(1, 1, 1, -1)
        return self.unpad(dA_pad)

    def unpad(self, dA_pad):
        p = self.pad
        H, W = self.A_prev.shape[1:3]
        return dA_pad[:, p:p + H, p:p + W, :]


class ConvBias4DMinusPad(ConvBias4D):
    """Strips the padding with [pad:-pad], which is empty at pad 0: dX raises there."""

    def unpad(self, dA_pad):
        p = self.pad
        return dA_pad[:, p:-p, p:-p, :]  # BUG: [p:p + H] (empty when p == 0)


class ConvBias4DSquareKernel(ConvBias4D):
    """Reads the kernel as (f, f, C, F) = W.shape: f ends up KW, so a kernel that is not square is read KW x KW."""

    def kernel_size(self):
        (f, f, n_C_prev, n_C) = self.W.shape  # BUG: KH, KW = W.shape[:2]
        return f, f


class ConvBias4DFloat(ConvBias4D):
    """Adds each filter's bias as float(b[:, :, :, c]), an array of shape (1, 1, 1): NumPy 2 refuses it."""

    def bias(self):
        return np.array([float(self.b[:, :, :, c]) for c in range(self.b.shape[3])])
