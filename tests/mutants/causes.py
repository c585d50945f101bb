"""Wrong layers whose failure has a cause a hint must name, not only a symptom (issue 16, item 6).

Each is our own version of a mistake public layers make: a "max" pool that
averages, a kernel flipped on one axis only (on a 1xK kernel the same as a
180-degree rotation, on 3x3 not), an int buffer truncating an array, a
backward padding with a pad of its own, a forward reading past the end of x,
a backward that drops the rows past the last window while forward is right, a
forward whose output size rounds up, and float() of a one-element array,
which this NumPy refuses (the one reading past x and the float() one live in
``standalone``, so that they are graded in the sandbox too).  ``MUTANTS`` at the bottom says what gradcheck must
report for each: the checks, the hint it must show and the hints it must not.
"""
import math

import numpy as np

from . import Mutant
from .pool import _LoopPool
from .standalone import (ConvFloatOfArray, ConvLoops, ConvStridedUnpadded, conv_backward_cropped, conv_loops,
                         conv_loops_backward, pad4)
from reference_style import Convolution  # examples/: as students copy them from the book


# -- a "max" pool that averages ---------------------------------------------------------------------------------------
class MaxPoolAverages(_LoopPool):
    """A max pool written from an average pool: forward takes each window's mean, and backward, consistent with
    it, spreads dout evenly."""

    pad_value = 0.0

    def pool(self, window):
        return window.mean(axis=(2, 3))  # BUG: max

    def backward(self, dout):
        S = self.S
        dx = np.zeros(self.x_pad.shape)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dx[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw] += dout[:, :, i:i + 1, j:j + 1] / (self.ph * self.pw)
        return self.crop(dx)


class MaxPoolDxSpreads(MaxPoolAverages):
    """A right max forward, with the average pool's backward."""

    pad_value = -np.inf

    def pool(self, window):
        return window.max(axis=(2, 3))


# -- a kernel flipped on one axis -------------------------------------------------------------------------------------
class ConvForwardRowsFlipped(ConvLoops):
    """Forward reverses the kernel's rows ("a convolution flips the kernel", half done); backward is the gradient of
    that forward, so dX and dW are wrong too, because forward is."""

    def forward(self, x):
        self.x = x
        return conv_loops(pad4(x, self.pad), self.W[:, :, ::-1, :], self.b, self.stride)  # BUG: W

    def backward(self, dout):
        dx, dW, self.db = conv_backward_cropped(dout, self.x, self.W[:, :, ::-1, :], self.stride, self.pad)
        self.dW = dW[:, :, ::-1, :]
        return dx


def conv_forward_columns_flipped(x, w, b, conv_param):
    """The cs231n pair, with the kernel's columns reversed in forward and, consistently, in backward."""
    S, P = conv_param["stride"], conv_param["pad"]
    return conv_loops(pad4(x, P), w[:, :, :, ::-1], b, S), (x, w, conv_param)  # BUG: w


def conv_backward_columns_flipped(dout, cache):
    x, w, conv_param = cache
    dx, dw, db = conv_backward_cropped(dout, x, w[:, :, :, ::-1], conv_param["stride"], conv_param["pad"])
    return dx, dw[:, :, :, ::-1], db


# -- int buffers ------------------------------------------------------------------------------------------------------
class ConvIntOutput(ConvLoops):
    """Forward writes each output into an array made with dtype=int: truncated to whole numbers."""

    def forward(self, x):
        self.x = x
        x_pad = pad4(x, self.pad)
        F, C, KH, KW = self.W.shape
        S = self.stride
        OH, OW = (x_pad.shape[2] - KH) // S + 1, (x_pad.shape[3] - KW) // S + 1
        out = np.zeros((x.shape[0], F, OH, OW), dtype=int)  # BUG: dtype
        for i in range(OH):
            for j in range(OW):
                out[:, :, i, j] = np.einsum("nchw,fchw->nf", x_pad[:, :, i * S:i * S + KH, j * S:j * S + KW],
                                            self.W) + self.b
        return out


class ConvIntPaddedInput(ConvLoops):
    """Pads x by copying it into np.zeros(..., dtype=int): forward and dW see x truncated to whole numbers."""

    def forward(self, x):
        N, C, H, W = x.shape
        P = self.pad
        self.x_pad = np.zeros((N, C, H + 2 * P, W + 2 * P), dtype=int)  # BUG: dtype
        self.x_pad[:, :, P:P + H, P:P + W] = x
        self.x_shape = x.shape
        return conv_loops(self.x_pad, self.W, self.b, self.stride)

    def backward(self, dout):
        dx_pad, self.dW, self.db = conv_loops_backward(dout, self.x_pad, self.W, self.stride)
        P, (H, W) = self.pad, self.x_shape[2:]
        return dx_pad[:, :, P:P + H, P:P + W]


def max_pool_forward_int(x, pool_param):
    """cs231n pair keeping the argmax of each window, and the output made with np.zeros_like of that int array."""
    PH, PW, S = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    OH, OW = (H - PH) // S + 1, (W - PW) // S + 1
    argmax = np.zeros((N, C, OH, OW), dtype=int)
    out = np.zeros_like(argmax)  # BUG: an int array
    for i in range(OH):
        for j in range(OW):
            window = x[:, :, i * S:i * S + PH, j * S:j * S + PW].reshape(N, C, -1)
            argmax[:, :, i, j] = window.argmax(axis=2)
            out[:, :, i, j] = window.max(axis=2)
    return out, (x, argmax, pool_param)


