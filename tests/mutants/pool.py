"""Wrong MaxPool2d and AvgPool2d layers, each with one bug the way students write it.

Constructor ``Pool(pool_h, pool_w, stride=1, pad=0)``; ``MUTANTS`` at the
bottom says which checks each must fail.
"""
import numpy as np

from . import Mutant
from reference_style import Pooling, im2col  # examples/: as students copy them from the book


class _LoopPool:
    """The loop skeleton: pad, loop over output positions."""

    pad_value = -np.inf

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.ph, self.pw, self.S, self.P = pool_h, pool_w, stride, pad

    def forward(self, x):
        S, P = self.S, self.P
        self.x_shape = x.shape
        self.x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)), constant_values=self.pad_value)
        out_h = (self.x_pad.shape[2] - self.ph) // S + 1
        out_w = (self.x_pad.shape[3] - self.pw) // S + 1
        out = np.empty(x.shape[:2] + (out_h, out_w))
        for i in range(out_h):
            for j in range(out_w):
                out[:, :, i, j] = self.pool(self.x_pad[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw])
        return out

    def pool(self, window):
        return window.max(axis=(2, 3))

    def crop(self, dx_pad):
        P, (H, W) = self.P, self.x_shape[2:]
        return dx_pad[:, :, P:P + H, P:P + W]


# -- max pool ---------------------------------------------------------------------------------
class MaxPoolAssignNotAdd(_LoopPool):
    """``dx[window] = mask * dout`` instead of ``+=``: overlapping windows overwrite each other."""

    def backward(self, dout):
        S = self.S
        dx = np.zeros(self.x_pad.shape)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = self.x_pad[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw]
                mask = window == window.max(axis=(2, 3), keepdims=True)
                dx[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw] = mask * dout[:, :, i:i + 1, j:j + 1]  # BUG
        return self.crop(dx)


class MaxPoolLastMaxMirrored(_LoopPool):
    """Meant to send ties to the last maximum, via argmax of the reversed window, but
    forgot to map the index back: the gradient lands on the mirror image of the max."""

    def backward(self, dout):
        S = self.S
        N, C = dout.shape[:2]
        dx = np.zeros(self.x_pad.shape)
        for n in range(N):
            for c in range(C):
                for i in range(dout.shape[2]):
                    for j in range(dout.shape[3]):
                        window = self.x_pad[n, c, i * S:i * S + self.ph, j * S:j * S + self.pw]
                        k = np.argmax(window.ravel()[::-1])  # BUG: should be window.size - 1 - that
                        r, q = divmod(k, self.pw)
                        dx[n, c, i * S + r, j * S + q] += dout[n, c, i, j]
        return self.crop(dx)


class MaxPoolDxIgnoresStride(_LoopPool):
    """The jop bug in a pool: the gradient of output (i, j) goes to the window at (i, j), not (i*S, j*S)."""

    def backward(self, dout):
        S = self.S
        dx = np.zeros(self.x_pad.shape)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = self.x_pad[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw]
                mask = window == window.max(axis=(2, 3), keepdims=True)
                dx[:, :, i:i + self.ph, j:j + self.pw] += mask * dout[:, :, i:i + 1, j:j + 1]  # BUG
        return self.crop(dx)


class MaxPoolZeroPadDLfS(Pooling):
    """DLfS Pooling verbatim: im2col pads with zeros, so with padding a window of negative
    values pools to 0.  Backward routes that output to the padding, consistently."""

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = int(1 + (H + 2 * self.pad - self.pool_h) / self.stride)
        out_w = int(1 + (W + 2 * self.pad - self.pool_w) / self.stride)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)  # BUG: zero padding
        col = col.reshape(-1, self.pool_h * self.pool_w)
        self.arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1).reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)
        self.x = x
        return out


class MaxPoolStaleArgmax(MaxPoolZeroPadDLfS):
    """DLfS with -inf padding, but the argmax is kept from the first forward ("it's the same layer")."""

    arg_max = None

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = (H + 2 * self.pad - self.pool_h) // self.stride + 1
        out_w = (W + 2 * self.pad - self.pool_w) // self.stride + 1
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad, pad_value=-np.inf)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        if self.arg_max is None:  # BUG
            self.arg_max = np.argmax(col, axis=1)
        self.x = x
        return np.max(col, axis=1).reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)


