"""Layers written the ways public course code writes them: constructors, calling conventions, return values.

Each is our own version of a style found in public repositories (cs231n
solutions, DLfS, DIVE INTO CODE sprints, from-scratch CNN projects), right
or with the bug that style is known for.  ``MUTANTS`` at the bottom says what
gradcheck must report for each.
"""
import numpy as np

from . import Mutant
from reference_style import Convolution, col2im  # examples/: as students copy them from the book


def pad4(x, p, value=0.0):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=value)


def _conv_loops(x_pad, W, b, S):
    F, C, KH, KW = W.shape
    OH, OW = (x_pad.shape[2] - KH) // S + 1, (x_pad.shape[3] - KW) // S + 1
    out = np.zeros((x_pad.shape[0], F, OH, OW))
    for i in range(OH):
        for j in range(OW):
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", x_pad[:, :, i * S:i * S + KH, j * S:j * S + KW], W) + b
    return out


def _conv_loops_backward(dout, x_pad, W, S):
    """(dx_pad, dW, db) of a loop conv."""
    F, C, KH, KW = W.shape
    dx_pad, dW = np.zeros_like(x_pad), np.zeros_like(W)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = (slice(None), slice(None), slice(i * S, i * S + KH), slice(j * S, j * S + KW))
            dW += np.einsum("nf,nchw->fchw", dout[:, :, i, j], x_pad[window])
            dx_pad[window] += np.einsum("nf,fchw->nchw", dout[:, :, i, j], W)
    return dx_pad, dW, dout.sum(axis=(0, 2, 3))


