"""Hypothesis strategies for layer configurations and their inputs.

Use them in your own tests::

    from hypothesis import given
    from gradcheck import strategies as gst

    @given(gst.conv_configs(stride=2), gst.seeds())
    def test_my_conv(config, seed):
        ...

Every dimension left as None is fuzzed; any may be pinned to an int or an
(h, w) pair.  Configurations are built valid, whatever is pinned: the free
dimensions are drawn, one at a time, only from values that some complete
configuration can still take (dilation, kernel, stride, pad, then the
input), so nothing is filtered away.  Pins that no configuration satisfies
raise ValueError at once, naming the clash.

Each dimension has a small range and a large one:

    batch, channels, filters   1..3      large 4..8
    kernel (per axis)          1..5      large 7
    stride                     1..3      large 4..5 (also larger than the kernel)
    pad (conv)                 0..kernel large kernel+1..kernel+2; pools 0..kernel//2
    dilation (conv)            1..2
    outputs (per axis)         1..4      large 5.. on an input of at least 5
    input side                 from the outputs, at most 32 (more when pins demand it)

Half the examples are small in every dimension; in the other half every
dimension takes a value from its large range about two times in three, so
that every large range is reached within a few dozen examples while small
configurations dominate (and everything shrinks towards them: 1s, no
padding).  A budget keeps the input small when the batch and the
depth are already large: the output elements the checks compute, a few
dozen calls of the layer (more for the ties check of max pooling) times
N * F * OH * OW, stay below ``BUDGET``.  Within the ranges the draws lean
towards what breaks layers: channels != filters, strides that do not divide
the padded size, non-square inputs and kernels, 1x1 outputs and
overlapping pooling windows.

Restrictions narrow the drawing itself (nothing is filtered away):
``divisible=True`` draws only configurations whose stride divides
H + 2P - extent and W + 2P - extent, for layers that refuse the others;
``square=("size", "kernel")`` makes the input and/or the kernel square;
``same_depth=True`` (conv) draws as many filters as channels;
``overlapping=False`` draws windows that never overlap (stride >= extent);
``padded=True`` draws a pad of at least 1 on both axes;
``bounds={"stride": (1, 2), "batch": (2, 4)}`` keeps each named dimension
(both axes of a geometry one) between the two values, inclusive, beyond the
ranges above if need be (a course grades strides 1 and 2 only).  gradcheck uses them
to test a trigger fact as a rule: "fails only when the input is not square"
is printed only when a search over square inputs finds no failure.
"""
import itertools
import math
import os
from dataclasses import dataclass

from hypothesis import reject, strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from reference_layers.geometry import Window, as_int, as_pair

from .config import Config, pair_text, windowed_kind
from .inputs import make_inputs