def max_pool_backward_int(dout, cache):
    x, argmax, pool_param = cache
    PW, S = pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros(x.shape)
    n, c = np.indices(x.shape[:2])
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            r, q = np.divmod(argmax[:, :, i, j], PW)
            np.add.at(dx, (n, c, i * S + r, j * S + q), dout[:, :, i, j])
    return dx


class ConvDxIntGather(ConvLoops):
    """Backward gathers each input element's gradient from the windows that read it, into np.zeros(x.shape,
    dtype=int): dX truncated to whole numbers."""

    def backward(self, dout):
        dx_pad, self.dW, self.db = conv_loops_backward(dout, pad4(self.x, self.pad), self.W, self.stride)
        P, (H, W) = self.pad, self.x.shape[2:]
        dx = np.zeros(self.x.shape, dtype=int)  # BUG: dtype
        for h in range(H):
            for w in range(W):
                dx[:, :, h, w] = dx_pad[:, :, P + h, P + w]
        return dx


# -- a backward with a pad of its own ---------------------------------------------------------------------------------
def conv_forward_same_pad_backward(x, w, b, conv_param):
    """cs231n naive pair whose backward hard-codes the 'same' padding of a 3x3 kernel, pad 1."""
    S, P = conv_param["stride"], conv_param["pad"]
    return conv_loops(pad4(x, P), w, b, S), (x, w, b, conv_param)


def conv_backward_same_pad_backward(dout, cache):
    x, w, b, conv_param = cache
    pad = 1  # BUG: conv_param["pad"]
    return conv_backward_cropped(dout, x, w, conv_param["stride"], pad)


# -- the rows past the last window ------------------------------------------------------------------------------------
def col2im_windows_only(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """DLfS's col2im with its buffer cut to the rows the windows reach, (out_h - 1) * stride + filter_h, and the
    padding cut from both ends of that buffer."""
    N, C, H, W = input_shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, (out_h - 1) * stride + filter_h, (out_w - 1) * stride + filter_w))  # BUG: H + 2 * pad
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            img[:, :, y:y_max:stride, x:x_max:stride] += col[:, :, y, x, :, :]
    return img[:, :, pad:img.shape[2] - pad, pad:img.shape[3] - pad]


class ConvCol2imWindowsOnly(Convolution):
    """DLfS conv whose col2im drops the rows past the last window: forward is right, dX is short whenever the
    stride does not divide H + 2P - KH."""

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        super().backward(dout)  # dW and db
        dcol = np.dot(dout.transpose(0, 2, 3, 1).reshape(-1, FN), self.col_W.T)
        return col2im_windows_only(dcol, self.x.shape, FH, FW, self.stride, self.pad)


class ConvCeilOutput(ConvLoops):
    """Rounds the output size up, (H + 2P - KH) / S rounded up + 1, and pads x further so the extra windows fit."""

    def forward(self, x):
        self.x = x
        F, C, KH, KW = self.W.shape
        S, P = self.stride, self.pad
        OH = math.ceil((x.shape[2] + 2 * P - KH) / S) + 1  # BUG: floor division
        OW = math.ceil((x.shape[3] + 2 * P - KW) / S) + 1
        x_pad = np.pad(x, ((0, 0), (0, 0), (P, (OH - 1) * S + KH - x.shape[2] - P),
                           (P, (OW - 1) * S + KW - x.shape[3] - P)))
        return conv_loops(x_pad, self.W, self.b, S)


ROTATED = "rotated by 180 degrees"
FLOOR = "use floor division"
MUTANTS = [
    Mutant(MaxPoolAverages, "maxpool", {"forward", "dX"}, hint="forward averages each window"),
    Mutant(MaxPoolDxSpreads, "maxpool", {"dX"}, hint="spreads each window's gradient evenly",
           absent={"forward averages"}),
    # backward is the gradient of the flipped forward, not the layer's: dX and dW fail, with "fix forward first"
    Mutant(ConvForwardRowsFlipped, "conv", {"forward", "dX", "dW"}, hint="forward uses the kernel flipped upside down",
           absent={ROTATED, "left to right"}),
    Mutant(conv_forward_columns_flipped, "conv", {"forward", "dX", "dW"},
           hint="forward uses the kernel flipped left to right", absent={ROTATED, "upside down"}),
    Mutant(ConvIntOutput, "conv", {"forward"}, hint="forward is cut to whole numbers",
           sometimes={"weights-live"}),
    # backward adds floats in place to the int buffer and raises: dX's hint names that
    Mutant(ConvIntPaddedInput, "conv", {"forward", "dX"}, hint="forward is computed from x cut to whole numbers"),
    Mutant(max_pool_forward_int, "maxpool", {"forward"}, hint="forward is cut to whole numbers"),
    Mutant(ConvDxIntGather, "conv", {"dX"}, hint="dX is cut to whole numbers"),
    Mutant(conv_forward_same_pad_backward, "conv", {"dX", "dW"}, hint="backward gives with pad 1"),
    # x stays a few hundred bytes, so that the memory the layer reads past it is the heap's, never unmapped
    Mutant(ConvStridedUnpadded, "conv", {"forward"}, hint="forward reads memory past the end of x",
           sometimes={"dX", "dW", "dB", "repeatable", "no-mutation", "weights-live", "fresh-cache"},
           pins=dict(batch=1, channels=1, size=6)),
    Mutant(ConvCol2imWindowsOnly, "conv", {"dX"}, trigger="fails only when the stride does not divide",
           hint="belong to dX too", absent={FLOOR, "is empty"}),
    Mutant(ConvCeilOutput, "conv", {"forward"}, trigger="fails only when the stride does not divide",
           hint=FLOOR),
    Mutant(ConvFloatOfArray, "conv", {"forward"}, hint="float() or int() of an array that is not 0-dimensional"),
]
