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
    Random directions u (entries in [-1, 1]): (L(theta + h u) - L(theta - h u)) / 2h must equal
    grad . u.  Two evaluations per direction, a screen; when it fails,
    ``localize`` finds the disagreeing elements by group testing, in
    O(k log n) evaluations for k of n elements.

The layers checked here are piecewise linear, so a central difference is
exact up to rounding whatever the step; the step only has to stay below the
gaps between max-pool values.  Each estimate also keeps both one-sided
differences: where they disagree the forward has a kink.  Inputs are
tie-free, so a right layer has none there, and the checks count a kink as a
failure.
"""
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

CHUNK = 32  # groups evaluated per call unless the caller says otherwise


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
    """One-sided difference quotients; their mean is the central difference.

    ``noise`` is, per element, sum (|f| + magnitude of f) * |dout| / h over
    the outputs its perturbation reaches, where the magnitude is the sum of
    the absolute values of f's terms: the rounding error of f, about the
    precision's epsilon times that, propagates into the estimate this much.
    """

    forward_diff: np.ndarray  # (L(theta + h P) - L(theta)) / h, per element
    backward_diff: np.ndarray  # (L(theta) - L(theta - h P)) / h, per element
    noise: np.ndarray
    method: str
    evaluations: int

    @property
    def values(self):
        return (self.forward_diff + self.backward_diff) / 2


def dense(shape, elements=None):
    """One element per group (of every element, or of the flat indices ``elements``): the derivative is the
    whole sum of r."""
    elements = range(int(np.prod(shape))) if elements is None else elements
    return Structure("dense", [np.array([i]) for i in elements], lambda r, group: np.array([r.sum()]))


def group_count(config, wrt):
    """len(structured(config, wrt).groups), without building them: the colours of x that occur, C*KH*KW
    for W, one for b."""
    if wrt == "b":
        return 1
    if wrt == "W":
        return config.channels * config.kernel[0] * config.kernel[1]
    window = config.window
    colours = math.prod(min(k, -(-n // d)) for k, n, d in zip(window.size, config.size, window.dilation))
    return colours * (config.channels if config.is_conv else 1)


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


def finite_differences(evaluate, theta, dout, structure, step, chunk=CHUNK, out_magnitude=0.0):
    """Estimate d/dtheta sum(f(theta) * dout) along ``structure``.

    ``evaluate(thetas)`` returns f at each theta of a list (as float64
    arrays); every list starts with theta itself, so each call carries its
    own unperturbed output and rounding differences between calls cancel
    (``project`` needs none: its differences are between perturbed calls).
    Perturbations are made in theta's dtype and divided by the step each
    element really took after rounding.  ``out_magnitude`` (the sum of the
    absolute values of the terms of each output) scales ``noise``.  Costs
    len(structure.groups) / chunk calls and 2 * len(structure.groups)
    evaluations plus one per call.
    """
    flat_theta = theta.ravel()
    forward_diff, backward_diff, noise = (np.zeros(theta.size) for _ in range(3))
    evaluations = 0
    for start in range(0, len(structure.groups), chunk):
        part = structure.groups[start:start + chunk]
        moves = [_perturbed(flat_theta, group, sign * step) for group in part for sign in (1, -1)]
        f0, *outputs = evaluate([theta] + [moved.reshape(theta.shape) for moved, _ in moves])
        evaluations += 1 + len(outputs)
        for group, f_plus, f_minus, (_, up), (_, down) in zip(part, outputs[::2], outputs[1::2],
                                                              moves[::2], moves[1::2]):
            forward_diff[group] = structure.attribute((f_plus - f0) * dout, group) / up
            backward_diff[group] = structure.attribute((f0 - f_minus) * dout, group) / -down
            size = np.abs(f_plus) + np.abs(f_minus) + 2 * out_magnitude
            noise[group] = structure.attribute(size * np.abs(dout), group) / (up - down)
    return NumericGradient(*(array.reshape(theta.shape) for array in (forward_diff, backward_diff, noise)),
                           structure.method, evaluations)


@dataclass(frozen=True, eq=False)
class Projection:
    """Directional derivatives along some directions u: by finite differences and from the gradient.

    ``scale`` is sum |grad * u| per direction (the size of the terms added
    up) and ``noise`` the finite differences' as in ``NumericGradient``, from
    the outputs alone; ``agrees`` adds what the magnitudes of the output and
    of the gradient allow on top, when given them.
    """

    numeric: np.ndarray  # (directions,)
    analytic: np.ndarray  # (directions,)
    scale: np.ndarray
    noise: np.ndarray
    directions: list
    step: float
    evaluations: int
    method: ClassVar[str] = "projection"

    def agrees(self, tolerance, dout=None, out_magnitude=None, grad_magnitude=None):
        """Per direction, whether the two derivatives agree within ``tolerance``.

        Without magnitudes the bound is the strict one: agreement then holds
        with them too, so a caller may compute them only when it does not.
        """
        magnitude, noise = 0.0, self.noise
        if grad_magnitude is not None:
            magnitude = np.array([np.sum(grad_magnitude * np.abs(u)) for u in self.directions])
        if out_magnitude is not None:
            noise = noise + np.sum(out_magnitude * np.abs(dout)) / self.step
        bound = (tolerance.rtol * np.abs(self.analytic) + tolerance.atol * self.scale
                 + tolerance.slack(magnitude, noise))
        return np.abs(self.numeric - self.analytic) <= bound


def random_directions(rng, shape, count):
    """Directions with entries uniform in [-1, 1]: no element moves by more than the step, which keeps a
    max-pool window's order (its values are further apart than twice the step)."""
    return [rng.uniform(-1.0, 1.0, shape) for _ in range(count)]


