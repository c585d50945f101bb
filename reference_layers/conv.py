"""Conv2d in three independently derived formulations.

All three follow the "Deep Learning from Scratch" convention: NCHW arrays,
``W`` of shape (F, C, KH, KW), ``b`` of shape (F,), ``forward(x) -> out``,
``backward(dout) -> dx`` with the parameter gradients left in ``dW`` and ``db``.
With stride S, dilation D and zero padding P, the forward pass is

    out[n, f, i, j] = sum_c sum_s sum_t x_pad[n, c, i*S + s*D, j*S + t*D] * W[f, c, s, t] + b[f]

(the seed's a[i,j,m] = sum_k sum_s sum_t x[i+s, j+t, k] * w[s,t,k,m] + b[m]
with strides and dilation written out), and its gradients are

    dW[f, c, s, t] = sum_n sum_i sum_j dout[n, f, i, j] * x_pad[n, c, i*S + s*D, j*S + t*D]
    db[f]          = sum_n sum_i sum_j dout[n, f, i, j]
    dx_pad[n, c, p, q] = sum of dout[n, f, i, j] * W[f, c, s, t] over every (f, i, j, s, t)
                         with i*S + s*D = p and j*S + t*D = q.
"""
import numpy as np

from .geometry import Window
from .validation import check_array, check_shape


class _Conv2d:
    """What every formulation shares: the arguments, their checks and the output geometry."""

    def __init__(self, W, b, stride=1, pad=0, dilation=1):
        check_array("W", W, "FCHW")
        check_array("b", b, "F")
        check_shape("b", b, W.shape[:1], "one bias per filter of W")
        # Held by reference, not copied: an optimizer's in-place update of
        # layer.W is what the next forward must use.
        self.W = W
        self.b = b
        self.window = Window.of(W.shape[2:], stride, pad, dilation)
        self.dW = None
        self.db = None
        self._out_shape = None

    def _start_forward(self, x):
        """Check x against W and return the output's (OH, OW)."""
        check_array("x", x, "NCHW")
        if x.shape[1] != self.W.shape[1]:
            raise ValueError(
                f"x has {x.shape[1]} channels but W of shape {self.W.shape} (F, C, KH, KW) "
                f"expects {self.W.shape[1]}"
            )
        self._out_shape = (x.shape[0], self.W.shape[0]) + self.window.output_shape(*x.shape[2:])
        return self._out_shape[2:]

    def _check_dout(self, dout):
        if self._out_shape is None:
            raise RuntimeError("backward called before forward; call forward(x) first")
        check_array("dout", dout, "NFHW")
        check_shape("dout", dout, self._out_shape, "the shape forward returned")


class Conv2dIm2col(_Conv2d):
    """Vectorized: copy every window into a column (im2col), then one matrix product.

    ``cols`` has one row per (tap s, tap t, channel c) and one column per output
    position (n, i, j), so the whole layer is three matrix products:

        out   = W_rows @ cols + b          W_rows: (F, KH*KW*C), cols: (KH*KW*C, N*OH*OW)
        dW    = dout_rows @ cols.T         dout_rows: (F, N*OH*OW)
        dcols = W_rows.T @ dout_rows       and col2im adds each column back to its window: dx.
    """

    def forward(self, x):
        out_h, out_w = self._start_forward(x)
        by_channel = self.window.pad_input(x).transpose(1, 0, 2, 3)  # (C, N, Hp, Wp)
        self._padded_shape = by_channel.shape
        self._cols = self.window.gather(by_channel, (out_h, out_w)).reshape(-1, x.shape[0] * out_h * out_w)
        out = self._weight_rows() @ self._cols + self.b[:, None]
        return out.reshape(-1, x.shape[0], out_h, out_w).transpose(1, 0, 2, 3)

    def backward(self, dout):
        self._check_dout(dout)
        n_filters, channels, kh, kw = self.W.shape
        dout_rows = dout.transpose(1, 0, 2, 3).reshape(n_filters, -1)
        self.db = dout_rows.sum(axis=1)
        self.dW = (dout_rows @ self._cols.T).reshape(n_filters, kh, kw, channels).transpose(0, 3, 1, 2)
        dcols = (self._weight_rows().T @ dout_rows).reshape((kh, kw, channels) + dout.shape[:1] + dout.shape[2:])
        dx_padded = self.window.scatter_add(np.zeros(self._padded_shape, dcols.dtype), dcols)
        return self.window.unpad(dx_padded).transpose(1, 0, 2, 3)

    def _weight_rows(self):
        """W as (F, KH*KW*C), its columns ordered (s, t, c) like the rows of ``cols``."""
        return self.W.transpose(0, 2, 3, 1).reshape(self.W.shape[0], -1)


