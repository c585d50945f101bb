"""Layers written the ways public course code writes them: constructors, calling conventions, return values.

Each is our own version of a style found in public repositories (cs231n
solutions, DLfS, DIVE INTO CODE sprints, from-scratch CNN projects), right
or with the bug that style is known for; those that need nothing but numpy
live in ``standalone``, so that they can be graded in the sandbox too.
``MUTANTS`` at the bottom says what gradcheck must report for each.
"""
import numpy as np

from . import Mutant
from .standalone import (ConvBackwardNone, ConvDxTwoBugs, ConvForwardNone, ConvLoops, ConvNoDilation,
                         ConvSquareInputs, ConvSquareKernels, ConvSquareKernelsDxBug, ConvStrideOne,
                         ConvValidStrideOne, MaxPool2dLayer, conv_backward_cropped, conv_forward,
                         conv_forward_global, conv_forward_global_mean, conv_forward_hparams,
                         conv_forward_hparams_unpad, conv_forward_no_pad, conv_forward_strides,
                         conv_forward_unpad_slice, max_pool_forward, pool_loops, pool_loops_backward)
from no_cache import conv_forward_windows, max_pool_forward_windows  # examples/
from own_weights import ConvParams, ConvSGD
from projects.own_weights_wrong import ConvParamsAccumulating, ConvSGDBatchMean  # tests/projects/
from reference_layers import Conv2d
from reference_style import Convolution, col2im  # examples/: as students copy them from the book


# -- constructors: positions and synonyms --------------------------------------------------------------------------
class ConvPositional(ConvLoops):
    """Conv(weights, bias, st, pd): names no convention knows, so stride and pad go by position."""

    def __init__(self, weights, bias, st, pd):
        super().__init__(weights, bias, st, pd)


class ConvSP(ConvLoops):
    """Conv(W, b, S=1, P=0), as lecture slides write stride and pad."""

    def __init__(self, W, b, S=1, P=0):
        super().__init__(W, b, S, P)


class ConvPadding(ConvLoops):
    """Conv(W, b, padding=0, stride=1): PyTorch's word, and in the other order."""

    def __init__(self, W, b, padding=0, stride=1):
        super().__init__(W, b, stride, padding)


class ConvStrideHW(Conv2d):
    """Conv(W, b, stride_h=1, stride_w=1, pad_h=0, pad_w=0): one argument per axis (the arithmetic is the
    reference layer's; what is checked here is that each argument gets its own axis)."""

    def __init__(self, W, b, stride_h=1, stride_w=1, pad_h=0, pad_w=0):
        super().__init__(W, b, (stride_h, stride_w), (pad_h, pad_w))


class MaxPoolNoPad:
    """MaxPool(pool_h, pool_w, stride): takes no pad at all, so it is checked with pad 0."""

    def __init__(self, pool_h, pool_w, stride):
        self.ph, self.pw, self.stride = pool_h, pool_w, stride

    def forward(self, x):
        self.x = x
        return pool_loops(x, self.ph, self.pw, self.stride)

    def backward(self, dout):
        return pool_loops_backward(dout, self.x, self.ph, self.pw, self.stride)


class MaxPoolSquareOnly(MaxPool2dLayer):
    """A pool written for square windows, which says so: ValueError for any other (right otherwise)."""

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        if pool_h != pool_w:
            raise ValueError("square pools only")
        super().__init__(pool_h, pool_w, stride, pad)


# -- return values ------------------------------------------------------------------------------------------------
class ConvBackwardTuple(Convolution):
    """backward returns (dx, dW, db) and keeps dW and db as attributes too: right."""

    def backward(self, dout):
        dx = super().backward(dout)
        return dx, self.dW, self.db


class ConvKeepsDx(Convolution):
    """backward keeps dx in ``self.dx`` and returns nothing, as some course code does: right."""

    def backward(self, dout):
        self.dx = super().backward(dout)


class ConvKeepsDxUnpadSlice(Convolution):
    """Keeps dx in ``self.dx``, cut from the padded gradient with ``[pad:-pad]``, which is empty at pad 0."""

    def backward(self, dout):
        p = self.pad
        dx_pad = np.pad(super().backward(dout), ((0, 0), (0, 0), (p, p), (p, p)))
        self.dx = dx_pad[:, :, p:-p, p:-p]  # BUG: empty when p == 0


class MaxPoolKeepsDx(MaxPoolNoPad):
    """MaxPooling(kernel_size, stride), whose backward keeps dx in ``self.dx`` and returns nothing: right."""

    def __init__(self, kernel_size, stride):
        super().__init__(kernel_size, kernel_size, stride)
        self.dx = None

    def backward(self, dout):
        self.dx = super().backward(dout)


class MaxPoolKeepsDxAssigned(MaxPoolKeepsDx):
    """The same, written as a public one is: each window's dout is assigned at its maximum, not added, so where
    windows overlap and share a maximum only the last one's gets there."""

    def backward(self, dout):
        N, C, OH, OW = dout.shape
        dx = np.zeros(self.x.shape)
        for i in range(OH):
            for j in range(OW):
                rows, cols = slice(i * self.stride, i * self.stride + self.ph), slice(j * self.stride,
                                                                                       j * self.stride + self.pw)
                window = self.x[:, :, rows, cols].reshape(N, C, -1)
                r, c = np.unravel_index(window.argmax(axis=2), (self.ph, self.pw))
                n, k = np.indices((N, C))
                dx[n, k, r + i * self.stride, c + j * self.stride] = dout[:, :, i, j]  # BUG: = not +=
        self.dx = dx


