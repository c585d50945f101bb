"""Layers in public course styles that import nothing but numpy, so that the grading sandbox can load this file as
a submission too (tests/test_reports.py grades it).  tests/mutants/styles.py registers what each must give.
"""
import numpy as np


def pad4(x, p, value=0.0):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=value)


def conv_loops(x_pad, W, b, S):
    F, C, KH, KW = W.shape
    OH, OW = (x_pad.shape[2] - KH) // S + 1, (x_pad.shape[3] - KW) // S + 1
    out = np.zeros((x_pad.shape[0], F, OH, OW))
    for i in range(OH):
        for j in range(OW):
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", x_pad[:, :, i * S:i * S + KH, j * S:j * S + KW], W) + b
    return out


def conv_loops_backward(dout, x_pad, W, S):
    """(dx_pad, dW, db) of a loop conv."""
    F, C, KH, KW = W.shape
    dx_pad, dW = np.zeros_like(x_pad), np.zeros_like(W)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = (slice(None), slice(None), slice(i * S, i * S + KH), slice(j * S, j * S + KW))
            dW += np.einsum("nf,nchw->fchw", dout[:, :, i, j], x_pad[window])
            dx_pad[window] += np.einsum("nf,fchw->nchw", dout[:, :, i, j], W)
    return dx_pad, dW, dout.sum(axis=(0, 2, 3))