class Conv2dLoops(_Conv2d):
    """Direct: one loop over output positions, each reading the formula off its window.

    For output (i, j) the window is the (KH, KW) block of x_pad starting at
    (i*S, j*S) with taps D apart.  Backward runs the same loop with the chain
    rule: the output's gradient flows into that window (dx) and into W (dW).
    """

    def forward(self, x):
        out_h, out_w = self._start_forward(x)
        self._x_padded = self.window.pad_input(x)
        out = np.empty(self._out_shape, np.result_type(x, self.W))
        for i in range(out_h):
            for j in range(out_w):
                rows, cols = self.window.window_at(i, j)
                patch = self._x_padded[:, :, rows, cols]
                out[:, :, i, j] = np.einsum("ncst,fcst->nf", patch, self.W) + self.b
        return out

    def backward(self, dout):
        self._check_dout(dout)
        self.dW = np.zeros(self.W.shape, np.result_type(dout, self._x_padded))
        self.db = dout.sum(axis=(0, 2, 3))
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                rows, cols = self.window.window_at(i, j)
                self.dW += np.einsum("nf,ncst->fcst", dout[:, :, i, j], self._x_padded[:, :, rows, cols])
        return self._input_gradient(dout)

    def _input_gradient(self, dout):
        dx_padded = np.zeros(self._x_padded.shape, np.result_type(dout, self.W))
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                rows, cols = self.window.window_at(i, j)
                dx_padded[:, :, rows, cols] += np.einsum("nf,fcst->ncst", dout[:, :, i, j], self.W)
        return self.window.unpad(dx_padded)


class Conv2dRotatedKernel(Conv2dLoops):
    """Forward and dW as Conv2dLoops; dX from the seed's third formula.

        dL/dx[i, j, k] = sum_m sum_s sum_t dL/da[i-s, j-t, m] * w[s, t, k, m]

    read as a correlation: dx is the stride-1 convolution of the upstream
    gradient with the kernel rotated by 180 degrees (channels and filters
    swapped).  With stride S, dout is first spread out S apart (zeros between)
    so that index i-s lands on the output that read row i; with dilation D the
    rotated kernel keeps its taps D apart.  Padding dout by the window extent
    minus one makes the correlation "full": every input row gets every output
    that read it.
    """

    def _input_gradient(self, dout):
        n, n_filters, out_h, out_w = dout.shape
        (sh, sw), (eh, ew) = self.window.stride, self.window.extent
        padded_h, padded_w = self._x_padded.shape[2:]
        spread = np.zeros((n, n_filters, (out_h - 1) * sh + 1, (out_w - 1) * sw + 1), dout.dtype)
        spread[:, :, ::sh, ::sw] = dout
        full = np.pad(spread, ((0, 0), (0, 0),
                               (eh - 1, padded_h - spread.shape[2]),
                               (ew - 1, padded_w - spread.shape[3])))
        rotated = self.W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, F, KH, KW)
        correlate = Conv2dLoops(rotated, np.zeros(rotated.shape[0]), dilation=self.window.dilation)
        return self.window.unpad(correlate.forward(full))
