"""Correct layers in the styles students write them: each must pass every check.

Conv: the DLfS im2col class, a naive four-loop version, a cs231n-like loop
over output positions, an as_strided + einsum version, and DLfS with the
reshaped weights precomputed at construction (a view of W, so in-place
updates still reach forward), by FFT (rounded everywhere, also where the
answer is exactly zero), scattering with np.add.at, in np.longdouble, and by Winograd's F(2x2, 3x3) (rounded
by its transforms).  Pools: loops and vectorized, max and average.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from reference_style import Pooling, col2im, im2col  # examples/: as students copy them from the book


# -- conv ---------------------------------------------------------------------
class ConvIm2colDLfS:
    """Convolution as in "Deep Learning from Scratch" chapter 7."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.x = None
        self.col = None
        self.col_W = None
        self.dW = None
        self.db = None

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape
        out_h = 1 + int((H + 2 * self.pad - FH) / self.stride)
        out_w = 1 + int((W + 2 * self.pad - FW) / self.stride)

        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = self.W.reshape(FN, -1).T

        out = np.dot(col, col_W) + self.b
        out = out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

        self.x = x
        self.col = col
        self.col_W = col_W
        return out

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)

        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout)
        self.dW = self.dW.transpose(1, 0).reshape(FN, C, FH, FW)

        dcol = np.dot(dout, self.col_W.T)
        dx = col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)
        return dx


class ConvNaiveLoops:
    """Four nested loops over (n, f, i, j), one window at a time."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        self.x = x
        N, C, H, W_ = x.shape
        F, _, HH, WW = self.W.shape
        S, P = self.stride, self.pad
        self.x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
        H_out = (H + 2 * P - HH) // S + 1
        W_out = (W_ + 2 * P - WW) // S + 1
        out = np.zeros((N, F, H_out, W_out))
        for n in range(N):
            for f in range(F):
                for i in range(H_out):
                    for j in range(W_out):
                        window = self.x_pad[n, :, i * S:i * S + HH, j * S:j * S + WW]
                        out[n, f, i, j] = np.sum(window * self.W[f]) + self.b[f]
        return out

    def backward(self, dout):
        N, F, H_out, W_out = dout.shape
        _, _, HH, WW = self.W.shape
        S, P = self.stride, self.pad
        dx_pad = np.zeros_like(self.x_pad)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        for n in range(N):
            for f in range(F):
                self.db[f] += dout[n, f].sum()
                for i in range(H_out):
                    for j in range(W_out):
                        window = self.x_pad[n, :, i * S:i * S + HH, j * S:j * S + WW]
                        self.dW[f] += window * dout[n, f, i, j]
                        dx_pad[n, :, i * S:i * S + HH, j * S:j * S + WW] += self.W[f] * dout[n, f, i, j]
        H, W_ = self.x.shape[2:]
        return dx_pad[:, :, P:P + H, P:P + W_]


class ConvOutputLoopCs231n:
    """cs231n-like: loop over output positions, each a tensordot over (C, HH, WW)."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b = W, b
        self.conv_param = {"stride": stride, "pad": pad}

    def forward(self, x):
        S, P = self.conv_param["stride"], self.conv_param["pad"]
        F, C, HH, WW = self.W.shape
        N, _, H, W = x.shape
        H_out = 1 + (H + 2 * P - HH) // S
        W_out = 1 + (W + 2 * P - WW) // S
        x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)), mode="constant")
        out = np.zeros((N, F, H_out, W_out))
        for i in range(H_out):
            for j in range(W_out):
                patch = x_pad[:, :, i * S:i * S + HH, j * S:j * S + WW]
                out[:, :, i, j] = np.tensordot(patch, self.W, axes=([1, 2, 3], [1, 2, 3])) + self.b
        self.cache = (x, x_pad)
        return out

    def backward(self, dout):
        x, x_pad = self.cache
        S, P = self.conv_param["stride"], self.conv_param["pad"]
        F, C, HH, WW = self.W.shape
        _, _, H_out, W_out = dout.shape
        dx_pad = np.zeros_like(x_pad)
        dW = np.zeros_like(self.W)
        for i in range(H_out):
            for j in range(W_out):
                patch = x_pad[:, :, i * S:i * S + HH, j * S:j * S + WW]
                dW += np.tensordot(dout[:, :, i, j], patch, axes=([0], [0]))
                dx_pad[:, :, i * S:i * S + HH, j * S:j * S + WW] += np.tensordot(
                    dout[:, :, i, j], self.W, axes=([1], [0]))
        self.dW = dW
        self.db = dout.sum(axis=(0, 2, 3))
        return dx_pad[:, :, P:P + x.shape[2], P:P + x.shape[3]]


