"""Geometry classes every search reaches: the strata of the configuration space where layers' bugs hide.

Random draws reach most classes within a few dozen examples, but not all:
stride equal to a square kernel (2x2 windows with stride 2, the commonest
pooling) came up in none of 337 drawn geometries over five seeds.  A search
therefore notes the classes its random examples reached and then draws one
example of each class still missing, from the run's own space narrowed to
that class (``Stratum.draws``: pins and restrictions for
``gradcheck.strategies.configs``, tried in order; a draw counts only when the
class really holds on it); a class none of whose draws fits the pins, or
that they did not reach, is looked for in a small grid of configurations
(``fuzz._grid_example``), and is "excluded" by the pins when the grid holds
none either.  "stride remainder r": r rows (or columns) of the padded input
lie past the last window, (H + 2P - extent) mod stride = r.  The classes of
x's values are the data seed's business: ``gradcheck.inputs.value_classes``.
"""
from dataclasses import dataclass


@dataclass(frozen=True, eq=False)
class Stratum:
    """A class of configurations: ``name`` as the report prints it, ``holds(config)``, the narrowings to draw
    one from (each a dict of pins, with "divisible" for the restriction of that name), the ``layers`` it
    applies to and whether ``holds`` reads the counts (batch, channels, filters) or the geometry alone."""

    name: str
    holds: object
    draws: tuple
    layers: tuple = ("conv", "maxpool", "avgpool")
    attempts: int = 1  # draws per narrowing: more where the narrowing only makes the class likely
    counts: bool = False

    def narrowings(self, layer):
        """The draws, without the pins ``layer`` does not take (pools have no filters and no dilation)."""
        unused = () if layer == "conv" else ("filters", "dilation")
        return [{name: value for name, value in draw.items() if name not in unused} for draw in self.draws]


def tiles(config):
    """Stride equal to a square kernel larger than 1, undilated: windows that tile the input (2x2 pooling with
    stride 2)."""
    return config.kernel[0] == config.kernel[1] > 1 and config.stride == config.kernel and config.dilation == (1, 1)


def _uncovered_input(config):
    """Per axis, the rows of the input itself (not its padding) past the last window."""
    return tuple(max(0, r - p) for r, p in zip(config.remainders, config.pad))


STRATA = (
    Stratum("stride == kernel", tiles, tuple({"kernel": k, "stride": k, "dilation": 1} for k in (2, 3, 4, 5))),
    Stratum("stride > kernel", lambda c: all(s > e for s, e in zip(c.stride, c.window.extent)),
            tuple({"kernel": k, "stride": s, "dilation": 1} for k, s in ((2, 3), (1, 2), (3, 4), (1, 3), (3, 5)))),
    Stratum("stride < kernel", lambda c: any(s < e for s, e in zip(c.stride, c.window.extent)),
            tuple({"kernel": k, "stride": s} for k, s in ((3, 2), (2, 1), (3, 1), (5, 2), (4, 3), (5, 4)))),
    Stratum("even kernel", lambda c: any(k % 2 == 0 for k in c.kernel),
            tuple({"kernel": k} for k in (2, 4, 6, (2, 3), (3, 4)))),
    Stratum("odd kernel > 1", lambda c: any(k % 2 and k > 1 for k in c.kernel),
            tuple({"kernel": k} for k in (3, 5, 7, (3, 2), (2, 5)))),
    Stratum("non-square input", lambda c: c.size[0] != c.size[1],
            tuple({"size": s} for s in ((4, 6), (7, 5), (9, 12), (13, 10), (3, 5), (2, 1), (20, 17)))),
    Stratum("non-square kernel", lambda c: c.kernel[0] != c.kernel[1],
            tuple({"kernel": k} for k in ((1, 3), (3, 2), (2, 4), (5, 3), (4, 7)))),
    Stratum("pad 0", lambda c: c.pad == (0, 0), ({"pad": 0},)),
    Stratum("0 < pad < kernel", lambda c: any(0 < p < k for p, k in zip(c.pad, c.kernel)),
            tuple({"pad": p, "kernel": k} for p, k in ((1, 3), (1, 2), (2, 5), (1, 4), (2, 4), (3, 7)))),
    Stratum("pad >= kernel", lambda c: any(p >= k for p, k in zip(c.pad, c.kernel)),
            tuple({"pad": p, "kernel": k} for p, k in ((1, 1), (2, 2), (3, 3), (2, 1), (4, 3))), layers=("conv",)),
    Stratum("stride > 1 dividing the padded input", lambda c: max(c.stride) > 1 and c.remainders == (0, 0),
            tuple({"stride": s, "divisible": True} for s in (2, 3, 4, 5))),
    Stratum("stride remainder 1", lambda c: 1 in c.remainders,
            tuple({"stride": s} for s in (2, 3, 4, 5)), attempts=3),
    Stratum("stride remainder >= 2", lambda c: max(c.remainders) >= 2,
            tuple({"stride": s} for s in (3, 4, 5)), attempts=3),
    Stratum("input rows past the last window", lambda c: max(_uncovered_input(c)) > 0,
            tuple({"stride": s, "pad": p} for p in (0, 1, 2) for s in range(p + 2, 6)), attempts=3),  # s - 1 > p
    Stratum("one output from an input wider than the window",
            lambda c: any(o == 1 and n + 2 * p > e
                          for o, n, p, e in zip(c.out_shape[2:], c.size, c.pad, c.window.extent)),
            tuple({"kernel": k, "stride": s, "size": n, "pad": 0} for k, s, n in
                  ((2, 2, 3), (3, 2, 4), (1, 3, 2), (3, 3, 5), (2, 4, 5), (5, 3, 6), (1, 5, 4))) +
            tuple({"stride": s} for s in (3, 4, 5)), attempts=2),
    Stratum("1x1 output with batch and depth > 1", lambda c: c.out_shape[2:] == (1, 1) and min(c.out_shape[:2]) > 1,
            tuple({"batch": b, "channels": 2, "filters": 3, "kernel": k, "size": k, "pad": 0}
                  for b, k in ((2, 2), (3, 3), (2, 1), (2, 5))) +
            tuple({"batch": b, "channels": 2, "filters": 2, "size": 1} for b in (2, 3)), attempts=2, counts=True),
    Stratum("batch 1", lambda c: c.batch == 1, ({"batch": 1},), counts=True),
    Stratum("batch > 1", lambda c: c.batch > 1, ({"batch": 2}, {"batch": 3}), counts=True),
    Stratum("1 channel", lambda c: c.channels == 1, ({"channels": 1},), counts=True),
    Stratum("channels > 1", lambda c: c.channels > 1, ({"channels": 2}, {"channels": 3}), counts=True),
    Stratum("1 filter", lambda c: c.filters == 1, ({"filters": 1},), layers=("conv",), counts=True),
    Stratum("filters > 1", lambda c: c.filters > 1, ({"filters": 2}, {"filters": 3}), layers=("conv",), counts=True),
    Stratum("filters != channels", lambda c: c.filters != c.channels,
            tuple({"channels": c, "filters": f} for c, f in ((2, 3), (3, 2), (1, 2), (2, 1))), layers=("conv",),
            counts=True),
    Stratum("dilation > 1", lambda c: c.dilation != (1, 1), ({"dilation": 2},), layers=("conv",)),
)


def strata(layer):
    """The classes that apply to ``layer``."""
    return [stratum for stratum in STRATA if layer in stratum.layers]


def reached(layer, config):
    """The names of the classes of ``layer`` that ``config`` is in."""
    return {stratum.name for stratum in strata(layer) if stratum.holds(config)}
