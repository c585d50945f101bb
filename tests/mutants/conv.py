"""Wrong Conv2d layers, each with one bug the way students write it.

Every class is standalone student code in the reference convention
(``Conv(W, b, stride=1, pad=0)``, ``forward(x)``, ``backward(dout) -> dx``,
``dW``/``db`` attributes); ``MUTANTS`` at the bottom says which checks each
must fail.  Most build on one of two skeletons a student starts from: the
DLfS im2col layer (examples/reference_style.py) or ``_LoopConv``, a loop over
output positions.
"""
import numpy as np

from . import Mutant
from reference_style import Convolution, col2im, im2col  # examples/: as students copy them from the book


def pad4(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


class _LoopConv:
    """The loop skeleton, right: forward over all windows at once, backward one output position at a time;
    the mutants below change its backward."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.S, self.P = W, b, stride, pad

    def forward(self, x):
        S, P = self.S, self.P
        F, C, KH, KW = self.W.shape
        self.x_shape = x.shape
        self.x_pad = pad4(x, P)
        OH = (self.x_pad.shape[2] - KH) // S + 1
        OW = (self.x_pad.shape[3] - KW) // S + 1
        windows = np.lib.stride_tricks.sliding_window_view(self.x_pad, (KH, KW), axis=(2, 3))
        windows = windows[:, :, :(OH - 1) * S + 1:S, :(OW - 1) * S + 1:S]  # (N, C, OH, OW, KH, KW)
        out = np.tensordot(windows, self.W, axes=([1, 4, 5], [1, 2, 3]))  # (N, OH, OW, F)
        return out.transpose(0, 3, 1, 2) + self.b[:, None, None]

    def backward(self, dout):
        """Right; the mutants built on it change one of the three small steps below."""
        S = self.S
        F, C, KH, KW = self.W.shape
        self.db = dout.sum(axis=(0, 2, 3))
        self.dW = np.zeros_like(self.W)
        dx_pad = np.zeros_like(self.x_pad)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                win = self.x_pad[:, :, i * S:i * S + KH, j * S:j * S + KW]
                self.dW += self.window_dw(dout[:, :, i, j], win, i)
                dx_pad[:, :, i * S:i * S + KH, j * S:j * S + KW] += self.window_dx(dout[:, :, i, j])
        return self.crop(dx_pad)

    def window_dw(self, d, win, i):
        return np.einsum("nf,nchw->fchw", d, win)

    def window_dx(self, d):
        return np.einsum("nf,fchw->nchw", d, self.W)

    def crop(self, dx_pad):
        P, (H, W_) = self.P, self.x_shape[2:]
        return dx_pad[:, :, P:P + H, P:P + W_]


# -- the jop bug: window positions that ignore the stride -------------------------
class ConvDxIgnoresStride(_LoopConv):
    """dX scattered to window i instead of window i*S (forward and dW are right)."""

    def backward(self, dout):
        S, P = self.S, self.P
        F, C, KH, KW = self.W.shape
        self.db = dout.sum(axis=(0, 2, 3))
        self.dW = np.zeros_like(self.W)
        dx_pad = np.zeros_like(self.x_pad)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                win = self.x_pad[:, :, i * S:i * S + KH, j * S:j * S + KW]
                self.dW += np.einsum("nf,nchw->fchw", dout[:, :, i, j], win)
                # BUG: the window of output (i, j) starts at (i*S, j*S), not (i, j)
                dx_pad[:, :, i:i + KH, j:j + KW] += np.einsum("nf,fchw->nchw", dout[:, :, i, j], self.W)
        H, W_ = dx_pad.shape[2] - 2 * P, dx_pad.shape[3] - 2 * P
        return dx_pad[:, :, P:P + H, P:P + W_]


class ConvJopDW:
    """The seed's "jop" loop, in dW only: ``for row in range(0, H, S)`` used as the output index.

    The student loops over window starts (row, col) stepping by S, and reads
    the upstream gradient at [row // S, col // S] for dX (right) but reads
    the input window at (row // S, col // S) for dW (wrong with stride > 1).
    """

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.S, self.P = W, b, stride, pad

    def forward(self, x):
        S, P = self.S, self.P
        F, C, KH, KW = self.W.shape
        self.x = x
        self.x_pad = pad4(x, P)
        H, W_ = self.x_pad.shape[2:]
        A = np.zeros((x.shape[0], F, (H - KH) // S + 1, (W_ - KW) // S + 1))
        for row in range(0, H - KH + 1, S):
            for col in range(0, W_ - KW + 1, S):
                win = self.x_pad[:, :, row:row + KH, col:col + KW]
                A[:, :, row // S, col // S] = np.tensordot(win, self.W, axes=([1, 2, 3], [1, 2, 3])) + self.b
        return A

    def backward(self, dA):
        S = self.S
        F, C, KH, KW = self.W.shape
        H, W_ = self.x_pad.shape[2:]
        dx_pad = np.zeros_like(self.x_pad)
        self.dW = np.zeros_like(self.W)
        self.db = dA.sum(axis=(0, 2, 3))
        for row in range(0, H - KH + 1, S):
            for col in range(0, W_ - KW + 1, S):
                g = dA[:, :, row // S, col // S]
                dx_pad[:, :, row:row + KH, col:col + KW] += np.tensordot(g, self.W, axes=([1], [0]))
                r, c = row // S, col // S  # BUG: the window of (r, c) starts at (row, col), not (r, c)
                self.dW += np.tensordot(g, self.x_pad[:, :, r:r + KH, c:c + KW], axes=([0], [0]))
        P = self.P
        return dx_pad[:, :, P:P + self.x.shape[2], P:P + self.x.shape[3]]


# -- padding --------------------------------------------------------------------------
class ConvDxKeepsPadding:
    """Returns the padded dx: the student forgot col2im's crop (shape N, C, H+2P, W+2P)."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, _, H, W = x.shape
        out_h = (H + 2 * self.pad - FH) // self.stride + 1
        out_w = (W + 2 * self.pad - FW) // self.stride + 1
        self.x_pad = pad4(x, self.pad)
        self.col = im2col(x, FH, FW, self.stride, self.pad)
        out = self.col @ self.W.reshape(FN, -1).T + self.b
        return out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = dout.sum(axis=0)
        self.dW = (self.col.T @ dout).T.reshape(FN, C, FH, FW)
        dcol = dout @ self.W.reshape(FN, -1)
        # BUG: col2im on the padded shape with pad 0 keeps the border
        return col2im(dcol, self.x_pad.shape, FH, FW, self.stride, 0)


class ConvDxUnpadWrongSide(_LoopConv):
    """Crops the padding from the bottom-right only: dx_pad[:, :, :H, :W]."""

    def backward(self, dout):
        S = self.S
        F, C, KH, KW = self.W.shape
        dx_pad = np.zeros_like(self.x_pad)
        self.dW = np.zeros_like(self.W)
        self.db = dout.sum(axis=(0, 2, 3))
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                win = self.x_pad[:, :, i * S:i * S + KH, j * S:j * S + KW]
                self.dW += np.tensordot(dout[:, :, i, j], win, axes=([0], [0]))
                dx_pad[:, :, i * S:i * S + KH, j * S:j * S + KW] += np.tensordot(dout[:, :, i, j], self.W,
                                                                                 axes=([1], [0]))
        H, W_ = self.x_shape[2:]
        return dx_pad[:, :, :H, :W_]  # BUG: the padding is on both sides: [P:P + H, P:P + W]


# -- kernel orientation ------------------------------------------------------------------
class ConvDxFlippedKernel(_LoopConv):
    """Backward spreads dout with the kernel rotated 180 degrees ("backprop of a conv is a conv
    with the flipped kernel"), but scatters it onto the same windows the forward read: the
    rotation belongs to the full-correlation formulation only.
    """

    def backward(self, dout):
        S, P = self.S, self.P
        F, C, KH, KW = self.W.shape
        dx_pad = np.zeros_like(self.x_pad)
        self.dW = np.zeros_like(self.W)
        self.db = dout.sum(axis=(0, 2, 3))
        W_rot = self.W[:, :, ::-1, ::-1]  # BUG
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                win = self.x_pad[:, :, i * S:i * S + KH, j * S:j * S + KW]
                self.dW += np.einsum("nf,nchw->fchw", dout[:, :, i, j], win)
                dx_pad[:, :, i * S:i * S + KH, j * S:j * S + KW] += np.einsum("nf,fchw->nchw", dout[:, :, i, j],
                                                                              W_rot)
        H, W_ = self.x_shape[2:]
        return dx_pad[:, :, P:P + H, P:P + W_]


class ConvForwardFlippedKernel:
    """Forward is a true convolution (kernel rotated 180 degrees); backward is the textbook
    correlation backward: the right gradients (they disagree with finite differences of this forward)."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, _, H, W = x.shape
        out_h = (H + 2 * self.pad - FH) // self.stride + 1
        out_w = (W + 2 * self.pad - FW) // self.stride + 1
        self.x = x
        self.col = im2col(x, FH, FW, self.stride, self.pad)
        W_flip = self.W[:, :, ::-1, ::-1]  # BUG: "convolution flips the kernel"
        out = self.col @ W_flip.reshape(FN, -1).T + self.b
        return out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = dout.sum(axis=0)
        self.dW = (self.col.T @ dout).transpose(1, 0).reshape(FN, C, FH, FW)
        dcol = dout @ self.W.reshape(FN, -1)
        return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)


class ConvTrueConvolution(ConvForwardFlippedKernel):
    """A consistent true convolution: the kernel flipped in forward and, to match, in backward.

    Its gradients are right for the function it computes, but that function is
    not the layer's (a correlation): forward fails, and dX and dW with it.
    """

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        W_flip = self.W[:, :, ::-1, ::-1]
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = dout.sum(axis=0)
        self.dW = (self.col.T @ dout).transpose(1, 0).reshape(FN, C, FH, FW)[:, :, ::-1, ::-1]
        dcol = dout @ W_flip.reshape(FN, -1)
        return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)


# -- batch and axes -------------------------------------------------------------------------
_Im2colBase = Convolution  # the DLfS skeleton (examples/reference_style.py) the next mutants change one line of


class ConvDbAveraged(_Im2colBase):
    """db = mean over the batch ("the loss is averaged, so the gradient is too")."""

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        N = dout.shape[0]
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0) / N  # BUG
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        return col2im(np.dot(dout, self.col_W.T), self.x.shape, FH, FW, self.stride, self.pad)


class ConvDWDividedByBatch(_Im2colBase):
    """dW /= N."""

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        N = dout.shape[0]
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW) / N  # BUG
        return col2im(np.dot(dout, self.col_W.T), self.x.shape, FH, FW, self.stride, self.pad)


class ConvDbWrongAxis(_Im2colBase):
    """db summed along the filter axis of the (N*OH*OW, FN) matrix instead of the rows."""

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=1)  # BUG: axis=0
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        return col2im(np.dot(dout, self.col_W.T), self.x.shape, FH, FW, self.stride, self.pad)


class ConvDWReshapeNoTranspose(_Im2colBase):
    """dW = (col.T @ dout).reshape(FN, C, FH, FW): the (C*FH*FW, FN) matrix needs a transpose first."""

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).reshape(FN, C, FH, FW)  # BUG
        return col2im(np.dot(dout, self.col_W.T), self.x.shape, FH, FW, self.stride, self.pad)


class ConvDxAssignNotAdd(_Im2colBase):
    """col2im with ``=``: where windows overlap (stride < kernel) later windows overwrite earlier ones."""

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        N, _, H, W = self.x.shape
        S, P = self.stride, self.pad
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        dcol = np.dot(dout, self.col_W.T)
        out_h = (H + 2 * P - FH) // S + 1
        out_w = (W + 2 * P - FW) // S + 1
        dcol = dcol.reshape(N, out_h, out_w, C, FH, FW)
        img = np.zeros((N, C, H + 2 * P, W + 2 * P))
        for i in range(out_h):
            for j in range(out_w):
                img[:, :, i * S:i * S + FH, j * S:j * S + FW] = dcol[:, i, j]  # BUG: +=
        return img[:, :, P:P + H, P:P + W]


# -- forward bugs the backward shares ---------------------------------------------------------
class ConvStrideOffByOne:
    """Window starts from ``range(0, H_pad - KH, S)``: the last window is lost when the
    stride divides H_pad - KH (its output stays 0).  Backward loops the same way, so it is
    consistent with this forward, and wrong with it."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.S, self.P = W, b, stride, pad

    def forward(self, x):
        S, P = self.S, self.P
        F, C, KH, KW = self.W.shape
        self.x_shape = x.shape
        self.x_pad = pad4(x, P)
        H, W_ = self.x_pad.shape[2:]
        out = np.zeros((x.shape[0], F, (H - KH) // S + 1, (W_ - KW) // S + 1))
        for row in range(0, H - KH, S):  # BUG: H - KH + 1
            for col in range(0, W_ - KW, S):  # BUG: W_ - KW + 1
                win = self.x_pad[:, :, row:row + KH, col:col + KW]
                out[:, :, row // S, col // S] = np.einsum("nchw,fchw->nf", win, self.W) + self.b
        return out

    def backward(self, dout):
        S, P = self.S, self.P
        F, C, KH, KW = self.W.shape
        H, W_ = self.x_pad.shape[2:]
        dx_pad = np.zeros_like(self.x_pad)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        for row in range(0, H - KH, S):
            for col in range(0, W_ - KW, S):
                g = dout[:, :, row // S, col // S]
                self.db += g.sum(axis=0)
                self.dW += np.einsum("nf,nchw->fchw", g, self.x_pad[:, :, row:row + KH, col:col + KW])
                dx_pad[:, :, row:row + KH, col:col + KW] += np.einsum("nf,fchw->nchw", g, self.W)
        return dx_pad[:, :, P:P + self.x_shape[2], P:P + self.x_shape[3]]


# -- state across calls -------------------------------------------------------------------------
class ConvAccumulatesGrads(_Im2colBase):
    """dW and db start at zero in __init__ and backward adds to them (no reset)."""

    def __init__(self, W, b, stride=1, pad=0):
        super().__init__(W, b, stride, pad)
        self.dW = np.zeros_like(W)
        self.db = np.zeros_like(b)

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db += np.sum(dout, axis=0)  # BUG: accumulates across calls
        self.dW += np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        return col2im(np.dot(dout, self.col_W.T), self.x.shape, FH, FW, self.stride, self.pad)


class ConvStaleCol(_Im2colBase):
    """im2col is cached on the first forward and reused forever."""

    col = None

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, _, H, W = x.shape
        out_h = (H + 2 * self.pad - FH) // self.stride + 1
        out_w = (W + 2 * self.pad - FW) // self.stride + 1
        self.x = x
        if self.col is None:  # BUG: "im2col is expensive, do it once"
            self.col = im2col(x, FH, FW, self.stride, self.pad)
        self.col_W = self.W.reshape(FN, -1).T
        out = np.dot(self.col, self.col_W) + self.b
        return out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        return col2im(np.dot(dout, self.col_W.T), self.x.shape, FH, FW, self.stride, self.pad)


class ConvOutputSizePerBatch(_Im2colBase):
    """The output size is worked out once per batch size ("shapes do not change within an epoch"): right until
    the layer meets another height or width with a batch size it has seen."""

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, _, H, W = x.shape
        sizes = self.__dict__.setdefault("sizes", {})
        out_h, out_w = sizes.setdefault(N, ((H + 2 * self.pad - FH) // self.stride + 1,  # BUG: keyed on N only
                                            (W + 2 * self.pad - FW) // self.stride + 1))
        self.x = x
        self.col = im2col(x, FH, FW, self.stride, self.pad)
        self.col_W = self.W.reshape(FN, -1).T
        out = np.dot(self.col, self.col_W) + self.b
        return out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)


class ConvCopiesWeights(_Im2colBase):
    """self.W = W.copy(): an optimizer updating the caller's W in place never reaches forward."""

    def __init__(self, W, b, stride=1, pad=0):
        super().__init__(W.copy(), b.copy(), stride, pad)  # BUG

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        return col2im(np.dot(dout, self.col_W.T), self.x.shape, FH, FW, self.stride, self.pad)


class ConvPrecomputedColW:
    """The weight matrix is built once in __init__ (a contiguous copy, "for speed").

    ``self.W`` is still the caller's array, so the engine's in-place update
    lands in it, but forward multiplies by the stale matrix.
    """

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad
        self.col_W = np.ascontiguousarray(W.reshape(W.shape[0], -1).T)  # BUG: a copy, frozen

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, _, H, W = x.shape
        out_h = (H + 2 * self.pad - FH) // self.stride + 1
        out_w = (W + 2 * self.pad - FW) // self.stride + 1
        self.x = x
        self.col = im2col(x, FH, FW, self.stride, self.pad)
        out = self.col @ self.col_W + self.b
        return out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = dout.sum(axis=0)
        self.dW = (self.col.T @ dout).T.reshape(FN, C, FH, FW)
        return col2im(dout @ self.col_W.T, self.x.shape, FH, FW, self.stride, self.pad)


# -- mutation of the caller's arrays ---------------------------------------------------------------
class ConvMutatesX(_Im2colBase):
    """After forward the student records the input's magnitude with np.abs(x, out=x)."""

    def forward(self, x):
        out = super().forward(x)
        self.x_abs_mean = np.abs(x, out=x).mean()  # BUG: out=x overwrites the caller's x
        return out

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        return col2im(np.dot(dout, self.col_W.T), self.x.shape, FH, FW, self.stride, self.pad)


class ConvMutatesDout(_Im2colBase):
    """After using dout the student zeroes it, as if it were a gradient buffer to reset."""

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        g = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(g, axis=0)
        self.dW = np.dot(self.col.T, g).transpose(1, 0).reshape(FN, C, FH, FW)
        dx = col2im(np.dot(g, self.col_W.T), self.x.shape, FH, FW, self.stride, self.pad)
        dout.fill(0.0)  # BUG: "zero_grad" on the caller's array
        return dx


# -- crashes and conversions -----------------------------------------------------------------------
class ConvRaisesInBackward(_Im2colBase):
    """A typo: forward stored self.x, backward reads self.x_shape (AttributeError every time)."""

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        return col2im(np.dot(dout, self.col_W.T), self.x_shape, FH, FW, self.stride, self.pad)  # BUG


class ConvFloat32(_Im2colBase):
    """Computes and returns float32 (casting W each forward, so updates still reach it).

    Right under --precision float32; under float64 every array it returns is
    narrower than the precision, so forward, dX, dW and dB fail, saying so.
    """

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, _, H, W = x.shape
        out_h = (H + 2 * self.pad - FH) // self.stride + 1
        out_w = (W + 2 * self.pad - FW) // self.stride + 1
        self.x = x
        self.col = im2col(x.astype(np.float32), FH, FW, self.stride, self.pad)
        self.col_W = self.W.astype(np.float32).reshape(FN, -1).T
        out = np.dot(self.col, self.col_W) + self.b.astype(np.float32)
        return out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.astype(np.float32).transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        return col2im(np.dot(dout, self.col_W.T), self.x.shape, FH, FW, self.stride, self.pad)


class ConvFloat32Inside(ConvFloat32):
    """Computes in float32 but hands back float64: the values carry float32 rounding (about 1e-7)."""

    def forward(self, x):
        return super().forward(x).astype(np.float64)

    def backward(self, dout):
        dx = super().backward(dout).astype(np.float64)
        self.dW, self.db = self.dW.astype(np.float64), self.db.astype(np.float64)
        return dx


class ConvDWAsFloat32(_Im2colBase):
    """Right, but dW is handed back as float32 ("saves memory"): only dW is narrower than the precision."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = self.dW.astype(np.float32)
        return dx


class ConvReturnsList(_Im2colBase):
    """Correct, but backward returns dx.tolist(): the engine converts it and notes that it did."""

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        return col2im(np.dot(dout, self.col_W.T), self.x.shape, FH, FW, self.stride, self.pad).tolist()


# -- errors that only the reach of the search finds -------------------------------------------
class ConvDxOneElementOff(_Im2colBase):
    """dX right but for its largest element, off by a relative 1e-5."""

    def backward(self, dout):
        dx = super().backward(dout).copy()
        dx.flat[np.abs(dx).argmax()] *= 1 + 1e-5
        return dx


class ConvDWOneElementOff(_Im2colBase):
    """dW right but for its largest element, off by a relative 1e-5."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = self.dW.copy()
        self.dW.flat[np.abs(self.dW).argmax()] *= 1 + 1e-5
        return dx


class ConvDWFirstThreeSamples(_Im2colBase):
    """dW from the first three samples only (a debugging slice left in): wrong from batch 4 on."""

    def backward(self, dout):
        dx = super().backward(dout)
        FN, C, FH, FW = self.W.shape
        rows = 3 * dout.shape[2] * dout.shape[3]  # im2col's rows run over (n, i, j)
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.dW = np.dot(self.col[:rows].T, dout[:rows]).transpose(1, 0).reshape(FN, C, FH, FW)  # BUG
        return dx


class ConvDxThreeChannels(_LoopConv):
    """dX written for RGB: channels past the third get no gradient."""

    def window_dx(self, d):
        dx = super().window_dx(d)
        dx[:, 3:] = 0  # BUG
        return dx


class ConvDWTapTableOfSix(_Im2colBase):
    """dW through a table of tap offsets sized for kernels up to 6 wide: the seventh column gets nothing."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = self.dW.copy()
        self.dW[..., 6:] = 0  # BUG
        return dx


class ConvDxStrideCappedAtThree(_Im2colBase):
    """col2im called with min(stride, 3) ("strides above 3 never happen"): dX wrong from stride 4 on."""

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        return col2im(np.dot(dout, self.col_W.T), self.x.shape, FH, FW, min(self.stride, 3), self.pad)  # BUG


class ConvDxPadCappedAtKernel(_LoopConv):
    """Strips min(pad, KH) rows of padding from dX ("pad is never more than the kernel")."""

    def crop(self, dx_pad):
        P, (H, W_) = min(self.P, self.W.shape[2]), self.x_shape[2:]  # BUG
        return dx_pad[:, :, P:P + H, P:P + W_]


class ConvDxFifteenRows(_Im2colBase):
    """dX through a buffer of 15 rows ("inputs are small"): rows from the sixteenth on get nothing."""

    def backward(self, dout):
        dx = super().backward(dout).copy()
        dx[:, :, 15:] = 0  # BUG
        return dx


class ConvDWFourOutputRows(_LoopConv):
    """dW sums the first four output rows only (a loop bound copied from a 4x4 example)."""

    def window_dw(self, d, win, i):
        return super().window_dw(d, win, i) if i < 4 else 0  # BUG


class ConvForwardNaN(_Im2colBase):
    """forward divides by a norm that is zero for its first output ("normalized" activations): NaN there."""

    def forward(self, x):
        out = super().forward(x).copy()
        out[0, 0, 0, 0] = np.nan  # BUG
        return out


MUTANTS = [
    Mutant(ConvDxIgnoresStride, "conv", {"dX"}, trigger="stride > 1",
           hint="stepping through the input with the stride"),
    Mutant(ConvJopDW, "conv", {"dW"}, trigger="stride > 1"),
    Mutant(ConvDxKeepsPadding, "conv", {"dX"}, trigger="pad > 0", hint="dX has the shape of the padded input"),
    Mutant(ConvDxUnpadWrongSide, "conv", {"dX"}, trigger="pad > 0", hint="stripped from the wrong side"),
    Mutant(ConvDxFlippedKernel, "conv", {"dX"}, hint="kernel rotated by 180 degrees"),
    Mutant(ConvForwardFlippedKernel, "conv", {"forward"}, hint="forward uses the kernel rotated by 180 degrees"),
    Mutant(ConvTrueConvolution, "conv", {"forward", "dX", "dW"}),
    Mutant(ConvDbAveraged, "conv", {"dB"}, trigger="batch > 1", hint="divided by the batch size 2"),
    Mutant(ConvDWDividedByBatch, "conv", {"dW"}, trigger="batch > 1", hint="divided by the batch size 2"),
    Mutant(ConvDbWrongAxis, "conv", {"dB"}),
    Mutant(ConvDWReshapeNoTranspose, "conv", {"dW"}, hint="in the wrong places"),
    Mutant(ConvDxAssignNotAdd, "conv", {"dX"}, hint="must add up (+=)"),
    Mutant(ConvStrideOffByOne, "conv", {"forward", "dX", "dW", "dB"}),
    Mutant(ConvAccumulatesGrads, "conv", {"repeatable"}, hint="doubles on the second backward"),
    Mutant(ConvStaleCol, "conv", {"fresh-cache"}),
    Mutant(ConvOutputSizePerBatch, "conv", {"fresh-cache"}),
    Mutant(ConvCopiesWeights, "conv", {"weights-live"}),
    Mutant(ConvPrecomputedColW, "conv", {"weights-live"}),
    Mutant(ConvMutatesX, "conv", {"no-mutation"}),
    Mutant(ConvMutatesDout, "conv", {"no-mutation"}),
    Mutant(ConvRaisesInBackward, "conv", {"dX"}, error="AttributeError"),
    Mutant(ConvFloat32, "conv", {"forward", "dX", "dW", "dB"}, hint="--precision float32"),
    Mutant(ConvFloat32Inside, "conv", {"forward", "dX", "dW", "dB"}, hint="float32 rounding"),
    Mutant(ConvDWAsFloat32, "conv", {"dW"}, hint="--precision float32"),
    Mutant(ConvDxOneElementOff, "conv", {"dX"}),
    Mutant(ConvDWOneElementOff, "conv", {"dW"}),
    Mutant(ConvDWFirstThreeSamples, "conv", {"dW"}),
    Mutant(ConvDxThreeChannels, "conv", {"dX"}),
    Mutant(ConvDWTapTableOfSix, "conv", {"dW"}),
    Mutant(ConvDxStrideCappedAtThree, "conv", {"dX"}),
    Mutant(ConvDxPadCappedAtKernel, "conv", {"dX"}),
    Mutant(ConvDxFifteenRows, "conv", {"dX"}),
    Mutant(ConvDWFourOutputRows, "conv", {"dW"}),
    Mutant(ConvForwardNaN, "conv", {"forward"}),
    Mutant(ConvReturnsList, "conv", set(), note="backward returned list"),
]