def windows(x_pad, kh, kw, stride, out_h, out_w):
    """A (N, C, out_h, out_w, kh, kw) view of every window, no copy."""
    n, c, h, w = x_pad.strides
    return as_strided(x_pad, shape=x_pad.shape[:2] + (out_h, out_w, kh, kw),
                      strides=(n, c, h * stride, w * stride, h, w), writeable=False)


class ConvStridedEinsum:
    """as_strided windows and einsum; backward scatters with one loop over the kernel taps."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        p, s = self.pad, self.stride
        _, _, kh, kw = self.W.shape
        self.x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        out_h = (self.x_pad.shape[2] - kh) // s + 1
        out_w = (self.x_pad.shape[3] - kw) // s + 1
        self.win = windows(self.x_pad, kh, kw, s, out_h, out_w)
        return np.einsum("ncijst,fcst->nfij", self.win, self.W) + self.b[None, :, None, None]

    def backward(self, dout):
        p, s = self.pad, self.stride
        _, _, kh, kw = self.W.shape
        _, _, out_h, out_w = dout.shape
        self.db = dout.sum(axis=(0, 2, 3))
        self.dW = np.einsum("ncijst,nfij->fcst", self.win, dout)
        dx_pad = np.zeros(self.x_pad.shape)
        per_tap = np.einsum("nfij,fcst->stncij", dout, self.W)
        for a in range(kh):
            for c in range(kw):
                dx_pad[:, :, a:a + s * out_h:s, c:c + s * out_w:s] += per_tap[a, c]
        h, w = dx_pad.shape[2:]
        return dx_pad[:, :, p:h - p, p:w - p]


class ConvColWAtConstruction(ConvIm2colDLfS):
    """DLfS with col_W computed once in __init__.

    Looks like the weights-live bug, but W.reshape(FN, -1).T of a contiguous W
    is a view: an optimizer's in-place update of W reaches it.
    """

    def __init__(self, W, b, stride=1, pad=0):
        super().__init__(W, b, stride, pad)
        self.col_W_fixed = W.reshape(W.shape[0], -1).T

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape
        out_h = (H + 2 * self.pad - FH) // self.stride + 1
        out_w = (W + 2 * self.pad - FW) // self.stride + 1
        self.x = x
        self.col = im2col(x, FH, FW, self.stride, self.pad)
        self.col_W = self.col_W_fixed
        out = self.col @ self.col_W + self.b
        return out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)


# -- pools --------------------------------------------------------------------
class MaxPoolLoops:
    """Loop over output positions; the gradient goes to the argmax of each window."""

    def __init__(self, pool_h, pool_w, stride=None, pad=0):
        self.ph, self.pw = pool_h, pool_w
        self.stride = pool_h if stride is None else stride
        self.pad = pad

    def forward(self, x):
        S, P = self.stride, self.pad
        self.x_shape = x.shape
        self.x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)), constant_values=-np.inf)
        N, C, H, W = self.x_pad.shape
        out_h = (H - self.ph) // S + 1
        out_w = (W - self.pw) // S + 1
        out = np.empty((N, C, out_h, out_w))
        for i in range(out_h):
            for j in range(out_w):
                out[:, :, i, j] = self.x_pad[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw].max(axis=(2, 3))
        return out

    def backward(self, dout):
        S, P = self.stride, self.pad
        N, C, out_h, out_w = dout.shape
        dx = np.zeros(self.x_pad.shape)
        for n in range(N):
            for c in range(C):
                for i in range(out_h):
                    for j in range(out_w):
                        window = self.x_pad[n, c, i * S:i * S + self.ph, j * S:j * S + self.pw]
                        r, q = np.unravel_index(np.argmax(window), window.shape)
                        dx[n, c, i * S + r, j * S + q] += dout[n, c, i, j]
        H, W = self.x_shape[2:]
        return dx[:, :, P:P + H, P:P + W]


MaxPoolIm2col = Pooling  # DLfS Pooling with -inf padding (examples/reference_style.py)


class AvgPoolLoops:
    """Loop over output positions; each window's gradient is spread evenly (padding counts)."""

    def __init__(self, pool_h, pool_w, stride=None, pad=0):
        self.ph, self.pw = pool_h, pool_w
        self.stride = pool_h if stride is None else stride
        self.pad = pad

    def forward(self, x):
        S, P = self.stride, self.pad
        self.x_shape = x.shape
        x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
        self.pad_shape = x_pad.shape
        out_h = (x_pad.shape[2] - self.ph) // S + 1
        out_w = (x_pad.shape[3] - self.pw) // S + 1
        out = np.zeros(x.shape[:2] + (out_h, out_w))
        for i in range(out_h):
            for j in range(out_w):
                out[:, :, i, j] = x_pad[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw].mean(axis=(2, 3))
        return out

    def backward(self, dout):
        S, P = self.stride, self.pad
        dx = np.zeros(self.pad_shape)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dx[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw] += \
                    dout[:, :, i, j][:, :, None, None] / (self.ph * self.pw)
        H, W = self.x_shape[2:]
        return dx[:, :, P:P + H, P:P + W]


