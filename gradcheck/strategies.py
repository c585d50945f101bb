"""Hypothesis strategies for layer configurations and their inputs.

Use them in your own tests::

    from hypothesis import given
    from gradcheck import strategies as gst

    @given(gst.conv_configs(stride=2), gst.seeds())
    def test_my_conv(config, seed):
        ...

Every dimension left as None is fuzzed; any may be pinned to an int or an
(h, w) pair.  Configurations are built valid (nothing is filtered): per axis
the kernel is drawn first, then stride and pad, then an input just large
enough for a drawn number of outputs plus a remainder the stride does not
cover.  The ranges lean towards what breaks implementations: batch 1 and
more, channels != filters, stride larger than the kernel, strides that do
not divide the padded size, padding with strides, 1x1 outputs, non-square
inputs and kernels, kernels other than 3, and overlapping pooling windows.
Everything shrinks towards the smallest configuration: 1s, no padding.
"""
from hypothesis import strategies as st

from reference_layers.geometry import Window, as_int, as_pair

from .config import Config
from .inputs import make_inputs

MAX_KERNEL = 5
MAX_COUNT = 3  # batch, channels, filters
MAX_OUTPUT = 4  # outputs per axis before the remainder


def seeds():
    """Seeds for ``gradcheck.inputs.make_inputs``: the arrays of a check, reproducibly."""
    return st.integers(0, 2**32 - 1)


def inputs(config):
    """The arrays for ``config``: float64, finite, tie-free for max pooling, also after shrinking.

    Values come from a drawn seed, so shrinking simplifies the seed and never
    the arrays into ties.
    """
    return seeds().map(lambda seed: make_inputs(config, seed))


def conv_configs(*, batch=None, channels=None, filters=None, size=None, kernel=None,
                 stride=None, pad=None, dilation=None, per_axis=True):
    """Conv2d configurations; pin any dimension with an int or an (h, w) pair.

    With ``per_axis=False`` stride, pad and dilation are the same along both
    axes (for layers that take them as plain ints); input and kernel stay
    free to be non-square.
    """
    pins = _pins(size=size, kernel=kernel, stride=stride, pad=pad, dilation=dilation)
    counts = _counts(batch=batch, channels=channels, filters=filters)
    _check_fit(pins, pool=False)
    return _configs("conv", pins, counts, per_axis)


def pool_configs(mode, *, batch=None, channels=None, size=None, kernel=None, stride=None, pad=None,
                 per_axis=True):
    """MaxPool2d ("max") or AvgPool2d ("avg") configurations; ``kernel`` is the pool window.

    Unpinned strides range from 1 (overlapping windows) to one more than the
    pool size (gaps between windows); pad is at most half the pool.
    ``per_axis`` as for ``conv_configs``.
    """
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    pins = _pins(size=size, kernel=kernel, stride=stride, pad=pad, dilation=1)
    counts = _counts(batch=batch, channels=channels)
    _check_fit(pins, pool=True)
    return _configs(mode + "pool", pins, counts, per_axis)


def configs(layer, **pinned):
    """Configurations for ``layer`` ("conv", "maxpool" or "avgpool"); keywords as for conv_configs."""
    if layer == "conv":
        return conv_configs(**pinned)
    if layer in ("maxpool", "avgpool"):
        return pool_configs(layer[:3], **pinned)
    raise ValueError(f"layer must be 'conv', 'maxpool' or 'avgpool', got {layer!r}")


def _pins(**pairs):
    """Validate pinned pairs up front, so a bad pin fails here and not mid-search."""
    return {name: None if value is None else as_pair(value, name, 0 if name == "pad" else 1)
            for name, value in pairs.items()}


def _counts(**counts):
    return {name: None if value is None else as_int(value, name, 1) for name, value in counts.items()}


def _check_fit(pins, pool):
    """Refuse pins that leave no valid configuration, naming the clash."""
    if pool and pins["kernel"] and pins["pad"]:
        Window(pins["kernel"], (1, 1), pins["pad"]).require_pool_padding()
    for axis in (0, 1):
        k, d, p, n = (pins[name] and pins[name][axis] for name in ("kernel", "dilation", "pad", "size"))
        if None not in (k, p, n) and n + 2 * p < (d or 1) * (k - 1) + 1:
            raise ValueError(f"kernel {pins['kernel']} can never fit: the input of size {pins['size']} "
                             f"padded by {pins['pad']} is smaller than the window; "
                             "use a larger size, more padding or a smaller kernel")


@st.composite
def _configs(draw, layer, pins, counts, per_axis):
    pool = layer != "conv"
    first = draw(_axis(pool, {name: pin and pin[0] for name, pin in pins.items()}))
    second_pins = {name: pin and pin[1] for name, pin in pins.items()}
    if not per_axis:
        second_pins.update({name: first[name] for name in ("stride", "pad", "dilation")})
    axes = (first, draw(_axis(pool, second_pins)))
    geometry = {name: tuple(axis[name] for axis in axes) for name in ("kernel", "stride", "pad", "size", "dilation")}
    drawn = {name: value if value is not None else draw(st.integers(1, MAX_COUNT))
             for name, value in counts.items()}
    return Config(layer=layer, **drawn, **geometry)


@st.composite
def _axis(draw, pool, pin):
    """One axis of the window geometry: dilation, kernel, stride, pad, then input size."""
    dilation = pin["dilation"] or draw(st.integers(1, 2))
    smallest_kernel = 2 * pin["pad"] if pool and pin["pad"] else 1  # a pool's pad is at most half of it
    kernel = pin["kernel"] or draw(st.integers(smallest_kernel, max(smallest_kernel, _largest_kernel(pin, dilation))))
    extent = dilation * (kernel - 1) + 1
    stride = pin["stride"] or draw(st.integers(1, kernel + 1 if pool else 3))
    pad = pin["pad"]
    if pad is None:
        smallest = 0 if pin["size"] is None else max(0, -(-(extent - pin["size"]) // 2))
        largest = kernel // 2 if pool else max(smallest, kernel)
        pad = draw(st.integers(smallest, largest))
    size = pin["size"]
    if size is None:
        outputs = draw(st.integers(1, MAX_OUTPUT))
        remainder = draw(st.integers(0, stride - 1))
        size = max(1, (outputs - 1) * stride + extent - 2 * pad + remainder)
    return {"dilation": dilation, "kernel": kernel, "stride": stride, "pad": pad, "size": size}


def _largest_kernel(pin, dilation):
    """The largest kernel to draw: MAX_KERNEL, or less when a pinned size and pad leave less room."""
    if pin["size"] is None or pin["pad"] is None:
        return MAX_KERNEL
    room = pin["size"] + 2 * pin["pad"]
    return max(1, min(MAX_KERNEL, (room - 1) // dilation + 1))
