"""Window geometry shared by convolution and pooling.

A layer slides a window of ``size`` taps over the zero-padded input.  Output
position ``(oh, ow)`` reads the padded input at

    row = oh * stride_h + s * dilation_h,   s = 0 .. size_h - 1
    col = ow * stride_w + t * dilation_w,   t = 0 .. size_w - 1

so the window spans ``extent = dilation * (size - 1) + 1`` rows (and columns).
Everything here is about that one picture; the layers do the arithmetic.
"""
from dataclasses import dataclass
from numbers import Integral

import numpy as np


def as_int(value, name, minimum):
    """Return ``value`` as an int of at least ``minimum``; bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def as_pair(value, name, minimum):
    """Return ``value`` as an ``(h, w)`` pair of ints, each at least ``minimum``.

    ``value`` is an int (used for both axes) or a pair of ints.
    """
    pair = (value, value) if isinstance(value, Integral) else value
    try:
        h, w = pair
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}") from None
    if isinstance(h, bool) or isinstance(w, bool) or not isinstance(h, Integral) or not isinstance(w, Integral):
        raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
    if min(h, w) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(h), int(w)


@dataclass(frozen=True)
class Window:
    """Where each output's window sits in the padded input (all fields are (h, w) pairs)."""

    size: tuple
    stride: tuple
    pad: tuple
    dilation: tuple = (1, 1)

    @classmethod
    def of(cls, size, stride, pad, dilation=1, *, size_name="kernel"):
        """Validate user-facing arguments (ints or pairs) and build a Window."""
        return cls(
            as_pair(size, size_name, 1),
            as_pair(stride, "stride", 1),
            as_pair(pad, "pad", 0),
            as_pair(dilation, "dilation", 1),
        )

    def require_pool_padding(self):
        """Pools: refuse pad > half the window, where a window could hold only padding and nothing to pool."""
        for p, k in zip(self.pad, self.size):
            if 2 * p > k:
                raise ValueError(f"pad must be at most half the pool size, got pad {self.pad} with pool size "
                                 f"{self.size}; a window made only of padding has no input to pool")
        return self

    @property
    def extent(self):
        """Rows and columns one window spans: dilation * (size - 1) + 1."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.size, self.dilation))

    def output_shape(self, height, width):
        """(OH, OW) = floor((H + 2*pad - extent) / stride) + 1, per axis.

        Raises ValueError when the window does not fit in the padded input.
        """
        out = []
        for axis, n, p, e, s in zip(("height", "width"), (height, width), self.pad, self.extent, self.stride):
            if n + 2 * p < e:
                raise ValueError(
                    f"the window spans {e} along {axis} but the padded input has only "
                    f"{n} + 2*{p} = {n + 2 * p}; use a larger input, more padding or a smaller window"
                )
            out.append((n + 2 * p - e) // s + 1)
        return tuple(out)

    def pad_input(self, x, value=0.0):
        """A new array: ``x`` with its last two axes padded by ``pad`` on every side with ``value``."""
        (ph, pw), (h, w) = self.pad, x.shape[-2:]
        padded = np.full(x.shape[:-2] + (h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
        padded[..., ph:ph + h, pw:pw + w] = x
        return padded

    def unpad(self, x_padded):
        """Strip the padding again: the inverse of ``pad_input``."""
        (ph, pw) = self.pad
        h, w = x_padded.shape[-2:]
        return x_padded[..., ph:h - ph, pw:w - pw]

    def window_at(self, oh, ow):
        """Slices of the padded input read by output position (oh, ow): a (size_h, size_w) block."""
        (sh, sw), (dh, dw), (eh, ew) = self.stride, self.dilation, self.extent
        return slice(oh * sh, oh * sh + eh, dh), slice(ow * sw, ow * sw + ew, dw)

    def tap_slices(self, out_shape):
        """For each tap (s, t), the slices of the padded input it reads across all outputs.

        Yields ``(s, t), (rows, cols)``; ``x_padded[..., rows, cols]`` has shape (..., OH, OW).
        """
        (oh, ow), (sh, sw), (dh, dw) = out_shape, self.stride, self.dilation
        for s in range(self.size[0]):
            for t in range(self.size[1]):
                rows = slice(s * dh, s * dh + sh * (oh - 1) + 1, sh)
                cols = slice(t * dw, t * dw + sw * (ow - 1) + 1, sw)
                yield (s, t), (rows, cols)

    def gather(self, x_padded, out_shape):
        """Copy every window out of ``x_padded`` (..., Hp, Wp) into (KH, KW, ..., OH, OW).

        Element [s, t, ..., oh, ow] is x_padded[..., oh*stride_h + s*dilation_h,
        ow*stride_w + t*dilation_w]: one (..., OH, OW) slab per tap, which is
        im2col with the taps in front.
        """
        gathered = np.empty(self.size + x_padded.shape[:-2] + tuple(out_shape), dtype=x_padded.dtype)
        for (s, t), (rows, cols) in self.tap_slices(out_shape):
            gathered[s, t] = x_padded[..., rows, cols]
        return gathered

    def scatter_add(self, dx_padded, per_tap):
        """Add each tap's slab back where ``gather`` read it (col2im): the adjoint of ``gather``.

        ``per_tap`` has shape (KH, KW, ..., OH, OW).  Where windows overlap, the
        contributions add up.  Returns ``dx_padded``, updated in place.
        """
        for (s, t), (rows, cols) in self.tap_slices(per_tap.shape[-2:]):
            dx_padded[..., rows, cols] += per_tap[s, t]
        return dx_padded