class AvgPoolStrided:
    """Vectorized: as_strided windows for forward, one add per pool tap for backward."""

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.ph, self.pw, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        p, s = self.pad, self.stride
        x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        self.pad_shape = x_pad.shape
        out_h = (x_pad.shape[2] - self.ph) // s + 1
        out_w = (x_pad.shape[3] - self.pw) // s + 1
        return windows(x_pad, self.ph, self.pw, s, out_h, out_w).mean(axis=(4, 5))

    def backward(self, dout):
        p, s = self.pad, self.stride
        _, _, out_h, out_w = dout.shape
        dx = np.zeros(self.pad_shape)
        share = dout / (self.ph * self.pw)
        for a in range(self.ph):
            for c in range(self.pw):
                dx[:, :, a:a + s * out_h:s, c:c + s * out_w:s] += share
        h, w = dx.shape[2:]
        return dx[:, :, p:h - p, p:w - p]


class ConvFFT:
    """Correlation by FFT: every element of a result mixes every element of the inputs, so a right answer is
    rounded also where it is exactly zero (an input row no window reaches, a dW that sees padding only)."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        p, s = self.pad, self.stride
        self.x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        every = _correlate(self.x_pad[:, None], self.W[None]).sum(axis=2)  # (N, F) windows at every step
        self.every_shape = every.shape[2:]
        return every[:, :, ::s, ::s] + self.b[None, :, None, None]

    def backward(self, dout):
        p, s = self.pad, self.stride
        spread = np.zeros(dout.shape[:2] + self.every_shape)
        spread[:, :, ::s, ::s] = dout
        self.db = dout.sum(axis=(0, 2, 3))
        self.dW = _correlate(self.x_pad[:, None], spread[:, :, None]).sum(axis=0)
        dx_pad = _convolve_full(spread[:, :, None], self.W[None]).sum(axis=1)
        h, w = dx_pad.shape[2:]
        return dx_pad[:, :, p:h - p, p:w - p]


def _correlate(a, k):
    """The 'valid' cross-correlation of the last two axes, by FFT."""
    (h, w), (kh, kw) = a.shape[-2:], k.shape[-2:]
    return _convolve_full(a, k[..., ::-1, ::-1])[..., kh - 1:h, kw - 1:w]


def _convolve_full(a, k):
    shape = (a.shape[-2] + k.shape[-2] - 1, a.shape[-1] + k.shape[-1] - 1)
    return np.fft.irfft2(np.fft.rfft2(a, shape) * np.fft.rfft2(k, shape), shape)


class ConvAddAt(ConvStridedEinsum):
    """Backward scatters every window's gradient at once with np.add.at on fancy indices."""

    def backward(self, dout):
        p, s = self.pad, self.stride
        _, _, kh, kw = self.W.shape
        _, _, out_h, out_w = dout.shape
        self.db = dout.sum(axis=(0, 2, 3))
        self.dW = np.einsum("ncijst,nfij->fcst", self.win, dout)
        rows = (np.arange(out_h) * s)[:, None, None, None] + np.arange(kh)[None, None, :, None]
        cols = (np.arange(out_w) * s)[None, :, None, None] + np.arange(kw)[None, None, None, :]
        dx_pad = np.zeros(self.x_pad.shape)
        np.add.at(dx_pad.transpose(2, 3, 0, 1), (rows, cols), np.einsum("nfij,fcst->ijstnc", dout, self.W))
        h, w = dx_pad.shape[2:]
        return dx_pad[:, :, p:h - p, p:w - p]