class ConvBackwardTupleOnly(ConvPositional):
    """backward returns (dx, dW, db) as cs231n's function does, and keeps no gradient attribute: right."""

    def backward(self, dout):
        return conv_backward_cropped(dout, self.x, self.W, self.stride, self.pad)


# -- wrong in a way of their own ------------------------------------------------------------------------------------
class ConvCol2imKernelSwapped(Convolution):
    """DLfS, the kernel size read from W.shape, but col2im is handed (FW, FH): wrong for non-square kernels."""

    def backward(self, dout):
        super().backward(dout)  # dW and db
        FN, C, FH, FW = self.W.shape
        dcol = np.dot(dout.transpose(0, 2, 3, 1).reshape(-1, FN), self.col_W.T)
        return col2im(dcol, self.x.shape, FW, FH, self.stride, self.pad)  # BUG: FH, FW


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
    Mutant(ConvKeepsDx, "conv", set(), note="backward returned None; dx was read from the layer's dx, which it set"),
    Mutant(ConvKeepsDxUnpadSlice, "conv", {"dX"}, trigger="fails only when pad = 0",
           hint="dx_pad[:, :, pad:pad + H, pad:pad + W]"),
    Mutant(MaxPoolKeepsDx, "maxpool", set(), note="dx was read from the layer's dx"),
    Mutant(MaxPoolKeepsDxAssigned, "maxpool", {"dX", "ties"}, trigger="windows overlap"),
    Mutant(conv_forward_unpad_slice, "conv", {"dX"}, trigger="fails only when pad = 0",
           hint="dx_pad[:, :, pad:pad + H, pad:pad + W]"),
    # Written for part of the space, and saying so: refusals when strict, checked where they accept otherwise.
    Mutant(conv_forward_strides, "conv", {"forward"}, kind="refusal",
           trigger="refuses only when the stride does not divide the padded input", hint="--divisible",
           restricted={"an input the stride divides"}),
    Mutant(MaxPoolSquareOnly, "maxpool", {"forward"}, kind="refusal",
           trigger="refuses only when the kernel is not square", restricted={"a square kernel"}),
    Mutant(ConvSquareKernels, "conv", {"forward"}, kind="refusal", trigger="refuses only when the kernel is not square",
           restricted={"a square kernel"}),
    Mutant(ConvStrideOne, "conv", {"forward"}, kind="refusal", trigger="refuses only when stride > 1",
           restricted={"stride 1"}),
    Mutant(conv_forward_no_pad, "conv", {"forward"}, kind="refusal", trigger="refuses only when pad > 0",
           restricted={"pad 0"}),
    Mutant(ConvNoDilation, "conv", {"forward"}, kind="refusal", trigger="refuses only when dilation > 1",
           restricted={"dilation 1"}),
    Mutant(ConvSquareInputs, "conv", {"forward"}, kind="refusal", trigger="refuses only when the input is not square",
           restricted={"a square input"}),
    # Either refusal can be found first; the other's rule holds in a search scoped away from it.
    Mutant(ConvValidStrideOne, "conv", {"forward"}, kind="refusal", trigger=", refuses only when", findings=2,
           restricted={"pad 0", "stride 1"}),
    Mutant(ConvSquareKernelsDxBug, "conv", {"dX"}, trigger="fails only when stride > 1",
           hint="stepping through the input with the stride", restricted={"a square kernel"}),
    Mutant(ConvCol2imKernelSwapped, "conv", {"dX"}, trigger="fails only when the kernel is not square",
           hint="height and width are swapped"),
    Mutant(conv_forward_windows, "conv", set(), note="called conv_backward_windows(dout, x, w, b, conv_param) with "
                                                     "what conv_forward_windows was given (it takes no cache)"),
    Mutant(max_pool_forward_windows, "maxpool", set(), note="called max_pool_backward_windows(dout, x, pool_param)"),
    Mutant(conv_forward_hparams, "conv", set(), note="called conv_backward_hparams(dZ, A_prev, W, b, hparameters)"),
    Mutant(conv_forward_hparams_unpad, "conv", {"dX"}, trigger="fails only when pad = 0",
           hint="dx_pad[:, :, pad:pad + H, pad:pad + W]"),
    Mutant(conv_forward_global, "conv", set(), note="called conv_backward_global(dZ) right after conv_forward_global"),
    Mutant(conv_forward_global_mean, "conv", {"dB"}, trigger="batch > 1", hint="divided by the batch size 2"),
    Mutant(ConvParams, "conv", set(), note="W and b written into its params[0] and params[1]"),
    Mutant(ConvSGD, "conv", set(), note="backward was called as backward(dout, lr=0)"),
    Mutant(ConvParamsAccumulating, "conv", {"repeatable"}, hint="doubles on the second backward"),
    Mutant(ConvSGDBatchMean, "conv", {"dB"}, trigger="batch > 1", hint="divided by the batch size 2"),
    # Either bug can be found first; the other's rule holds in a search scoped away from it.
    Mutant(ConvDxTwoBugs, "conv", {"dX"}, findings=2, trigger=", fails only when"),
]