def project(evaluate, theta, dout, analytic_grad, step, directions, chunk=CHUNK):
    """(L(theta + h u) - L(theta - h u)) / 2h and grad . u for each direction u (an array of theta's shape).

    The move theta + h u is rounded to theta's dtype; grad is projected on the
    move really made.
    """
    rows = {name: [] for name in ("numeric", "analytic", "scale", "noise")}
    evaluations = 0
    for start in range(0, len(directions), chunk):
        ends = [(theta + sign * step * u).astype(theta.dtype) for u in directions[start:start + chunk]
                for sign in (1, -1)]
        outputs = evaluate(ends)
        evaluations += len(outputs)
        for plus, minus, f_plus, f_minus in zip(ends[::2], ends[1::2], outputs[::2], outputs[1::2]):
            move = (plus.astype(np.float64) - minus) / (2 * step)
            rows["numeric"].append(np.sum((f_plus - f_minus) * dout) / (2 * step))
            rows["analytic"].append(np.sum(analytic_grad * move))
            rows["scale"].append(np.sum(np.abs(analytic_grad * move)))
            rows["noise"].append(np.sum((np.abs(f_plus) + np.abs(f_minus)) * np.abs(dout)) / (2 * step))
    return Projection(**{name: np.array(values) for name, values in rows.items()}, directions=list(directions),
                      step=step, evaluations=evaluations)


@dataclass(frozen=True)
class Located:
    """Elements where the gradient disagrees with finite differences, found by group testing.

    ``positions`` are flat indices, ``numeric`` the finite-difference
    derivative at each; ``complete`` is False when the search stopped at its
    limit with more disagreement left.
    """

    positions: np.ndarray
    numeric: np.ndarray
    complete: bool
    evaluations: int
    method: ClassVar[str] = "projection"


def localize(evaluate, theta, dout, analytic_grad, step, agrees, rng, chunk=CHUNK, limit=16):
    """The elements where ``analytic_grad`` disagrees with finite differences, at most ``limit`` of them.

    First ``limit`` random elements are tested along their own axis (two
    evaluations each, giving their finite-difference derivative): when
    errors are everywhere, that names some at once.  When none of them
    disagrees, group testing: a set of elements is tested along one random
    direction supported on it, and a set that disagrees is halved until
    single elements remain; k wrong elements among n cost O(k log n)
    evaluations, and at most ``limit`` sets are kept in play.  ``agrees(projection)`` judges each
    direction of a projection (see ``Projection.agrees``).
    """
    def test(groups):
        directions = [_supported_on(group, theta.shape, rng) for group in groups]
        projection = project(evaluate, theta, dout, analytic_grad, step, directions, chunk)
        return projection.evaluations, zip(groups, agrees(projection), projection.numeric)

    probes = rng.choice(theta.size, size=min(limit, theta.size), replace=False)
    evaluations, outcomes = test([np.array([i]) for i in probes])
    found = [(int(group[0]), numeric) for group, agreed, numeric in outcomes if not agreed]
    complete = len(probes) == theta.size or not found  # the search below looks everywhere
    suspects = [] if found or len(probes) == theta.size else np.array_split(np.arange(theta.size), 2)
    while suspects:
        if len(suspects) > limit - len(found):  # each disagreeing set holds a wrong element: enough sets to fill up
            suspects, complete = suspects[:limit - len(found)], False
        spent, outcomes = test(suspects)
        evaluations += spent
        suspects = []
        for group, agreed, numeric in outcomes:
            if agreed or not len(group):
                continue
            if len(group) == 1:
                found.append((int(group[0]), numeric))
            else:
                suspects += np.array_split(group, 2)
    positions, values = zip(*found) if found else ((), ())
    return Located(np.array(positions, dtype=int), np.array(values), complete, evaluations)


def _supported_on(group, shape, rng):
    """A random direction that moves only the elements of ``group`` (a unit axis for a single element)."""
    direction = np.zeros(int(np.prod(shape)))
    direction[group] = 1.0 if len(group) == 1 else rng.uniform(-1.0, 1.0, len(group))
    return direction.reshape(shape)


def _perturbed(flat, group, delta):
    """(flat with ``delta`` added at ``group`` in flat's dtype, the step each element of group really took)."""
    out = flat.copy()
    out[group] += delta
    return out, out[group].astype(np.float64) - flat[group]