class ConvLongDouble(ConvStridedEinsum):
    """Computes in np.longdouble and hands back float64: more precise than the reference, never less."""

    def forward(self, x):
        self.W_long = self.W.astype(np.longdouble)
        out = super().forward(x.astype(np.longdouble))
        return out.astype(x.dtype)

    def backward(self, dout):
        W, self.W = self.W, self.W_long
        try:
            dx = super().backward(dout.astype(np.longdouble))
        finally:
            self.W = W
        self.dW, self.db = self.dW.astype(dout.dtype), self.db.astype(dout.dtype)
        return dx.astype(dout.dtype)


class ConvWinograd(ConvStridedEinsum):
    """3x3 kernels at stride 1 go through Winograd's F(2x2, 3x3): each 4x4 tile of the input and the kernel are
    moved to a basis where a 2x2 block of outputs takes 16 products instead of 36, then back; every output
    mixes its tile with weights of 1/2, so it is rounded differently from a direct sum, also where it is zero.
    Other kernels and strides, and backward, are the strided einsum's."""

    B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=float)
    G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
    A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=float)

    def forward(self, x):
        direct = super().forward(x)  # also keeps the windows backward uses
        if self.W.shape[2:] != (3, 3) or self.stride != 1:
            return direct
        n, _, out_h, out_w = direct.shape
        tiles_h, tiles_w = -(-out_h // 2), -(-out_w // 2)
        x_pad = np.pad(self.x_pad, ((0, 0), (0, 0), (0, 2 * tiles_h + 2 - self.x_pad.shape[2]),
                                    (0, 2 * tiles_w + 2 - self.x_pad.shape[3])))
        tiles = np.lib.stride_tricks.sliding_window_view(x_pad, (4, 4), axis=(2, 3))[:, :, ::2, ::2]
        kernel = np.einsum("ak,fckl,bl->fcab", self.G, self.W, self.G)  # G g G^T
        data = np.einsum("ak,ncijkl,bl->ncijab", self.B_T, tiles, self.B_T)  # B^T d B
        blocks = np.einsum("ka,nfijab,lb->nfijkl", self.A_T, np.einsum("fcab,ncijab->nfijab", kernel, data), self.A_T)
        out = blocks.transpose(0, 1, 2, 4, 3, 5).reshape(n, -1, 2 * tiles_h, 2 * tiles_w)[:, :, :out_h, :out_w]
        return out + self.b[None, :, None, None]


CONV = [ConvIm2colDLfS, ConvNaiveLoops, ConvOutputLoopCs231n, ConvStridedEinsum, ConvColWAtConstruction, ConvFFT,
        ConvAddAt, ConvLongDouble, ConvWinograd]
MAXPOOL = [MaxPoolLoops, MaxPoolIm2col]
AVGPOOL = [AvgPoolLoops, AvgPoolStrided]