def hypothesis_files_in_cache():
    """What Hypothesis writes as it runs (a cache of the constants it reads in the user's code) goes to
    $XDG_CACHE_HOME/gradcheck/hypothesis (~/.cache by default), not to a .hypothesis folder wherever gradcheck
    runs: the command line and grading's workers call this; a test suite keeps its own settings."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    set_hypothesis_home_dir(os.path.join(cache, "gradcheck", "hypothesis"))


COUNTS = {"small": (1, 3), "large": (4, 8)}
KERNELS = {"small": (1, 5), "large": (7, 7)}
STRIDES = {"small": (1, 3), "large": (4, 5)}
OUTPUTS = (1, 4)  # per axis in a small example; more, up to what MAX_SIDE allows, in a large one
MAX_SIDE = 32
LARGE_PAD = 2  # conv pads reach this far beyond the kernel
DILATIONS = (1, 2)
BUDGET = 60_000  # output elements the checks of one example may compute (calls x outputs per call)
LARGE_WEIGHT = 2  # in a large example, large values make up about this many times as many candidates as the rest
GEOMETRY = ("dilation", "kernel", "stride", "pad", "size")
COUNTED = ("batch", "channels", "filters")
SHARED = ("dilation", "stride", "pad")  # one value for both axes unless per_axis


def seeds():
    """Seeds for ``gradcheck.inputs.make_inputs``: the arrays of a check, reproducibly."""
    return st.integers(0, 2**32 - 1)


def inputs(config, precision="float64"):
    """The arrays for ``config``: finite, tie-free for max pooling, also after shrinking.

    Values come from a drawn seed, so shrinking simplifies the seed and never
    the arrays into ties.
    """
    return seeds().map(lambda seed: make_inputs(config, seed, precision))


@dataclass(frozen=True)
class Restrictions:
    """What every drawn configuration must satisfy beyond its pins (see the module docstring)."""

    divisible: bool = False
    square: frozenset = frozenset()
    same_depth: bool = False
    overlapping: bool = True
    padded: bool = False
    bounds: tuple = ()  # (name, lowest, highest), sorted by name

    @classmethod
    def of(cls, divisible=False, square=(), same_depth=False, overlapping=True, padded=False, bounds=None):
        square = frozenset((square,) if isinstance(square, str) else square)
        if not square <= {"size", "kernel"}:
            raise ValueError(f"square takes 'size' and 'kernel', got {sorted(square)}")
        return cls(bool(divisible), square, bool(same_depth), bool(overlapping), bool(padded),
                   _bounds(dict(bounds or {})))

    def bound(self, name):
        """(lowest, highest) that ``name`` may take, or None when it is not bounded."""
        return next(((low, high) for bounded, low, high in self.bounds if bounded == name), None)


def _bounds(bounds):
    """``bounds`` ({name: (lowest, highest)}) validated, as Restrictions holds them."""
    checked = []
    for name, span in sorted(bounds.items()):
        if name not in GEOMETRY + COUNTED:
            raise ValueError(f"bounds name dimensions ({', '.join(GEOMETRY + COUNTED)}), got {name!r}")
        try:
            low, high = span
        except (TypeError, ValueError):
            raise TypeError(f"the bounds of {name} must be a pair (lowest, highest), got {span!r}") from None
        low, high = as_int(low, name, 0 if name == "pad" else 1), as_int(high, name, 0 if name == "pad" else 1)
        if low > high:
            raise ValueError(f"{name} between {low} and {high} is empty: give the lowest value first")
        checked.append((name, low, high))
    return tuple(checked)


def conv_configs(*, batch=None, channels=None, filters=None, size=None, kernel=None,
                 stride=None, pad=None, dilation=None, per_axis=True, divisible=False, square=(), same_depth=False,
                 overlapping=True, padded=False, bounds=None):
    """Conv2d configurations; pin any dimension with an int or an (h, w) pair.

    With ``per_axis=False`` stride, pad and dilation are the same along both
    axes (for layers that take them as plain ints); input and kernel stay
    free to be non-square.  ``divisible``, ``square``, ``same_depth``,
    ``overlapping``, ``padded`` and ``bounds`` restrict the drawing (see the module docstring).
    """
    if same_depth:
        bounds = _same_depth_bounds(dict(bounds or {}))
    restrict = Restrictions.of(divisible, square, same_depth, overlapping, padded, bounds)
    counts = _counts(restrict, batch=batch, channels=channels, filters=filters)
    if same_depth:
        counts = _same_depth(counts)
    return _configs("conv", _Pins.of(False, per_axis, restrict, size=size, kernel=kernel, stride=stride, pad=pad,
                                     dilation=dilation), counts)


def pool_configs(mode, *, batch=None, channels=None, size=None, kernel=None, stride=None, pad=None,
                 per_axis=True, divisible=False, square=(), overlapping=True, padded=False, bounds=None):
    """MaxPool2d ("max") or AvgPool2d ("avg") configurations; ``kernel`` is the pool window.

    Pad is at most half the pool (a window of padding alone has nothing to
    pool).  ``per_axis`` and the restrictions as for ``conv_configs``.
    """
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    if {"filters", "dilation"} & set(dict(bounds or {})):  # bounds: a dict, or its items
        raise ValueError("pools have no filters or dilation to bound; leave them out")
    restrict = Restrictions.of(divisible, square, False, overlapping, padded, bounds)
    return _configs(mode + "pool", _Pins.of(True, per_axis, restrict, size=size, kernel=kernel, stride=stride,
                                            pad=pad, dilation=1), _counts(restrict, batch=batch, channels=channels))


def configs(layer, **pinned):
    """Configurations for ``layer`` ("conv", "maxpool" or "avgpool"); keywords (pins and restrictions) as for
    conv_configs."""
    if layer == "conv":
        return conv_configs(**pinned)
    if layer in ("maxpool", "avgpool"):
        return pool_configs(layer[:3], **pinned)
    raise ValueError(f"layer must be 'conv', 'maxpool' or 'avgpool', got {layer!r}")


def _counts(restrict, **counts):
    """The pinned counts, validated, each within its bounds."""
    counts = {name: None if value is None else as_int(value, name, 1) for name, value in counts.items()}
    for name, value in counts.items():
        span = restrict.bound(name)
        if value is not None and span and not span[0] <= value <= span[1]:
            raise ValueError(f"{name} is pinned to {value}, outside its bounds {span[0]}..{span[1]}")
    return counts


def _same_depth_bounds(bounds):
    """Bounds with those of channels and filters joined, since filters will be as many as channels."""
    spans = [bounds.pop(name) for name in ("channels", "filters") if name in bounds]
    if spans:
        low, high = max(span[0] for span in spans), min(span[1] for span in spans)
        if low > high:
            raise ValueError(f"as many filters as channels, but their bounds {spans[0]} and {spans[1]} do not meet")
        bounds["channels"] = (low, high)
    return bounds


def _same_depth(counts):
    """Counts with filters tied to channels: a pin of either pins both; "filters" None means "as channels"."""
    channels, filters = counts["channels"], counts["filters"]
    if None not in (channels, filters) and channels != filters:
        raise ValueError(f"as many filters as channels, but channels is pinned to {channels} and filters to "
                         f"{filters}")
    return dict(counts, channels=channels or filters, filters=None)


class _Pins:
    """The pinned window geometry, validated, and what a partial configuration can still become.

    ``values`` maps each geometry name to an (h, w) pair whose entries are
    ints (pinned or drawn) or None (still free); ``restrict`` holds the
    Restrictions every configuration must satisfy too.
    """

    def __init__(self, pool, per_axis, values, restrict=Restrictions()):
        self.pool = pool
        self.per_axis = per_axis
        self.values = values
        self.restrict = restrict

    @classmethod
    def of(cls, pool, per_axis, restrict, **pins):
        values = {name: (None, None) if value is None else as_pair(value, name, 0 if name == "pad" else 1)
                  for name, value in pins.items()}
        for name in values:
            if values[name][0] != values[name][1] and (name in restrict.square or (not per_axis and name in SHARED)):
                why = "the drawing is restricted to a square one" if name in restrict.square else \
                    f"this layer takes one {name} for both axes"
                raise ValueError(f"{name} {values[name]} differs between height and width, but {why}")
            span = restrict.bound(name)
            if span and None not in values[name] and not span[0] <= min(values[name]) <= max(values[name]) <= span[1]:
                raise ValueError(f"{name} is pinned to {pair_text(values[name])}, outside its bounds "
                                 f"{span[0]}..{span[1]}")
        pins = cls(pool, per_axis, values, restrict)
        pins.require_feasible()
        return pins

    def shared(self, name):
        """Whether ``name`` takes one value for both axes."""
        return name in self.restrict.square or (not self.per_axis and name in SHARED)

    def require_feasible(self):
        """Refuse pins that leave no valid configuration, naming the clash."""
        kernel, pad, size, dilation = (self.values[name] for name in ("kernel", "pad", "size", "dilation"))
        if self.pool and None not in kernel + pad:
            Window(kernel, (1, 1), pad).require_pool_padding()
        for axis in (0, 1):
            if None not in (kernel[axis], pad[axis], size[axis]) and \
                    size[axis] + 2 * pad[axis] < (dilation[axis] or 1) * (kernel[axis] - 1) + 1:
                dilated = f" with dilation {dilation}" if dilation[axis] not in (None, 1) else ""
                raise ValueError(f"kernel {kernel}{dilated} can never fit: the input of size {size} padded by "
                                 f"{pad} is smaller than the window; use a larger size, more padding or a smaller "
                                 "kernel")
        if not self.completable(self.values):
            raise ValueError(f"no configuration fits these pins ({self.describe()}): a window of kernel K and "
                             "dilation D spans D*(K-1)+1 rows, which must fit in the input padded on both sides"
                             + (", and a pool's pad is at most half its window" if self.pool else "")
                             + "".join(f", and {text}" for text in self._restriction_texts())
                             + "; use a larger size, more padding or a smaller kernel")

    def _restriction_texts(self):
        restrict = self.restrict
        return [text for wanted, text in (
            (restrict.divisible, "the stride must divide H + 2P - extent (--divisible)"),
            (not restrict.overlapping, "windows must not overlap (stride >= extent)"),
            (restrict.padded, "pad must be at least 1")) if wanted] + \
            [f"{name} must lie within {low}..{high}" for name, low, high in restrict.bounds]

    def describe(self):
        pinned = [f"{name} {pair_text(pair)}" for name, pair in self.values.items()
                  if None not in pair and not (name == "dilation" and pair == (1, 1))]
        return ", ".join(pinned) or "nothing pinned"

    def completable(self, values):
        """Whether the free entries of ``values`` can be chosen so that both axes are valid and restricted."""
        if not self._restrictions_hold(values):
            return False
        if self.restrict.divisible and (values["size"] != (None, None) or self.restrict.bound("size")) and \
                any(None in values[name] for name in GEOMETRY[:4]):
            return self._divisible_completable(values)
        if self.pool:
            return self._pool_completable(values)
        return all(self._conv_axis_ok(*(values[name][axis] for name in GEOMETRY)) for axis in (0, 1))

    def _restrictions_hold(self, values):
        """The restrictions, on every axis whose values they depend on are all chosen (free ones can comply)."""
        restrict = self.restrict
        for axis in (0, 1):
            dilation, kernel, stride, pad, size = (values[name][axis] for name in GEOMETRY)
            extent = None if None in (dilation, kernel) else dilation * (kernel - 1) + 1
            narrowest = (dilation or 1) * ((kernel or 1) - 1) + 1  # a free dilation or kernel can still be 1
            if not restrict.overlapping and stride is not None and stride < narrowest:
                return False
            if restrict.padded and pad == 0:
                return False
            if restrict.divisible and None not in (extent, stride, pad, size) and \
                    (size + 2 * pad < extent or (size + 2 * pad - extent) % stride):
                return False
            if any(values[name][axis] is not None and not low <= values[name][axis] <= high
                   for name, low, high in restrict.bounds if name in GEOMETRY):
                return False
            widest = pad if pad is not None else (restrict.bound("pad") or (0, None))[1]  # a free pad grows
            if size is None and widest is not None and \
                    not self._some_side(extent or narrowest, None if None in (extent, pad) else stride, widest):
                return False
        return True

    def _some_side(self, extent, stride, pad):
        """Whether a free, bounded input side can take the window ``extent`` (divided by ``stride`` when it must
        be and ``stride`` is given); an unbounded side always can."""
        span = self.restrict.bound("size")
        if span is None:
            return True
        divides = self.restrict.divisible and stride is not None
        return any(side + 2 * pad >= extent and not (divides and (side + 2 * pad - extent) % stride)
                   for side in range(span[0], span[1] + 1))

    def _divisible_completable(self, values):
        """With a pinned (or bounded) input side, whether some choice of the free dimensions lets the stride divide it:
        tried over the values the drawing takes, the shared ones alike on both axes."""
        shared = [name for name in GEOMETRY[:4] if self.shared(name)]
        for combination in itertools.product(*(self._choices(name, values, 0) for name in shared)):
            fixed = dict(values, **{name: (value, value) for name, value in zip(shared, combination)})
            if all(any(self._axis_valid(*trial, fixed["size"][axis]) for trial in itertools.product(
                    *(self._choices(name, fixed, axis) for name in GEOMETRY[:4]))) for axis in (0, 1)):
                return True
        return False

    def _choices(self, name, values, axis):
        """The values ``name`` can take on ``axis``: its own if chosen, else the drawable range."""
        if values[name][axis] is not None:
            return [values[name][axis]]
        return _candidates(name, values, self.restrict)

    def _axis_valid(self, dilation, kernel, stride, pad, size):
        """One axis with every value chosen (``size`` None: free, so it fits) against every rule."""
        extent = dilation * (kernel - 1) + 1
        if (self.pool and 2 * pad > kernel) or (size is not None and size + 2 * pad < extent):
            return False
        trial = {name: (value, value) for name, value in zip(GEOMETRY, (dilation, kernel, stride, pad, size))}
        return self._restrictions_hold(trial)

    @staticmethod
    def _conv_axis_ok(dilation, kernel, stride, pad, size):
        """With a free pad or size anything fits; free dilation and kernel are best at 1."""
        if pad is None or size is None:
            return True
        return (dilation or 1) * ((kernel or 1) - 1) + 1 <= size + 2 * pad

    def _pool_completable(self, values):
        """Pools: 2*pad <= kernel <= size + 2*pad (and <= stride, when windows must not overlap) on each axis;
        tried over the free kernels and pads."""
        kernels = [[k] if k is not None else _candidates("kernel", values, self.restrict) for k in values["kernel"]]
        largest_pad = max(max(ks, default=0) for ks in kernels) // 2
        low, high = self.restrict.bound("pad") or (0, largest_pad)

        def pads(axis):
            pad = values["pad"][axis]
            return [pad] if pad is not None else range(max(low, int(self.restrict.padded)), min(high, largest_pad) + 1)

        def fits(axis, pad):
            size, stride = values["size"][axis], values["stride"][axis]
            return any(2 * pad <= k and (size is not None and k <= size + 2 * pad or
                                         size is None and self._some_side(k, stride, pad)) and
                       (self.restrict.overlapping or stride is None or k <= stride) for k in kernels[axis])

        if self.per_axis:
            return all(any(fits(axis, pad) for pad in pads(axis)) for axis in (0, 1))
        return any(fits(0, pad) and fits(1, pad) for pad in pads(0))


class _Tiers:
    """Small or large ranges, drawn so that shrinking stays good.

    One example in two is small in every dimension (each value drawn evenly
    from its small range, so that pad 0 or stride 1, the commonest settings,
    stay common); in the others every dimension ranges over small and large
    values, the large ones weighted to about two thirds of the draws.  A value
    is one choice, an index into its candidates listed in increasing order
    (large ones repeated for their weight), so it shrinks one step at a time.
    """

    def __init__(self, draw):
        self.draw = draw
        self.example = draw(st.booleans())

    def pick(self, candidates, ranges):
        """One of the (increasing) ``candidates``: from ``ranges["small"]`` in a small example (where that holds
        candidates), else any, the ones in ``ranges["large"]`` weighted."""
        small = [v for v in candidates if ranges["small"][0] <= v <= ranges["small"][1]]
        if not self.example and small:
            return small[self.draw(st.integers(0, len(small) - 1))]
        low, high = ranges["large"]
        large = [v for v in candidates if low <= v <= high]
        rest = [v for v in candidates if not low <= v <= high]
        weighted = sorted(rest + large * max(1, -(-LARGE_WEIGHT * len(rest) // max(1, len(large)))))
        return weighted[self.draw(st.integers(0, len(weighted) - 1))]


@st.composite
def _configs(draw, layer, pins, counts):
    tiers = _Tiers(draw)
    geometry = _Geometry(draw, pins, tiers)
    geometry.draw_window()
    drawn = _draw_counts(tiers, layer, counts, geometry)
    geometry.draw_sizes(_per_output_cost(layer, drawn, geometry.values))
    return Config(layer=layer, **drawn, **geometry.values)


def _draw_counts(tiers, layer, counts, geometry):
    """Batch, channels and filters: pinned, or drawn within what the budget leaves once the input is as small
    as it can be (a pinned input can leave room for a batch of 1 only)."""
    ones = {name: 1 for name in counts}
    room = BUDGET // (_per_output_cost(layer, ones, geometry.values) * geometry.fewest_outputs())
    capped = {"batch", "filters" if windowed_kind(layer).weights else "channels"}
    if geometry.pins.restrict.same_depth:
        capped.add("channels")
    drawn = {}
    for name, value in counts.items():
        low, high = geometry.pins.restrict.bound(name) or (1, COUNTS["large"][1])
        if name == "filters" and geometry.pins.restrict.same_depth:
            value = drawn["channels"]
        elif value is None:
            value = tiers.pick(range(low, high + 1), COUNTS)
            if name in capped:
                value = min(value, max(low, room // drawn.get("batch", 1)))
        drawn[name] = value
    return drawn


def _per_output_cost(layer, counts, geometry):
    """Output elements the checks compute per output position: calls times batch times depth.

    The ties check (max pooling's) adds a forward and a backward per class
    of outputs with disjoint windows, ceil(extent / stride) along each axis.
    """
    kind = windowed_kind(layer)
    calls = kind.calls
    if "ties" in kind.checks:
        calls += 2 * math.prod(math.ceil(k / s) for k, s in zip(geometry["kernel"], geometry["stride"]))
    depth = counts["filters"] if kind.weights else counts["channels"]
    return calls * counts["batch"] * depth


class _Geometry:
    """Draws the window geometry one dimension at a time, each from the values that can still be completed."""

    def __init__(self, draw, pins, tiers):
        self.draw = draw
        self.pins = pins
        self.tiers = tiers
        self.values = dict(pins.values)

    def draw_window(self):
        dilations = (1, 1) if self.pins.pool else DILATIONS
        self._choose("dilation", lambda axis: {"small": dilations, "large": dilations})
        self._choose("kernel", lambda axis: KERNELS)
        self._choose("stride", lambda axis: STRIDES)
        self._choose("pad", self._pad_ranges)

    def _pad_ranges(self, axis):
        kernels = self.values["kernel"]
        if self.pins.pool:
            half = min(kernels) // 2 if self.shared("pad") else kernels[axis] // 2
            return {"small": (0, half), "large": (0, half)}
        kernel = max(kernels) if self.shared("pad") else kernels[axis]
        return {"small": (0, kernel), "large": (kernel + 1, kernel + LARGE_PAD)}

    def shared(self, name):
        return self.pins.shared(name)

    def _choose(self, name, ranges):
        """Draw every free entry of ``name`` from the values that can still be completed, in the tier's range
        (``ranges(axis)``) where it holds some (pins may demand values beyond the usual ranges)."""
        axes = (0,) if self.shared(name) else (0, 1)
        for axis in axes:
            if self.values[name][axis] is not None:
                continue
            candidates = [v for v in _candidates(name, self.values, self.pins.restrict)
                          if self._completes(name, axis, v)]
            if not candidates:  # pins and restrictions the feasibility check let through: nothing fits
                reject()
            self._set(name, axis, self.tiers.pick(candidates, ranges(axis)))

    def _completes(self, name, axis, value):
        trial = dict(self.values)
        trial[name] = self._with(name, axis, value)
        return self.pins.completable(trial)

    def _with(self, name, axis, value):
        if self.shared(name):
            return value, value
        pair = list(self.values[name])
        pair[axis] = value
        return tuple(pair)

    def _set(self, name, axis, value):
        self.values[name] = self._with(name, axis, value)

    def fewest_outputs(self):
        """Output positions per sample and channel with every free side at its smallest: 1 along a free axis
        (more when the bounds of size start above the window)."""
        low = (self.pins.restrict.bound("size") or (1, None))[0]
        return math.prod(max(1, self._outputs(axis, size=self.values["size"][axis] or low)) for axis in (0, 1))

    def draw_sizes(self, per_output_cost):
        """Each free input side: from a drawn number of outputs (or a large side), within the cost budget.

        A square input draws its first side within the square root of the
        budget and takes the smallest side at least as large that suits the second axis too.
        """
        outputs_room = max(1, BUDGET // max(1, per_output_cost))
        if "size" in self.pins.restrict.square and self.values["size"] == (None, None):
            side = self._draw_side(0, math.isqrt(outputs_room))
            self._set("size", 0, self._common_side(side))
        for axis in (0, 1):
            if self.values["size"][axis] is None:
                self._set("size", axis, self._draw_side(axis, outputs_room))
            outputs_room = max(1, outputs_room // self._outputs(axis))
        self.values = {name: tuple(pair) for name, pair in self.values.items()}

    def _common_side(self, side):
        """The smallest side >= ``side`` whose window fits (and, when divisible, is divided) on both axes; within
        the bounds of size, the largest below ``side`` when none above is."""
        geometry = [[self.values[name][axis] for name in GEOMETRY[:4]] for axis in (0, 1)]
        bases = [d * (k - 1) + 1 - 2 * p for d, k, s, p in geometry]
        strides = [s for d, k, s, p in geometry] if self.pins.restrict.divisible else [1, 1]
        start = max(side, *bases, 1)
        low, high = self.pins.restrict.bound("size") or (1, math.inf)
        last = min(high, start + math.lcm(*strides) - 1)
        fitting = [candidate for candidate in range(max(low, *bases, 1), last + 1)
                   if all((candidate - base) % stride == 0 for base, stride in zip(bases, strides))]
        if not fitting:
            reject()  # kernel extents the stride cannot divide alike on both axes (within the bounds): none fits
        return min(fitting, key=lambda candidate: (candidate < start, abs(candidate - start)))

    def _outputs(self, axis, size=None):
        """Outputs along ``axis`` of the input side drawn (or of ``size``)."""
        dilation, kernel, stride, pad, drawn = (self.values[name][axis] for name in GEOMETRY)
        return ((size or drawn) + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1

    def _draw_side(self, axis, outputs_room):
        """A side that gives a drawn number of outputs plus a remainder the stride does not cover; at most
        MAX_SIDE, and its outputs within ``outputs_room``.  Large output counts (from 5 up to what the
        side allows) come with a side of at least 5."""
        dilation, kernel, stride, pad = (self.values[name][axis] for name in GEOMETRY[:4])
        base = dilation * (kernel - 1) + 1 - 2 * pad  # the side that gives exactly one output
        most = max(1, min(outputs_room, (MAX_SIDE - base) // stride + 1))
        outputs = self.tiers.pick(range(1, most + 1), {"small": OUTPUTS, "large": (OUTPUTS[1] + 1, most)})
        remainder = self.draw(st.integers(0, stride - 1))
        if self.pins.restrict.divisible:
            remainder = 0
        side = max(1, (outputs - 1) * stride + base + remainder)
        if outputs > OUTPUTS[1]:
            side = max(side, 5)
        side = min(side, max(MAX_SIDE, base))
        side = _divisible_side(side, base, stride, max(1, base)) if self.pins.restrict.divisible else side
        return self._bounded_side(side, base, stride)

    def _bounded_side(self, side, base, stride):
        """``side``, or when the bounds of size leave it out, the side within them nearest to it that the window
        fits (and, when divisible, that the stride divides)."""
        span = self.pins.restrict.bound("size")
        if span is None or span[0] <= side <= span[1]:
            return side
        fitting = [candidate for candidate in range(span[0], span[1] + 1) if candidate >= base and not (
            self.pins.restrict.divisible and (candidate - base) % stride)]
        if not fitting:
            reject()  # the feasibility checks rule this out; kept so a gap there never draws a wrong side
        return min(fitting, key=lambda candidate: abs(candidate - side))


def _divisible_side(side, base, stride, smallest):
    """The side nearest below ``side`` (else above) that the stride divides: side = base + m * stride."""
    side -= (side - base) % stride
    return side if side >= smallest else side + stride * math.ceil((smallest - side) / stride)


def _candidates(name, values, restrict):
    """The values worth trying for a free ``name``: from its least to ``_ceiling``, or within its bounds."""
    span = restrict.bound(name)
    if span is not None:
        return range(span[0], span[1] + 1)
    return range(0 if name == "pad" else 1, _ceiling(name, values, restrict) + 1)


def _ceiling(name, values, restrict):
    """The largest value worth trying for a free ``name``: beyond the ranges only when pins (or windows that
    must not overlap) demand it."""
    if name == "dilation":
        return DILATIONS[1]
    if name == "kernel":
        return KERNELS["large"][1]
    kernel = max(k or KERNELS["large"][1] for k in values["kernel"])
    extent = max(d or DILATIONS[1] for d in values["dilation"]) * (kernel - 1) + 1
    if name == "stride":
        return STRIDES["large"][1] if restrict.overlapping else max(STRIDES["large"][1], extent)
    sizes = [s for s in values["size"] if s is not None]
    ceiling = max(kernel + LARGE_PAD, math.ceil((extent - min(sizes, default=extent)) / 2))
    if restrict.divisible:  # the stride may divide H + 2P - extent for one pad only among `stride` consecutive ones
        ceiling += max(s or STRIDES["large"][1] for s in values["stride"]) - 1
    return ceiling
