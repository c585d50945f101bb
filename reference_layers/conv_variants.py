"""Global average pooling and three variants of convolution - transposed, dilated, grouped - two formulations each.

Arrays are NCHW as in conv.py, and each layer is a class as "Deep Learning
from Scratch" writes its layers: the constructor takes the parameters, then
the geometry (stride S, zero padding P, and the variant's own number),
``forward(x) -> out``, ``backward(dout) -> dx``, the parameters' gradients
left in ``dw`` and ``db``.  x_pad is x with P zeros on each side of H and W.

Global average pooling, x (N, C, H, W) -> out (N, C):

    out[n, c] = sum_ij x[n, c, i, j] / (H W)            dx[n, c, i, j] = dout[n, c] / (H W)

Transposed convolution, w (C, F, KH, KW): each input value stamps its
kernel onto the output, S apart, and P rows and columns are cropped off
each side of the sum:

    full[n, f, i S + s, j S + t] += x[n, c, i, j] w[c, f, s, t]   over every n, c, i, j, f, s, t
    out[n, f, p, q] = full[n, f, p + P, q + P] + b[f]   (N, F, (H - 1) S - 2 P + KH, (W - 1) S - 2 P + KW)
    dx[n, c, i, j] = sum_fst dfull[n, f, i S + s, j S + t] w[c, f, s, t]
    dw[c, f, s, t] = sum_nij x[n, c, i, j] dfull[n, f, i S + s, j S + t]

with dfull, the gradient of full, dout with P zeros around it.

Dilated convolution (dilation D), w (F, C, KH, KW): the kernel's taps read x D apart:

    out[n, f, i, j] = sum_cst x_pad[n, c, i S + s D, j S + t D] w[f, c, s, t] + b[f]
    dx_pad[n, c, i S + s D, j S + t D] += dout[n, f, i, j] w[f, c, s, t]   over every n, f, i, j, c, s, t
    dw[f, c, s, t] = sum_nij dout[n, f, i, j] x_pad[n, c, i S + s D, j S + t D]

Grouped convolution (G groups), x (N, G C, H, W), w (G F, C, KH, KW): the
F filters of group g read the C input channels of group g alone:

    out[n, g F + f, i, j] = sum_cst x_pad[n, g C + c, i S + s, j S + t] w[g F + f, c, s, t] + b[g F + f]
    dx_pad[n, g C + c, i S + s, j S + t] += dout[n, g F + f, i, j] w[g F + f, c, s, t]   over every index
    dw[g F + f, c, s, t] = sum_nij dout[n, g F + f, i, j] x_pad[n, g C + c, i S + s, j S + t]

and every convolution's db[f] = sum_nij dout[n, f, i, j].

What makes the two formulations of each independent: the first
(``GlobalAvgPoolMean``, ``...AsConv``) is vectorized: numpy's mean and
broadcasting for the pooling, and for each convolution the plain one of
conv.py's ``Conv2dIm2col`` (im2col and matrix products) of a rearranged
input or kernel, its gradients read back through the same rearrangement:

    transposed  the stride-1 conv of x spread out S apart (S - 1 zeros between its values) and padded
                by KH - 1, KW - 1, with w rotated by 180 degrees and its first two axes swapped,
                (F, C, KH, KW), then cropped by P; dx is the gradient of the spread-out x at x's values,
                dw the conv's dw rotated and swapped back
    dilated     the conv (stride S, pad P) with the kernel spread out D apart; dw is its dw at the taps
    grouped     the conv (stride S, pad P) with a block-diagonal kernel (G F, G C, KH, KW), zero where a
                filter meets another group's channel; dw is its diagonal blocks

The second (``...Loops``) writes the sums above as they read, one loop
over every index, and uses none of those identities.
"""
import numpy as np

from .conv import Conv2dIm2col


class GlobalAvgPoolMean:
    def forward(self, x):
        self.x_shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dout):
        height, width = self.x_shape[2:]
        return np.broadcast_to(dout[:, :, None, None] / (height * width), self.x_shape).copy()


class GlobalAvgPoolLoops:
    def forward(self, x):
        self.x_shape = x.shape
        height, width = x.shape[2:]
        out = np.zeros(x.shape[:2])
        for n, c, i, j in np.ndindex(x.shape):
            out[n, c] += x[n, c, i, j]
        return out / (height * width)

    def backward(self, dout):
        height, width = self.x_shape[2:]
        dx = np.zeros(self.x_shape)
        for n, c, i, j in np.ndindex(self.x_shape):
            dx[n, c, i, j] = dout[n, c] / (height * width)
        return dx