class MaxPoolDxKeepsPadding(_LoopPool):
    """Returns the padded dx (shape N, C, H+2P, W+2P)."""

    def backward(self, dout):
        S = self.S
        N, C = dout.shape[:2]
        dx = np.zeros(self.x_pad.shape)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = self.x_pad[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw].reshape(N, C, -1)
                r, q = np.unravel_index(window.argmax(axis=2), (self.ph, self.pw))
                n, c = np.indices((N, C))
                np.add.at(dx, (n, c, i * S + r, j * S + q), dout[:, :, i, j])
        return dx  # BUG: self.crop(dx)


# -- average pool ---------------------------------------------------------------------------------
class _LoopAvgPool(_LoopPool):
    pad_value = 0.0

    def pool(self, window):
        return window.mean(axis=(2, 3))


class AvgPoolNoDivide(_LoopAvgPool):
    """Backward spreads the whole dout over the window, forgetting the 1 / (pool_h * pool_w)."""

    def backward(self, dout):
        S = self.S
        dx = np.zeros(self.x_pad.shape)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dx[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw] += dout[:, :, i:i + 1, j:j + 1]  # BUG
        return self.crop(dx)


class AvgPoolCountExcludePad(_LoopAvgPool):
    """count_include_pad=False: every window is divided by its number of real (unpadded) elements,
    in forward and, consistently, in backward.  A legitimate convention, but not this layer's:
    the reference divides by the pool area, so forward differs wherever a window touches padding."""

    def forward(self, x):
        S, P = self.S, self.P
        self.x_shape = x.shape
        self.x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
        real = np.pad(np.ones(x.shape[2:]), P)  # 1 where x is, 0 in the padding
        out_h = (self.x_pad.shape[2] - self.ph) // S + 1
        out_w = (self.x_pad.shape[3] - self.pw) // S + 1
        self.counts = np.empty((out_h, out_w))
        out = np.empty(x.shape[:2] + (out_h, out_w))
        for i in range(out_h):
            for j in range(out_w):
                self.counts[i, j] = real[i * S:i * S + self.ph, j * S:j * S + self.pw].sum()  # BUG: ph * pw
                window = self.x_pad[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw]
                out[:, :, i, j] = window.sum(axis=(2, 3)) / self.counts[i, j]
        return out

    def backward(self, dout):
        S = self.S
        dx = np.zeros(self.x_pad.shape)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dx[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw] += \
                    dout[:, :, i:i + 1, j:j + 1] / self.counts[i, j]
        return self.crop(dx)


class AvgPoolAccumulatesDx(_LoopAvgPool):
    """The dx buffer is allocated in forward and backward adds into it: a second backward doubles dx."""

    def forward(self, x):
        out = super().forward(x)
        self.dx = np.zeros(self.x_pad.shape)
        return out

    def backward(self, dout):
        S = self.S
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                self.dx[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw] += \
                    dout[:, :, i:i + 1, j:j + 1] / (self.ph * self.pw)  # BUG: never reset
        return self.crop(self.dx)


class AvgPoolMutatesDout(_LoopAvgPool):
    """Divides dout by the pool area in place ("saves a copy"): dx is right, the caller's dout is not."""

    def backward(self, dout):
        S = self.S
        dout /= self.ph * self.pw  # BUG: in place
        dx = np.zeros(self.x_pad.shape)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dx[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw] += dout[:, :, i:i + 1, j:j + 1]
        return self.crop(dx)


# -- what only honest inputs find ------------------------------------------------------------------
class MaxPoolMaskAllTies(_LoopPool):
    """mask = (window == max): right without ties, but a window with k tied maxima routes k times its dout."""

    def backward(self, dout):
        S = self.S
        dx = np.zeros(self.x_pad.shape)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = self.x_pad[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw]
                mask = window == window.max(axis=(2, 3), keepdims=True)  # BUG at ties
                dx[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw] += mask * dout[:, :, i:i + 1, j:j + 1]
        return self.crop(dx)


