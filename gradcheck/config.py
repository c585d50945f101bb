"""One layer configuration: the shapes and window geometry a check runs at."""
from dataclasses import asdict, dataclass, replace

from reference_layers.geometry import Window, as_int, as_pair


def windowed_kind(layer):
    """The ``kinds.WindowedKind`` named ``layer`` (conv, maxpool, avgpool); ValueError naming those there are."""
    from .kinds import windowed  # the kinds' modules import the engine, which imports this one

    kinds = windowed()
    if layer not in kinds:
        raise ValueError(f"layer must be one of {', '.join(kinds)}, got {layer!r}")
    return kinds[layer]


@dataclass(frozen=True)
class Config:
    """Everything that fixes the shapes of one check.

    Pairs are (height, width).  ``filters`` and ``dilation`` belong to conv
    only; for the pools ``kernel`` is the pool window.  Build one with
    ``Config.conv(...)`` or ``Config.pool(...)``, which accept ints or pairs
    and raise ValueError/TypeError naming the argument that is wrong.
    """

    layer: str
    batch: int
    channels: int
    size: tuple
    kernel: tuple
    stride: tuple
    pad: tuple
    filters: int = 0
    dilation: tuple = (1, 1)

    @classmethod
    def conv(cls, *, batch, channels, filters, size, kernel, stride=1, pad=0, dilation=1):
        return cls("conv", as_int(batch, "batch", 1), as_int(channels, "channels", 1),
                   as_pair(size, "size", 1), as_pair(kernel, "kernel", 1), as_pair(stride, "stride", 1),
                   as_pair(pad, "pad", 0), as_int(filters, "filters", 1), as_pair(dilation, "dilation", 1))

    @classmethod
    def pool(cls, mode, *, batch, channels, size, kernel, stride=None, pad=0):
        """``mode`` is "max" or "avg"; ``stride`` None means the pool size."""
        if mode not in ("max", "avg"):
            raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
        kernel = as_pair(kernel, "kernel", 1)
        return cls(mode + "pool", as_int(batch, "batch", 1), as_int(channels, "channels", 1),
                   as_pair(size, "size", 1), kernel, as_pair(kernel if stride is None else stride, "stride", 1),
                   as_pair(pad, "pad", 0))

    def __post_init__(self):
        windowed_kind(self.layer)  # a ValueError naming the layers there are
        if self.is_conv and self.filters < 1:
            raise ValueError(f"filters must be >= 1 for conv, got {self.filters!r}")
        if not self.is_conv:
            if self.dilation != (1, 1):
                raise ValueError("pools have no dilation; leave it at 1")
            self.window.require_pool_padding()
        self.window.output_shape(*self.size)  # raises when the window cannot fit

    @property
    def kind(self):
        return windowed_kind(self.layer)

    @property
    def is_conv(self):
        return self.layer == "conv"

    @property
    def window(self):
        return Window(self.kernel, self.stride, self.pad, self.dilation)

    @property
    def x_shape(self):
        return (self.batch, self.channels) + self.size

    @property
    def out_shape(self):
        depth = self.filters if self.is_conv else self.channels
        return (self.batch, depth) + self.window.output_shape(*self.size)

    @property
    def param_shapes(self):
        """Shapes of the trainable parameters, by name: W and b for conv, none for pools."""
        if not self.is_conv:
            return {}
        return {"W": (self.filters, self.channels) + self.kernel, "b": (self.filters,)}

    @property
    def windows_overlap(self):
        return any(s < e for s, e in zip(self.stride, self.window.extent))

    @property
    def remainders(self):
        """Per axis, the rows (or columns) of the padded input past the last window: (0, 0) when the stride
        divides H + 2P - extent and W + 2P - extent."""
        return tuple((n + 2 * p - e) % s for n, p, e, s in
                     zip(self.size, self.pad, self.window.extent, self.stride))

    def reference_layer(self, params, cls=None):
        """A reference layer for this configuration: the fastest formulation unless ``cls`` is given.

        ``params`` (W and b for conv) are held by reference, not copied.
        """
        cls = cls or self.kind.formulations[0]
        if self.is_conv:
            return cls(params["W"], params["b"], self.stride, self.pad, self.dilation)
        return cls(*self.kernel, self.stride, self.pad)

    def replace(self, **changes):
        """A copy with some fields changed (pairs may be given as ints); validated again."""
        pairs = {k: as_pair(v, k, 0 if k == "pad" else 1)
                 for k, v in changes.items() if k in ("size", "kernel", "stride", "pad", "dilation")}
        return replace(self, **{**changes, **pairs})

    def to_dict(self):
        data = asdict(self)
        if not self.is_conv:
            del data["filters"], data["dilation"]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data):
        """The Config that ``to_dict`` described (pairs arrive as lists); ValueError or TypeError if invalid."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def cli_args(self):
        """The gradcheck command-line options that pin every dimension of this configuration."""
        dims = {"batch": self.batch, "channels": self.channels, "filters": self.filters, "size": self.size,
                "kernel": self.kernel, "stride": self.stride, "pad": self.pad, "dilation": self.dilation}
        if not self.is_conv:
            del dims["filters"], dims["dilation"]
        elif self.dilation == (1, 1):
            del dims["dilation"]
        return cli_args(self.layer, dims)

    def describe(self):
        """A short human-readable summary, e.g. 'x (2, 3, 5, 4), kernel 3x2, stride 2, pad 1'."""
        parts = [f"x {self.x_shape}"]
        if self.is_conv:
            parts.append(f"W {self.param_shapes['W']}")
        parts.append(f"{'kernel' if self.is_conv else 'pool'} {pair_text(self.kernel)}")
        parts.append(f"stride {pair_text(self.stride)}")
        parts.append(f"pad {pair_text(self.pad)}")
        if self.dilation != (1, 1):
            parts.append(f"dilation {pair_text(self.dilation)}")
        return ", ".join(parts)


def cli_args(layer, dims):
    """gradcheck command-line words for ``layer`` with the dimensions ``dims`` (ints or pairs) pinned."""
    return [*windowed_kind(layer).command, *pin_args(dims)]


def pin_args(dims):
    """The options that pin the dimensions ``dims`` (ints, pairs or ranges), e.g. ['--stride', '2', '--size',
    '5x4', '--pad', '0..1']."""
    return [word for name, value in dims.items() for word in (f"--{name}", dimension_text(value))]


def dimension_text(value):
    """'2', '5x4' or, for range(0, 2), '0..1'."""
    if isinstance(value, range):
        return f"{value.start}..{value[-1]}"
    return str(value) if isinstance(value, int) else pair_text(value)


def parse_range(text):
    """range(LOW, HIGH + 1) for the text 'LOW..HIGH', or None when ``text`` does not have that form."""
    low, dots, high = str(text).partition("..")
    if not dots or not low.strip().isdigit() or not high.strip().isdigit():
        return None
    return range(int(low), int(high) + 1)


def split_ranges(dims):
    """(pins, bounds): ``dims`` given as ints or pairs, and those given as ranges as {name: (lowest, highest)};
    a range of one value is a pin.  ValueError for a range with a step or no value."""
    pins, bounds = {}, {}
    for name, value in dims.items():
        if not isinstance(value, range):
            pins[name] = value
        elif value.step != 1 or not value:
            raise ValueError(f"{name} as a range must hold consecutive values, lowest first (e.g. range(1, 3) for "
                             f"1..2), got {value!r}")
        elif len(value) == 1:
            pins[name] = value.start
        else:
            bounds[name] = (value.start, value[-1])
    return pins, bounds


def as_ranges(bounds):
    """{name: range} for {name: (lowest, highest)}: what ``split_ranges`` took apart."""
    return {name: range(low, high + 1) for name, (low, high) in bounds.items()}


def pair_text(pair):
    """'3' for (3, 3), '3x5' for (3, 5)."""
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"