def pool_loops(x_pad, PH, PW, S):
    N, C = x_pad.shape[:2]
    OH, OW = (x_pad.shape[2] - PH) // S + 1, (x_pad.shape[3] - PW) // S + 1
    out = np.empty((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            out[:, :, i, j] = x_pad[:, :, i * S:i * S + PH, j * S:j * S + PW].max(axis=(2, 3))
    return out


def pool_loops_backward(dout, x_pad, PH, PW, S):
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


def conv_backward_cropped(dout, x, W, S, P):
    """(dx, dW, db) of a loop conv on input ``x``, dx cut from the padded gradient the right way."""
    dx_pad, dW, db = conv_loops_backward(dout, pad4(x, P), W, S)
    H, W_ = x.shape[2:]
    return dx_pad[:, :, P:P + H, P:P + W_], dW, db


# -- classes --------------------------------------------------------------------------------------------------------
class ConvLoops:
    """A loop conv as a from-scratch project writes it: right."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        self.x = x
        return conv_loops(pad4(x, self.pad), self.W, self.b, self.stride)

    def backward(self, dout):
        dx, self.dW, self.db = conv_backward_cropped(dout, self.x, self.W, self.stride, self.pad)
        return dx


class ConvDxTwoBugs(ConvLoops):
    """Two bugs in dX: every filter's share is spread with the first filter's weights (wrong with 2 filters or
    more), and samples past the third get no gradient (wrong from batch 4 on, with any number of filters)."""

    def backward(self, dout):
        super().backward(dout)  # dW and db
        first = self.W[:1]  # BUG: each filter's own weights
        dx, _, _ = conv_backward_cropped(dout.sum(axis=1, keepdims=True), self.x, first, self.stride, self.pad)
        dx[3:] = 0  # BUG: "batches of three"
        return dx


class ConvForwardNone(ConvLoops):
    """forward stores its output in self.out and forgets to return it."""

    def forward(self, x):
        self.out = super().forward(x)  # BUG: no return


class ConvBackwardNone(ConvLoops):
    """backward sets dW and db, and computes dx but neither returns it nor keeps it."""

    def backward(self, dout):
        dx = super().backward(dout)  # BUG: no return  # noqa: F841


# -- a constructor that takes everything by position -----------------------------------------------------------------
class MaxPool2dLayer:
    """A from-scratch project's pool: MaxPool2dLayer(PH, PW, PS, PP), every argument required."""

    def __init__(self, PH, PW, PS, PP):
        self.PH, self.PW, self.PS, self.PP = PH, PW, PS, PP

    def forward(self, x):
        self.x_shape = x.shape
        self.x_pad = pad4(x, self.PP, -np.inf)
        return pool_loops(self.x_pad, self.PH, self.PW, self.PS)

    def backward(self, dout):
        dx_pad = pool_loops_backward(dout, self.x_pad, self.PH, self.PW, self.PS)
        P, (H, W) = self.PP, self.x_shape[2:]
        return dx_pad[:, :, P:P + H, P:P + W]


# -- function pairs ------------------------------------------------------------------------------------------------
def conv_forward(X, W, b, stride=1, padding=1):
    """A from-scratch pair with the geometry as arguments of its own: right."""
    return conv_loops(pad4(X, padding), W, b, stride), (X, W, stride, padding)


def conv_backward(dout, cache):
    return conv_backward_cropped(dout, *cache)


def max_pool_forward(x, pool_h, pool_w, stride):
    """A pool pair taking the window and stride as arguments, and no pad: right."""
    return pool_loops(x, pool_h, pool_w, stride), (x, pool_h, pool_w, stride)


def max_pool_backward(dout, cache):
    x, pool_h, pool_w, stride = cache
    return pool_loops_backward(dout, x, pool_h, pool_w, stride)


def conv_forward_unpad_slice(x, w, b, conv_param):
    """cs231n naive conv whose backward strips the padding with [pad:-pad]."""
    S, P = conv_param["stride"], conv_param["pad"]
    return conv_loops(pad4(x, P), w, b, S), (x, w, b, conv_param)


def conv_backward_unpad_slice(dout, cache):
    x, w, b, conv_param = cache
    S, P = conv_param["stride"], conv_param["pad"]
    dx_pad, dw, db = conv_loops_backward(dout, pad4(x, P), w, S)
    dx = dx_pad[:, :, P:-P, P:-P]  # BUG: empty when P is 0; dx_pad[:, :, P:P + H, P:P + W]
    return dx, dw, db


def conv_forward_strides(x, w, b, conv_param):
    """cs231n's fast layer style: refuses inputs the stride does not divide, right otherwise."""
    S, P = conv_param["stride"], conv_param["pad"]
    F, C, HH, WW = w.shape
    H, W = x.shape[2:]
    assert (W + 2 * P - WW) % S == 0, "width does not work"
    assert (H + 2 * P - HH) % S == 0, "height does not work"
    return conv_loops(pad4(x, P), w, b, S), (x, w, b, conv_param)


def conv_backward_strides(dout, cache):
    x, w, b, conv_param = cache
    return conv_backward_cropped(dout, x, w, conv_param["stride"], conv_param["pad"])


# -- backward functions that take no cache -----------------------------------------------------------------------
def conv_forward_hparams(x, w, b, conv_param):
    """Returns the output alone: its backward takes what the forward was given, by the deeplearning.ai
    notebook's names (dZ, A_prev, W, b, hparameters), in NCHW: right."""
    return conv_loops(pad4(x, conv_param["pad"]), w, b, conv_param["stride"])


def conv_backward_hparams(dZ, A_prev, W, b, hparameters):
    return conv_backward_cropped(dZ, A_prev, W, hparameters["stride"], hparameters["pad"])


def conv_forward_hparams_unpad(x, w, b, conv_param):
    """As conv_forward_hparams, but its backward strips the padding with [pad:-pad]."""
    return conv_forward_hparams(x, w, b, conv_param)


def conv_backward_hparams_unpad(dZ, A_prev, W, b, hparameters):
    S, P = hparameters["stride"], hparameters["pad"]
    dx_pad, dW, db = conv_loops_backward(dZ, pad4(A_prev, P), W, S)
    return dx_pad[:, :, P:-P, P:-P], dW, db  # BUG: empty when P is 0


_saved = {}  # what conv_forward_global left for its backward


def conv_forward_global(x, w, b, conv_param):
    """Keeps what its backward needs in a module global, as notebook code does; the backward takes dZ alone:
    right."""
    _saved.update(x=x, w=w, conv_param=conv_param)
    return conv_forward_hparams(x, w, b, conv_param)


def conv_backward_global(dZ):
    return conv_backward_cropped(dZ, _saved["x"], _saved["w"], _saved["conv_param"]["stride"],
                                 _saved["conv_param"]["pad"])


def conv_forward_global_mean(x, w, b, conv_param):
    """As conv_forward_global, but its backward averages db over the batch."""
    return conv_forward_global(x, w, b, conv_param)


def conv_backward_global_mean(dZ):
    dx, dW, db = conv_backward_global(dZ)
    return dx, dW, db / dZ.shape[0]  # BUG: a sum over the batch, not a mean


# -- layers written for part of the space, which say so ---------------------------------------------------------------
class ConvSquareKernels(ConvLoops):
    """A class that asserts a square kernel, as code written for 3x3 and 5x5 filters does: right where it accepts."""

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        assert FH == FW, "square kernels only"
        return super().forward(x)


class ConvSquareKernelsDxBug(ConvSquareKernels):
    """Square kernels only, and dX spreads each output's gradient with stride 1 whatever the stride: wrong on the
    part it accepts too."""

    def backward(self, dout):
        super().backward(dout)  # dW and db
        dx_pad, _, _ = conv_loops_backward(dout, pad4(self.x, self.pad), self.W, 1)  # BUG: the stride
        H, W = self.x.shape[2:]
        return dx_pad[:, :, self.pad:self.pad + H, self.pad:self.pad + W]


class ConvStrideOne(ConvLoops):
    """A class that implements stride 1 only and refuses others when it is built: right where it accepts."""

    def __init__(self, W, b, stride=1, pad=0):
        if stride != 1:
            raise ValueError(f"only stride 1 is implemented, got {stride}")
        super().__init__(W, b, stride, pad)


class ConvValidStrideOne(ConvLoops):
    """A 'valid' convolution: no padding and stride 1, asserted at construction: right where it accepts."""

    def __init__(self, W, b, stride=1, pad=0):
        assert pad == 0 and stride == 1, "valid convolution with stride 1 only"
        super().__init__(W, b, stride, pad)


class ConvNoDilation(ConvLoops):
    """Takes a dilation, as PyTorch's signature does, but implements only 1: right where it accepts."""

    def __init__(self, W, b, stride=1, pad=0, dilation=1):
        if dilation != 1:
            raise NotImplementedError("dilation is not supported")
        super().__init__(W, b, stride, pad)


class ConvSquareInputs(ConvLoops):
    """Written for square images, and asserts them: right where it accepts."""

    def forward(self, x):
        N, C, H, W = x.shape
        assert H == W, "square inputs only"
        return super().forward(x)


class ConvRefusesAtRandom(ConvLoops):
    """Refuses about half of its inputs, by a bit of their values that no geometry decides: a refusal no rule
    describes (and the same every run, unlike a random generator's)."""

    def forward(self, x):
        if int(np.abs(x).sum() * 1024) % 2:
            raise ValueError("not today")
        return super().forward(x)


def conv_forward_no_pad(x, w, b, conv_param):
    """A cs231n-style pair that leaves padding unimplemented and says so: right where it accepts."""
    if conv_param["pad"] != 0:
        raise NotImplementedError("padding is not implemented")
    return conv_loops(x, w, b, conv_param["stride"]), (x, w, b, conv_param)


def conv_backward_no_pad(dout, cache):
    x, w, b, conv_param = cache
    return conv_backward_cropped(dout, x, w, conv_param["stride"], 0)


# -- a forward that reads past the end of x ---------------------------------------------------------------------------
def strided_windows(a, KH, KW, S, OH, OW):
    """Every window of ``a`` as a view (N, C, OH, OW, KH, KW), as from-scratch projects build im2col."""
    sN, sC, sH, sW = a.strides
    return np.lib.stride_tricks.as_strided(a, a.shape[:2] + (OH, OW, KH, KW), (sN, sC, sH * S, sW * S, sH, sW))


class ConvStridedUnpadded(ConvLoops):
    """An as_strided conv that sizes its windows for the padded input but views x itself: with pad > 0 the last
    windows run past the end of x, into whatever memory follows it."""

    def forward(self, x):
        self.x = x
        F, C, KH, KW = self.W.shape
        S, P = self.stride, self.pad
        OH, OW = (x.shape[2] + 2 * P - KH) // S + 1, (x.shape[3] + 2 * P - KW) // S + 1
        windows = strided_windows(x, KH, KW, S, OH, OW)  # BUG: pad4(x, P), not x
        return np.einsum("ncijhw,fchw->nfij", windows, self.W) + self.b[None, :, None, None]


# -- a NumPy that refuses float() of an array -------------------------------------------------------------------------
def conv_single_step(a_slice, W, b):
    """deeplearning.ai's one window: a number, with b an array of one element."""
    return np.sum(a_slice * W) + float(b)  # BUG on NumPy >= 2.3: b has shape (1,); float(b.item())


class ConvFloatOfArray(ConvLoops):
    """A loop conv computing each output with conv_single_step, handing it b[f:f + 1]."""

    def forward(self, x):
        self.x = x
        x_pad = pad4(x, self.pad)
        F, C, KH, KW = self.W.shape
        S = self.stride
        OH, OW = (x_pad.shape[2] - KH) // S + 1, (x_pad.shape[3] - KW) // S + 1
        out = np.zeros((x.shape[0], F, OH, OW))
        for n in range(x.shape[0]):
            for f in range(F):
                for i in range(OH):
                    for j in range(OW):
                        window = x_pad[n, :, i * S:i * S + KH, j * S:j * S + KW]
                        out[n, f, i, j] = conv_single_step(window, self.W[f], self.b[f:f + 1])
        return out
