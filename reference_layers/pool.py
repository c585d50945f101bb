"""MaxPool2d and AvgPool2d, each in two independently derived formulations.

Both pool every channel on its own over windows of (pool_h, pool_w) taps,
``stride`` apart (by default the pool size: windows that tile the input).

    max:  out[n, c, i, j] = max over the window of x_pad[n, c, i*S + s, j*S + t]
          padding is -inf, so it never wins; backward sends each output's
          gradient to the first maximum of its window in row-major order.
    avg:  out[n, c, i, j] = mean over the window of x_pad[n, c, i*S + s, j*S + t]
          padding is zero and counts in the divisor pool_h * pool_w; backward
          spreads each output's gradient evenly over its window.

Where windows overlap (stride < pool size) the gradients add up.
"""
import numpy as np

from .geometry import Window
from .validation import check_array, check_shape


class _Pool2d:
    """What every pooling formulation shares: the arguments, their checks and the output geometry."""

    pad_value = 0.0

    def __init__(self, pool_h, pool_w, stride=None, pad=0):
        size = (pool_h, pool_w)
        self.window = Window.of(size, size if stride is None else stride, pad, size_name="pool size")
        self.window.require_pool_padding()
        self.area = self.window.size[0] * self.window.size[1]
        self._out_shape = None

    def _start_forward(self, x):
        """Check x, keep its padded copy and return the output's (OH, OW)."""
        check_array("x", x, "NCHW")
        out_h, out_w = self.window.output_shape(*x.shape[2:])
        self._x_padded = self.window.pad_input(x, self.pad_value)
        self._out_shape = x.shape[:2] + (out_h, out_w)
        return out_h, out_w

    def _check_dout(self, dout):
        if self._out_shape is None:
            raise RuntimeError("backward called before forward; call forward(x) first")
        check_array("dout", dout, "NCHW")
        check_shape("dout", dout, self._out_shape, "the shape forward returned")


class MaxPool2dIm2col(_Pool2d):
    """Vectorized: gather every window (taps in front), take the max over the taps."""

    pad_value = -np.inf

    def forward(self, x):
        out_shape = self._start_forward(x)
        taps = self.window.gather(self._x_padded, out_shape).reshape((self.area,) + self._out_shape)
        out = taps.max(axis=0)
        # Walk the taps in row-major (s, t) order; each window's first maximum
        # claims the gradient, later ties find the window already claimed.
        self._first_max = np.zeros(taps.shape, bool)
        unclaimed = np.ones(out.shape, bool)
        for k, tap in enumerate(taps):
            self._first_max[k] = (tap == out) & unclaimed
            unclaimed &= ~self._first_max[k]
        return out

    def backward(self, dout):
        self._check_dout(dout)
        per_tap = (self._first_max * dout).reshape(self.window.size + dout.shape)
        dx_padded = self.window.scatter_add(np.zeros(self._x_padded.shape, dout.dtype), per_tap)
        return self.window.unpad(dx_padded)


class MaxPool2dLoops(_Pool2d):
    """Direct: loop over output positions; each takes the max of its window."""

    pad_value = -np.inf

    def forward(self, x):
        out_h, out_w = self._start_forward(x)
        out = np.empty(self._out_shape, x.dtype)
        for i in range(out_h):
            for j in range(out_w):
                rows, cols = self.window.window_at(i, j)
                out[:, :, i, j] = self._x_padded[:, :, rows, cols].max(axis=(2, 3))
        return out

    def backward(self, dout):
        self._check_dout(dout)
        n, c = dout.shape[:2]
        dx_padded = np.zeros(self._x_padded.shape, dout.dtype)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                rows, cols = self.window.window_at(i, j)
                window = self._x_padded[:, :, rows, cols].reshape(n, c, self.area)
                first_max = np.eye(self.area)[window.argmax(axis=2)].reshape(n, c, *self.window.size)
                dx_padded[:, :, rows, cols] += first_max * dout[:, :, i, j, None, None]
        return self.window.unpad(dx_padded)


class AvgPool2dIm2col(_Pool2d):
    """Vectorized: gather every window (taps in front), average over the taps."""

    def forward(self, x):
        out_shape = self._start_forward(x)
        return self.window.gather(self._x_padded, out_shape).mean(axis=(0, 1))

    def backward(self, dout):
        self._check_dout(dout)
        per_tap = np.broadcast_to(dout / self.area, self.window.size + dout.shape)
        dx_padded = self.window.scatter_add(np.zeros(self._x_padded.shape, dout.dtype), per_tap)
        return self.window.unpad(dx_padded)


class AvgPool2dLoops(_Pool2d):
    """Direct: loop over output positions; each averages its window."""

    def forward(self, x):
        out_h, out_w = self._start_forward(x)
        out = np.empty(self._out_shape, x.dtype)
        for i in range(out_h):
            for j in range(out_w):
                rows, cols = self.window.window_at(i, j)
                out[:, :, i, j] = self._x_padded[:, :, rows, cols].sum(axis=(2, 3)) / self.area
        return out

    def backward(self, dout):
        self._check_dout(dout)
        dx_padded = np.zeros(self._x_padded.shape, dout.dtype)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                rows, cols = self.window.window_at(i, j)
                dx_padded[:, :, rows, cols] += dout[:, :, i, j, None, None] / self.area
        return self.window.unpad(dx_padded)
