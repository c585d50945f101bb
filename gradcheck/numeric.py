"""Numerical vector-Jacobian products of a layer's forward, by central differences.

For an input (or parameter) theta, the layer's forward f and an upstream
gradient dout, the quantity to estimate is the gradient of the scalar

    L(theta) = sum(f(theta) * dout)

which is exactly what a correct backward returns.  Three strategies:

dense
    One perturbation per element: L(theta + h e_i) - L(theta - h e_i).  The
    definition, 2 forward evaluations per element.
structured
    Perturb at once every element whose outputs never overlap (their
    "footprints" are disjoint), then attribute each output change to the one
    perturbed element that can cause it.  The footprints come from the
    layer's window geometry, so the number of forward evaluations depends on
    the kernel, not on the input size: 2*C*KH*KW for a conv's x and W, 2 for
    b, 2*KH*KW for a pool's x.  Exact for every element; valid only while the
    implementation's forward has the reference's dependency pattern.
projection
    Random directions u: (L(theta + h u) - L(theta - h u)) / 2h must equal
    grad . u.  Two evaluations per direction, a screen that cannot localize.

The layers checked here are piecewise linear, so a central difference is
exact up to rounding whatever the step; the step only has to stay below the
gaps between max-pool values.  Each estimate also keeps both one-sided
differences: where they disagree the forward has a kink (a max-pool tie), the
element is not differentiable and the comparison excludes it.
"""
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

CHUNK = 32  # groups evaluated per call, bounding memory to 2*CHUNK outputs


@dataclass(frozen=True)
class Structure:
    """Which elements are perturbed together, and how an output change maps back to them.

    ``groups`` are arrays of flat indices into theta; ``attribute(r, group)``
    takes r = (change in f) * dout and returns the derivative of every element
    in ``group`` (an array of len(group)).
    """

    method: str
    groups: list
    attribute: callable


@dataclass(frozen=True, eq=False)
class NumericGradient:
    """One-sided difference quotients; their mean is the central difference."""

    forward_diff: np.ndarray  # (L(theta + h P) - L(theta)) / h, per element
    backward_diff: np.ndarray  # (L(theta) - L(theta - h P)) / h, per element
    method: str
    evaluations: int

    @property
    def values(self):
        return (self.forward_diff + self.backward_diff) / 2


def dense(shape):
    """One element per group: the derivative is the whole sum of r."""
    return Structure("dense", [np.array([i]) for i in range(int(np.prod(shape)))],
                     lambda r, group: np.array([r.sum()]))


def structured(config, wrt):
    """Groups of elements with disjoint footprints, derived from ``config``'s window geometry.

    ``wrt`` is "x", "W" or "b".  Batch samples never share outputs; for conv's
    W and b neither do filters, and for pools neither do channels.
    """
    if wrt == "x":
        return _structured_input(config)
    shape = config.param_shapes[wrt]

    def per_filter_sum(r, group):  # W[f, ...] and b[f] reach exactly the outputs of filter f
        return np.broadcast_to(r.sum(axis=(0, 2, 3)).reshape((-1,) + (1,) * (len(shape) - 1)), shape).ravel()[group]

    index = np.arange(int(np.prod(shape))).reshape(shape)
    groups = [index[:, c, s, t] for c in range(shape[1]) for s in range(shape[2]) for t in range(shape[3])] \
        if wrt == "W" else [index]
    return Structure("structured", groups, per_filter_sum)


def _structured_input(config):
    """Colour x by (channel for conv, (row // D) % KH, (col // D) % KW).

    Two rows share a window only if they differ by s*D with 0 < |s| < KH; rows
    of one colour that are congruent mod D differ by a multiple of KH*D, and
    rows that are not never share a window.  So one colour's elements have
    disjoint footprints, and KH*KW colours (times C for conv) cover x.
    """
    window = config.window
    n, c, h, w = config.x_shape
    rows = (np.arange(h) // window.dilation[0]) % window.size[0]
    cols = (np.arange(w) // window.dilation[1]) % window.size[1]
    colour = rows[:, None] * window.size[1] + cols[None, :]
    colour = np.broadcast_to(colour, config.x_shape)
    if config.is_conv:  # channels share every output of a conv; pools keep them apart
        colour = colour + np.arange(c)[None, :, None, None] * window.size[0] * window.size[1]
    flat = colour.ravel()
    groups = [np.flatnonzero(flat == k) for k in np.unique(flat)]

    def footprint_sum(r, group):
        """For every input element, the sum of r over the outputs its windows reach."""
        if config.is_conv:
            r = r.sum(axis=1, keepdims=True)
        per_tap = np.broadcast_to(r, window.size + r.shape)
        padded = np.zeros(r.shape[:2] + tuple(s + 2 * p for s, p in zip(config.size, window.pad)))
        sums = window.unpad(window.scatter_add(padded, per_tap))
        return np.broadcast_to(sums, config.x_shape).ravel()[group]

    return Structure("structured", groups, footprint_sum)


def finite_differences(evaluate, theta, dout, structure, step):
    """Estimate d/dtheta sum(f(theta) * dout) along ``structure``.

    ``evaluate(thetas)`` returns f at each theta of a list (float64 arrays).
    Costs 1 + 2 * len(structure.groups) evaluations.
    """
    flat_theta = theta.ravel()
    forward_diff = np.zeros(theta.size)
    backward_diff = np.zeros(theta.size)
    (f0,) = evaluate([theta])
    for start in range(0, len(structure.groups), CHUNK):
        chunk = structure.groups[start:start + CHUNK]
        outputs = evaluate([_perturbed(flat_theta, group, sign * step).reshape(theta.shape)
                            for group in chunk for sign in (1, -1)])
        for group, f_plus, f_minus in zip(chunk, outputs[::2], outputs[1::2]):
            forward_diff[group] = structure.attribute((f_plus - f0) * dout, group) / step
            backward_diff[group] = structure.attribute((f0 - f_minus) * dout, group) / step
    return NumericGradient(forward_diff.reshape(theta.shape), backward_diff.reshape(theta.shape),
                           structure.method, 1 + 2 * len(structure.groups))


@dataclass(frozen=True)
class Projection:
    """A random-direction screen: numeric and analytic directional derivatives, with their scale."""

    numeric: np.ndarray  # (directions,)
    analytic: np.ndarray  # (directions,)
    scale: np.ndarray  # sum |grad * u| per direction: the size of the terms that were added up
    evaluations: int
    method: ClassVar[str] = "projection"


def project(evaluate, theta, dout, analytic_grad, step, directions, rng):
    """Compare (L(theta + h u) - L(theta - h u)) / 2h with grad . u for random Gaussian u."""
    us = [rng.standard_normal(theta.shape) for _ in range(directions)]
    outputs = evaluate([theta + sign * step * u for u in us for sign in (1, -1)])
    numeric = np.array([np.sum((f_plus - f_minus) * dout) / (2 * step)
                        for f_plus, f_minus in zip(outputs[::2], outputs[1::2])])
    analytic = np.array([np.sum(analytic_grad * u) for u in us])
    scale = np.array([np.sum(np.abs(analytic_grad * u)) for u in us])
    return Projection(numeric, analytic, scale, 2 * directions)


def _perturbed(flat, group, delta):
    out = flat.copy()
    out[group] += delta
    return out