def spread_out(a, step):
    """``a`` with its last two axes spread out ``step`` apart: step - 1 zeros between consecutive values."""
    height, width = a.shape[-2:]
    spread = np.zeros(a.shape[:-2] + ((height - 1) * step + 1, (width - 1) * step + 1))
    spread[..., ::step, ::step] = a
    return spread


def padded(a, pad_h, pad_w):
    """``a`` (N, C, H, W) with pad_h zeros above and below, pad_w left and right."""
    return np.pad(a, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))


def cropped(a, pad_h, pad_w):
    """``a`` (N, C, H, W) with pad_h rows cut off its top and bottom, pad_w columns off each side: padded's inverse."""
    height, width = a.shape[2:]
    return a[:, :, pad_h:height - pad_h, pad_w:width - pad_w]


def outputs(padded_size, kernel, stride, dilation=1):
    """How many windows of ``kernel`` taps, dilation apart, fit along an axis of ``padded_size``, stride apart."""
    return (padded_size - dilation * (kernel - 1) - 1) // stride + 1


def rotated(kernel):
    """``kernel`` (A, B, KH, KW) rotated by 180 degrees, its first two axes swapped: (B, A, KH, KW)."""
    return kernel[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)


def block_diagonal(w, groups):
    """A grouped kernel (G F, C, KH, KW) as a plain one (G F, G C, KH, KW): group g's filters at its channels."""
    filters, channels = len(w) // groups, w.shape[1]
    dense = np.zeros((len(w), groups * channels) + w.shape[2:])
    for g in range(groups):
        dense[g * filters:(g + 1) * filters, g * channels:(g + 1) * channels] = w[g * filters:(g + 1) * filters]
    return dense


def diagonal_blocks(dense, groups):
    """The grouped kernel (G F, C, KH, KW) that ``block_diagonal`` made ``dense``: its inverse."""
    filters, channels = len(dense) // groups, dense.shape[1] // groups
    return np.concatenate([dense[g * filters:(g + 1) * filters, g * channels:(g + 1) * channels]
                           for g in range(groups)])


class ConvTransposeAsConv:
    def __init__(self, w, b, stride=2, pad=0):
        self.w, self.b, self.stride, self.pad = w, b, stride, pad

    def forward(self, x):
        kh, kw = self.w.shape[2:]
        self.conv = Conv2dIm2col(rotated(self.w), self.b)
        out = self.conv.forward(padded(spread_out(x, self.stride), kh - 1, kw - 1))
        return cropped(out, self.pad, self.pad)

    def backward(self, dout):
        kh, kw = self.w.shape[2:]
        dspread = cropped(self.conv.backward(padded(dout, self.pad, self.pad)), kh - 1, kw - 1)
        self.dw, self.db = rotated(self.conv.dW), self.conv.db
        return dspread[:, :, ::self.stride, ::self.stride]


class ConvTransposeLoops:
    def __init__(self, w, b, stride=2, pad=0):
        self.w, self.b, self.stride, self.pad = w, b, stride, pad

    def forward(self, x):
        self.x = x
        (height, width), (filters, kh, kw), stride = x.shape[2:], self.w.shape[1:], self.stride
        full = np.zeros((len(x), filters, (height - 1) * stride + kh, (width - 1) * stride + kw))
        for n, c, i, j, f, s, t in np.ndindex(x.shape + self.w.shape[1:]):
            full[n, f, i * stride + s, j * stride + t] += x[n, c, i, j] * self.w[c, f, s, t]
        return cropped(full, self.pad, self.pad) + self.b[:, None, None]

    def backward(self, dout):
        x, w, stride = self.x, self.w, self.stride
        dfull = padded(dout, self.pad, self.pad)
        dx, self.dw = np.zeros(x.shape), np.zeros(w.shape)
        for n, c, i, j, f, s, t in np.ndindex(x.shape + w.shape[1:]):
            p, q = i * stride + s, j * stride + t
            dx[n, c, i, j] += dfull[n, f, p, q] * w[c, f, s, t]
            self.dw[c, f, s, t] += x[n, c, i, j] * dfull[n, f, p, q]
        self.db = dout.sum(axis=(0, 2, 3))
        return dx


class ConvDilatedAsConv:
    def __init__(self, w, b, stride=1, pad=0, dilation=2):
        self.w, self.b, self.stride, self.pad, self.dilation = w, b, stride, pad, dilation

    def forward(self, x):
        self.conv = Conv2dIm2col(spread_out(self.w, self.dilation), self.b, self.stride, self.pad)
        return self.conv.forward(x)

    def backward(self, dout):
        dx = self.conv.backward(dout)
        self.dw, self.db = self.conv.dW[:, :, ::self.dilation, ::self.dilation], self.conv.db
        return dx