class _FirstMaxPool(_LoopPool):
    """Right: each window's gradient goes to its first maximum (np.argmax)."""

    def backward(self, dout):
        S = self.S
        N, C = dout.shape[:2]
        dx = np.zeros(self.x_pad.shape)
        n, c = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = self.x_pad[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw].reshape(N, C, -1)
                r, q = np.divmod(self.route(window), self.pw)
                dx[n, c, i * S + r, j * S + q] += dout[:, :, i, j]
        return self.crop(dx)

    def route(self, window):
        return window.argmax(axis=2)


class MaxPoolRoutesToSmallestMagnitude(_FirstMaxPool):
    """Routes to the element closest to zero: the maximum while every value is negative, not otherwise."""

    def route(self, window):
        return np.abs(window).argmin(axis=2)  # BUG


class MaxPoolKinkAtMaxima(_FirstMaxPool):
    """forward adds the maximum's distance to the nearest multiple of 1/8: zero on gradcheck's grid of
    values, so forward equals max pooling there, but it has a kink at every window's maximum.  Backward is
    the max pool's, and passes; only the one-sided differences tell that forward is wrong."""

    def pool(self, window):
        top = window.max(axis=(2, 3))
        return top + np.abs(top - np.round(top * 8) / 8)  # BUG


class MaxPoolKinkZeroDx(MaxPoolKinkAtMaxima):
    """The same forward, and a backward that returns zeros (the kinks once excused it)."""

    def backward(self, dout):
        return np.zeros(self.x_shape)


class MaxPoolForwardNaN(_FirstMaxPool):
    """forward returns NaN for its first output (a 0/0 in a "safe" rescaling)."""

    def forward(self, x):
        out = super().forward(x)
        out[0, 0, 0, 0] = np.nan  # BUG
        return out


MUTANTS = [
    # Both route through mask = (window == max), which also sends the whole gradient to every tied maximum;
    # ties is checked where dX passes, which for the stride bug takes a stride-1 window with a tie.
    Mutant(MaxPoolAssignNotAdd, "maxpool", {"dX", "ties"}, trigger="windows overlap", hint="must add up (+=)"),
    Mutant(MaxPoolLastMaxMirrored, "maxpool", {"dX"}, sometimes={"ties"}),  # ties: where the mirror is no maximum
    Mutant(MaxPoolDxIgnoresStride, "maxpool", {"dX"}, trigger="stride > 1", sometimes={"ties"}),
    # Zero padding wins a window of negative values (forward); a window of tied zeros next to the padding
    # sends its gradient there (ties), and an input of exactly 0 next to the padding ties with it, a kink
    # (dX), when the arrays hold such a window.
    Mutant(MaxPoolZeroPadDLfS, "maxpool", {"forward"}, trigger="pad > 0", sometimes={"ties", "dX"},
           hint="pads with zeros"),
    Mutant(MaxPoolStaleArgmax, "maxpool", {"fresh-cache"}),
    Mutant(MaxPoolDxKeepsPadding, "maxpool", {"dX"}, trigger="pad > 0", hint="dX has the shape of the padded input"),
    Mutant(MaxPoolMaskAllTies, "maxpool", {"ties"}, hint="every tied maximum gets the whole gradient"),
    Mutant(MaxPoolRoutesToSmallestMagnitude, "maxpool", {"dX", "ties"}),
    Mutant(MaxPoolKinkAtMaxima, "maxpool", {"forward"}),
    Mutant(MaxPoolKinkZeroDx, "maxpool", {"forward", "dX"}),
    Mutant(MaxPoolForwardNaN, "maxpool", {"forward"}),
    Mutant(AvgPoolNoDivide, "avgpool", {"dX"}, hint="the division by the pool area"),
    Mutant(AvgPoolCountExcludePad, "avgpool", {"forward", "dX"}, trigger="pad > 0",
           hint="number of unpadded elements"),
    Mutant(AvgPoolAccumulatesDx, "avgpool", {"repeatable"}, hint="doubles on the second backward"),
    Mutant(AvgPoolMutatesDout, "avgpool", {"no-mutation"}),
]