def _pool_loops(x_pad, PH, PW, S):
    N, C = x_pad.shape[:2]
    OH, OW = (x_pad.shape[2] - PH) // S + 1, (x_pad.shape[3] - PW) // S + 1
    out = np.empty((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            out[:, :, i, j] = x_pad[:, :, i * S:i * S + PH, j * S:j * S + PW].max(axis=(2, 3))
    return out


def _pool_loops_backward(dout, x_pad, PH, PW, S):
    """dx_pad of a loop max pool: each window's dout to its first maximum."""
    N, C = dout.shape[:2]
    dx_pad = np.zeros(x_pad.shape)
    n, c = np.indices((N, C))
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x_pad[:, :, i * S:i * S + PH, j * S:j * S + PW].reshape(N, C, -1)
            r, q = np.divmod(window.argmax(axis=2), PW)
            np.add.at(dx_pad, (n, c, i * S + r, j * S + q), dout[:, :, i, j])
    return dx_pad


# -- constructors: positions and synonyms --------------------------------------------------------------------------
class MaxPool2dLayer:
    """A from-scratch project's pool: MaxPool2dLayer(PH, PW, PS, PP), every argument required."""

    def __init__(self, PH, PW, PS, PP):
        self.PH, self.PW, self.PS, self.PP = PH, PW, PS, PP

    def forward(self, x):
        self.x_shape = x.shape
        self.x_pad = pad4(x, self.PP, -np.inf)
        return _pool_loops(self.x_pad, self.PH, self.PW, self.PS)

    def backward(self, dout):
        dx_pad = _pool_loops_backward(dout, self.x_pad, self.PH, self.PW, self.PS)
        P, (H, W) = self.PP, self.x_shape[2:]
        return dx_pad[:, :, P:P + H, P:P + W]


class ConvPositional:
    """Conv(weights, bias, st, pd): names no convention knows, so stride and pad go by position."""

    def __init__(self, weights, bias, st, pd):
        self.W, self.b, self.st, self.pd = weights, bias, st, pd

    def forward(self, x):
        self.x_shape = x.shape
        self.x_pad = pad4(x, self.pd)
        return _conv_loops(self.x_pad, self.W, self.b, self.st)

    def backward(self, dout):
        dx_pad, self.dW, self.db = _conv_loops_backward(dout, self.x_pad, self.W, self.st)
        P, (H, W) = self.pd, self.x_shape[2:]
        return dx_pad[:, :, P:P + H, P:P + W]


class ConvSP(ConvPositional):
    """Conv(W, b, S=1, P=0), as lecture slides write stride and pad."""

    def __init__(self, W, b, S=1, P=0):
        super().__init__(W, b, S, P)


class ConvPadding(ConvPositional):
    """Conv(W, b, padding=0, stride=1): PyTorch's word, and in the other order."""

    def __init__(self, W, b, padding=0, stride=1):
        super().__init__(W, b, stride, padding)


class ConvStrideHW:
    """Conv(W, b, stride_h=1, stride_w=1, pad_h=0, pad_w=0): one argument per axis."""

    def __init__(self, W, b, stride_h=1, stride_w=1, pad_h=0, pad_w=0):
        self.W, self.b, self.stride, self.pad = W, b, (stride_h, stride_w), (pad_h, pad_w)

    def forward(self, x):
        (SH, SW), (PH, PW) = self.stride, self.pad
        F, C, KH, KW = self.W.shape
        self.x_shape = x.shape
        self.x_pad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
        OH, OW = (self.x_pad.shape[2] - KH) // SH + 1, (self.x_pad.shape[3] - KW) // SW + 1
        out = np.zeros((x.shape[0], F, OH, OW))
        for i in range(OH):
            for j in range(OW):
                window = self.x_pad[:, :, i * SH:i * SH + KH, j * SW:j * SW + KW]
                out[:, :, i, j] = np.einsum("nchw,fchw->nf", window, self.W) + self.b
        return out

    def backward(self, dout):
        (SH, SW), (PH, PW) = self.stride, self.pad
        F, C, KH, KW = self.W.shape
        dx_pad, self.dW = np.zeros_like(self.x_pad), np.zeros_like(self.W)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = (slice(None), slice(None), slice(i * SH, i * SH + KH), slice(j * SW, j * SW + KW))
                self.dW += np.einsum("nf,nchw->fchw", dout[:, :, i, j], self.x_pad[window])
                dx_pad[window] += np.einsum("nf,fchw->nchw", dout[:, :, i, j], self.W)
        self.db = dout.sum(axis=(0, 2, 3))
        H, W = self.x_shape[2:]
        return dx_pad[:, :, PH:PH + H, PW:PW + W]


class MaxPoolNoPad:
    """MaxPool(pool_h, pool_w, stride): takes no pad at all, so it is checked with pad 0."""

    def __init__(self, pool_h, pool_w, stride):
        self.ph, self.pw, self.stride = pool_h, pool_w, stride

    def forward(self, x):
        self.x = x
        return _pool_loops(x, self.ph, self.pw, self.stride)

    def backward(self, dout):
        return _pool_loops_backward(dout, self.x, self.ph, self.pw, self.stride)


# -- return values ------------------------------------------------------------------------------------------------
class ConvBackwardTuple(Convolution):
    """backward returns (dx, dW, db) and keeps dW and db as attributes too: right."""

    def backward(self, dout):
        dx = super().backward(dout)
        return dx, self.dW, self.db


class ConvBackwardTupleOnly(ConvPositional):
    """backward returns (dx, dW, db) as cs231n's function does, and keeps no gradient attribute: right."""

    def backward(self, dout):
        dx_pad, dW, db = _conv_loops_backward(dout, self.x_pad, self.W, self.st)
        P, (H, W) = self.pd, self.x_shape[2:]
        return dx_pad[:, :, P:P + H, P:P + W], dW, db


class ConvForwardNone(Convolution):
    """forward stores its output in self.out and forgets to return it."""

    def forward(self, x):
        self.out = super().forward(x)  # BUG: no return


class ConvBackwardNone(Convolution):
    """backward sets self.dx (and dW, db) and returns nothing."""

    def backward(self, dout):
        self.dx = super().backward(dout)  # BUG: no return


# -- function pairs ------------------------------------------------------------------------------------------------
def conv_forward(X, W, b, stride=1, padding=1):
    """A from-scratch pair with the geometry as arguments of its own: right."""
    out = _conv_loops(pad4(X, padding), W, b, stride)
    return out, (X, W, stride, padding)


def conv_backward(dout, cache):
    X, W, stride, padding = cache
    dx_pad, dW, db = _conv_loops_backward(dout, pad4(X, padding), W, stride)
    H, Wd = X.shape[2:]
    return dx_pad[:, :, padding:padding + H, padding:padding + Wd], dW, db


def max_pool_forward(x, pool_h, pool_w, stride):
    """A pool pair taking the window and stride as arguments, and no pad: right."""
    return _pool_loops(x, pool_h, pool_w, stride), (x, pool_h, pool_w, stride)


def max_pool_backward(dout, cache):
    x, pool_h, pool_w, stride = cache
    return _pool_loops_backward(dout, x, pool_h, pool_w, stride)


def conv_forward_unpad_slice(x, w, b, conv_param):
    """cs231n naive conv whose backward strips the padding with [pad:-pad]."""
    S, P = conv_param["stride"], conv_param["pad"]
    return _conv_loops(pad4(x, P), w, b, S), (x, w, b, conv_param)


def conv_backward_unpad_slice(dout, cache):
    x, w, b, conv_param = cache
    S, P = conv_param["stride"], conv_param["pad"]
    dx_pad, dw, db = _conv_loops_backward(dout, pad4(x, P), w, S)
    dx = dx_pad[:, :, P:-P, P:-P]  # BUG: empty when P is 0; dx_pad[:, :, P:P + H, P:P + W]
    return dx, dw, db


def conv_forward_strides(x, w, b, conv_param):
    """cs231n's fast layer style: refuses inputs the stride does not divide, right otherwise."""
    S, P = conv_param["stride"], conv_param["pad"]
    F, C, HH, WW = w.shape
    H, W = x.shape[2:]
    assert (W + 2 * P - WW) % S == 0, "width does not work"
    assert (H + 2 * P - HH) % S == 0, "height does not work"
    return _conv_loops(pad4(x, P), w, b, S), (x, w, b, conv_param)


def conv_backward_strides(dout, cache):
    x, w, b, conv_param = cache
    S, P = conv_param["stride"], conv_param["pad"]
    dx_pad, dw, db = _conv_loops_backward(dout, pad4(x, P), w, S)
    H, W = x.shape[2:]
    return dx_pad[:, :, P:P + H, P:P + W], dw, db


# -- im2col -----------------------------------------------------------------------------------------------------------
class ConvCol2imKernelSwapped(Convolution):
    """DLfS, the kernel size read from W.shape, but col2im is handed (FW, FH): wrong for non-square kernels."""

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        dcol = np.dot(dout, self.col_W.T)
        return col2im(dcol, self.x.shape, FW, FH, self.stride, self.pad)  # BUG: FH, FW


class MaxPoolSquareOnly(MaxPool2dLayer):
    """A pool written for square windows, which says so: ValueError for any other (right otherwise)."""

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        if pool_h != pool_w:
            raise ValueError("square pools only")
        super().__init__(pool_h, pool_w, stride, pad)


class ConvDxTwoBugs(ConvPositional):
    """Two bugs in dX: only the first filter's weights are spread back (wrong with 2 filters or more), and
    samples past the third get no gradient (wrong from batch 4 on, with any number of filters)."""

    def __init__(self, W, b, stride=1, pad=0):
        super().__init__(W, b, stride, pad)

    def backward(self, dout):
        dx = super().backward(dout)
        S, P, (F, _, KH, KW) = self.st, self.pd, self.W.shape
        dx_pad = np.zeros_like(self.x_pad)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = (slice(None), slice(None), slice(i * S, i * S + KH), slice(j * S, j * S + KW))
                dx_pad[window] += np.einsum("n,chw->nchw", dout[:, 0, i, j] * F, self.W[0])  # BUG: every filter
        H, W = self.x_shape[2:]
        dx = dx_pad[:, :, P:P + H, P:P + W] if F > 1 else dx
        dx[3:] = 0  # BUG: "batches of three"
        return dx


MUTANTS = [
    Mutant(MaxPool2dLayer, "maxpool", set(), note="built as MaxPool2dLayer(pool_h, pool_w, PS=stride, PP=pad)"),
    Mutant(ConvPositional, "conv", set(), note="built as ConvPositional(W, b, stride, pad), by position"),
    Mutant(ConvSP, "conv", set(), note="built as ConvSP(W, b, S=stride, P=pad)"),
    Mutant(ConvPadding, "conv", set(), note="built as ConvPadding(W, b, stride=stride, padding=pad)"),
    Mutant(ConvStrideHW, "conv", set(),
           note="built as ConvStrideHW(W, b, stride_h=stride_h, stride_w=stride_w, pad_h=pad_h, pad_w=pad_w)"),
    Mutant(MaxPoolNoPad, "maxpool", set(), note="built as MaxPoolNoPad(pool_h, pool_w, stride=stride)"),
    Mutant(ConvBackwardTuple, "conv", set(), note="its first element was taken as dx"),
    Mutant(ConvBackwardTupleOnly, "conv", set(), note="they were read from backward's tuple as (dx, dW, db)"),
    Mutant(conv_forward, "conv", set(), note="called as conv_forward(x, w, b, stride=stride, padding=pad)"),
    Mutant(max_pool_forward, "maxpool", set(), note="called as max_pool_forward(x, pool_h, pool_w, stride=stride)"),
    Mutant(ConvForwardNone, "conv", {"forward"}),
    Mutant(ConvBackwardNone, "conv", {"dX"}),
    Mutant(conv_forward_unpad_slice, "conv", {"dX"}, trigger="fails only when pad = 0",
           hint="dx_pad[:, :, pad:pad + H, pad:pad + W]"),
    Mutant(conv_forward_strides, "conv", {"forward"}, kind="refusal",
           trigger="refuses only when the stride does not divide the padded input", hint="--divisible"),
    Mutant(MaxPoolSquareOnly, "maxpool", {"forward"}, kind="refusal",
           trigger="refuses only when the kernel is not square"),
    Mutant(ConvCol2imKernelSwapped, "conv", {"dX"}, trigger="fails only when the kernel is not square",
           hint="height and width are swapped"),
    Mutant(ConvDxTwoBugs, "conv", {"dX"}, findings=2, trigger="with batch 1, fails only when filters > 1"),
]