class ConvDilatedLoops:
    def __init__(self, w, b, stride=1, pad=0, dilation=2):
        self.w, self.b, self.stride, self.pad, self.dilation = w, b, stride, pad, dilation

    def forward(self, x):
        self.x_pad = x_pad = padded(x, self.pad, self.pad)
        w, stride, dilation = self.w, self.stride, self.dilation
        (height, width), (kh, kw) = x_pad.shape[2:], w.shape[2:]
        out = np.zeros((len(x), len(w), outputs(height, kh, stride, dilation), outputs(width, kw, stride, dilation)))
        for n, f, i, j, c, s, t in np.ndindex(out.shape + w.shape[1:]):
            out[n, f, i, j] += x_pad[n, c, i * stride + s * dilation, j * stride + t * dilation] * w[f, c, s, t]
        return out + self.b[:, None, None]

    def backward(self, dout):
        x_pad, w, stride, dilation = self.x_pad, self.w, self.stride, self.dilation
        dx_pad, self.dw = np.zeros(x_pad.shape), np.zeros(w.shape)
        for n, f, i, j, c, s, t in np.ndindex(dout.shape + w.shape[1:]):
            p, q = i * stride + s * dilation, j * stride + t * dilation
            dx_pad[n, c, p, q] += dout[n, f, i, j] * w[f, c, s, t]
            self.dw[f, c, s, t] += dout[n, f, i, j] * x_pad[n, c, p, q]
        self.db = dout.sum(axis=(0, 2, 3))
        return cropped(dx_pad, self.pad, self.pad)


class ConvGroupedAsConv:
    def __init__(self, w, b, stride=1, pad=0, groups=2):
        self.w, self.b, self.stride, self.pad, self.groups = w, b, stride, pad, groups

    def forward(self, x):
        self.conv = Conv2dIm2col(block_diagonal(self.w, self.groups), self.b, self.stride, self.pad)
        return self.conv.forward(x)

    def backward(self, dout):
        dx = self.conv.backward(dout)
        self.dw, self.db = diagonal_blocks(self.conv.dW, self.groups), self.conv.db
        return dx


class ConvGroupedLoops:
    def __init__(self, w, b, stride=1, pad=0, groups=2):
        self.w, self.b, self.stride, self.pad, self.groups = w, b, stride, pad, groups

    def forward(self, x):
        self.x_pad = x_pad = padded(x, self.pad, self.pad)
        w, stride, (filters, channels) = self.w, self.stride, self._group_sizes()
        (height, width), (kh, kw) = x_pad.shape[2:], w.shape[2:]
        out = np.zeros((len(x), len(w), outputs(height, kh, stride), outputs(width, kw, stride)))
        for n, g, f, i, j, c, s, t in np.ndindex(self._index_ranges(out.shape)):
            out_channel, in_channel = g * filters + f, g * channels + c
            out[n, out_channel, i, j] += x_pad[n, in_channel, i * stride + s, j * stride + t] * w[out_channel, c, s, t]
        return out + self.b[:, None, None]

    def backward(self, dout):
        x_pad, w, stride, (filters, channels) = self.x_pad, self.w, self.stride, self._group_sizes()
        dx_pad, self.dw = np.zeros(x_pad.shape), np.zeros(w.shape)
        for n, g, f, i, j, c, s, t in np.ndindex(self._index_ranges(dout.shape)):
            out_channel, in_channel, p, q = g * filters + f, g * channels + c, i * stride + s, j * stride + t
            dx_pad[n, in_channel, p, q] += dout[n, out_channel, i, j] * w[out_channel, c, s, t]
            self.dw[out_channel, c, s, t] += dout[n, out_channel, i, j] * x_pad[n, in_channel, p, q]
        self.db = dout.sum(axis=(0, 2, 3))
        return cropped(dx_pad, self.pad, self.pad)

    def _group_sizes(self):
        """(F, C): a group's filters and input channels."""
        return len(self.w) // self.groups, self.w.shape[1]

    def _index_ranges(self, out_shape):
        """How far each of n, g, f, i, j, c, s, t runs: the output's (N, G F, OH, OW) with G F as (G, F), then w's
        (C, KH, KW)."""
        n, _, out_h, out_w = out_shape
        return (n, self.groups, self._group_sizes()[0], out_h, out_w) + self.w.shape[1:]
