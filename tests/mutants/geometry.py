"""Layers wrong only in a geometry class that random draws rarely reach (gradcheck.strata draws each one).

Each is a "fast path" a student adds for a common case and gets wrong, right
everywhere else: stride equal to a square kernel (2x2 pooling with stride 2),
a 1x1 output, an even kernel.  Without stratified geometry a default search missed them on
every seed.
"""
import numpy as np

from reference_style import col2im  # examples/: as students copy it from the book

from . import Mutant
from .conv import _Im2colBase, _LoopConv
from .pool import _LoopAvgPool, _LoopPool


def _tiles(config_stride, kernel):
    """Whether windows tile the input: stride equal to a square kernel larger than 1."""
    return kernel[0] == kernel[1] == config_stride > 1


class ConvDxUnrotatedWhenTiling(_LoopConv):
    """Non-overlapping windows "need no rotation bookkeeping": the fast path scatters the kernel rotated by
    180 degrees when the stride equals a square kernel."""

    def window_dx(self, d):
        if _tiles(self.S, self.W.shape[2:]):
            return np.einsum("nf,fchw->nchw", d, self.W[:, :, ::-1, ::-1])  # BUG
        return super().window_dx(d)


class ConvDxFromWindowCentres(_LoopConv):
    """backward places each window by its centre, row i*S + KH // 2, and starts it (KH - 1) // 2 rows above:
    right for odd kernels, one row (and column) too low for even ones, which have no centre."""

    def backward(self, dout):
        S = self.S
        F, C, KH, KW = self.W.shape
        self.db = dout.sum(axis=(0, 2, 3))
        self.dW = np.zeros_like(self.W)
        dx_pad = np.zeros(self.x_pad.shape[:2] + (self.x_pad.shape[2] + 1, self.x_pad.shape[3] + 1))
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                self.dW += self.window_dw(dout[:, :, i, j], self.x_pad[:, :, i * S:i * S + KH, j * S:j * S + KW], i)
                top = i * S + KH // 2 - (KH - 1) // 2  # BUG: i * S
                left = j * S + KW // 2 - (KW - 1) // 2  # BUG: j * S
                dx_pad[:, :, top:top + KH, left:left + KW] += self.window_dx(dout[:, :, i, j])
        return self.crop(dx_pad)


class ConvOneOutputFastPath(_Im2colBase):
    """With a 1x1 output, dout "is already (N, FN)": reshaped as (FN, N) and transposed, which mixes samples
    and filters as soon as both are more than one."""

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        N = dout.shape[0]
        if dout.shape[2:] == (1, 1):
            flat = dout.reshape(FN, N).T  # BUG: dout.reshape(N, FN)
        else:
            flat = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = flat.sum(axis=0)
        self.dW = (self.col.T @ flat).transpose(1, 0).reshape(FN, C, FH, FW)
        return col2im(flat @ self.col_W.T, self.x.shape, FH, FW, self.stride, self.pad)


class MaxPoolTilingFastPath(_LoopPool):
    """Tiling windows (stride == square pool) take a reshape fast path whose argmax is unravelled as
    (column, row): the gradient lands on the maximum's mirror across the window's diagonal."""

    def backward(self, dout):
        if not _tiles(self.S, (self.ph, self.pw)):
            return self.loop_backward(dout)
        N, C, OH, OW = dout.shape
        k = self.ph
        tiles = self.x_pad[:, :, :OH * k, :OW * k].reshape(N, C, OH, k, OW, k).transpose(0, 1, 2, 4, 3, 5)
        arg = tiles.reshape(N, C, OH, OW, k * k).argmax(axis=-1)
        col, row = np.divmod(arg, k)  # BUG: row, col = np.divmod(arg, k)
        dtiles = np.zeros((N, C, OH, OW, k, k))
        n, c, i, j = np.indices(arg.shape)
        dtiles[n, c, i, j, row, col] = dout
        dx = np.zeros(self.x_pad.shape)
        dx[:, :, :OH * k, :OW * k] = dtiles.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, OH * k, OW * k)
        return self.crop(dx)

    def loop_backward(self, dout):
        S = self.S
        dx = np.zeros(self.x_pad.shape)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = self.x_pad[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw]
                mask = window == window.max(axis=(2, 3), keepdims=True)
                dx[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw] += mask * dout[:, :, i:i + 1, j:j + 1]
        return self.crop(dx)


class AvgPoolTilingFastPath(_LoopAvgPool):
    """Tiling windows take np.repeat of dout, which spreads each gradient over its window but forgets to
    divide it by the window's area; every other geometry loops and is right."""

    def backward(self, dout):
        S, (N, C, OH, OW) = self.S, dout.shape
        dx = np.zeros(self.x_pad.shape)
        if _tiles(S, (self.ph, self.pw)):
            dx[:, :, :OH * S, :OW * S] = dout.repeat(S, axis=2).repeat(S, axis=3)  # BUG: / (S * S)
            return self.crop(dx)
        for i in range(OH):
            for j in range(OW):
                dx[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw] += \
                    dout[:, :, i:i + 1, j:j + 1] / (self.ph * self.pw)
        return self.crop(dx)


MUTANTS = [
    Mutant(ConvDxUnrotatedWhenTiling, "conv", {"dX"}, trigger="fails only when stride == kernel",
           hint="windows tile the input"),
    Mutant(ConvDxFromWindowCentres, "conv", {"dX"}, trigger="fails only when the kernel is even",
           hint="kernels of even size", absent={"hard-coded as 3"}),
    Mutant(ConvOneOutputFastPath, "conv", {"dX", "dW", "dB"}),
    Mutant(MaxPoolTilingFastPath, "maxpool", {"dX", "ties"}, trigger="fails only when stride == kernel",
           absent={"i*stride + s"}),
    Mutant(AvgPoolTilingFastPath, "avgpool", {"dX"}, trigger="fails only when stride == kernel",
           absent={"i*stride + s"}),
]
