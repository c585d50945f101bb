"""Before a run: will it fit in memory, and will it take long?  Estimates from the configuration alone.

A check holds, at its peak, many arrays the size of the input and of the
output (the check's own arrays and their copies, the reference's, the
layer's, the finite differences' directions) and a few the size of the
input gathered window by window (an im2col matrix: every output position
times KH * KW taps times the channels).  The coefficients below bound what
``benchmarks/bench_scale.py`` measures for a from-scratch im2col conv
(peak RSS of the whole process, over configurations dominated by each kind
of array); a layer that builds more than that can still need more.
"""
import math
import os
import resource

from hypothesis import HealthCheck, Phase, find, given, settings


BASELINE = 64 << 20  # bytes: the interpreter, numpy, Hypothesis and gradcheck
PER_ELEMENT = {"input": 40 * 8, "output": 40 * 8, "gathered": 4 * 8}  # bytes per element of each kind of array
SECONDS_PER_MULTIPLY_ADD = 1.5e-9  # an im2col layer
SECONDS_PER_CALL = 2e-4
CALLS = 30  # forward-sized evaluations one check takes


def estimate_bytes(config):
    """Peak memory of checking ``config``, in bytes."""
    input_size = math.prod(config.x_shape)
    output_size = math.prod(config.out_shape)
    gathered = output_size // (config.filters if config.is_conv else 1) * _taps(config)
    return (BASELINE + PER_ELEMENT["input"] * input_size + PER_ELEMENT["output"] * output_size
            + PER_ELEMENT["gathered"] * gathered)


def estimate_seconds(config):
    """Time of checking ``config`` with a fast (vectorized) layer: an optimistic estimate."""
    multiply_adds = math.prod(config.out_shape) * _taps(config) + math.prod(config.x_shape)
    return CALLS * (SECONDS_PER_CALL + SECONDS_PER_MULTIPLY_ADD * multiply_adds)


def expected_seconds(strategy, examples, sample=8):
    """About how long ``examples`` configurations drawn from ``strategy`` take, from a sample of them."""
    drawn = []

    @settings(database=None, max_examples=sample, phases=[Phase.generate], derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(config):
        drawn.append(estimate_seconds(config))

    draw()
    return examples * sum(drawn) / len(drawn)


def _taps(config):
    """Multiply-adds per output element: KH * KW, times C for a conv."""
    return config.kernel[0] * config.kernel[1] * (config.channels if config.is_conv else 1)


def available_bytes():
    """Memory this process may still use: MemAvailable (Linux), capped by an address-space limit; None if
    unknown."""
    found = []
    try:
        with open("/proc/meminfo") as meminfo:
            found += [int(line.split()[1]) * 1024 for line in meminfo if line.startswith("MemAvailable:")]
    except OSError:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit != resource.RLIM_INFINITY:
        found.append(limit)
    return min(found) if found else None


def smallest(strategy):
    """The smallest configuration ``strategy`` (a search's) can draw: what every search starts from."""
    return find(strategy, lambda config: True,
                settings=settings(database=None, max_examples=10, phases=[Phase.generate, Phase.shrink],
                                  suppress_health_check=list(HealthCheck)))


def require_fit(config, available=None):
    """Raise ValueError (the estimate, and the largest input that fits) when ``config`` cannot fit in memory.

    ``config`` is the one configuration to check, or the smallest one a search can draw.
    """
    available = available_bytes() if available is None else available
    needed = estimate_bytes(config)
    if available is None or needed <= available:
        return
    fits = _largest_side(config, available)
    advice = (f"the largest input that fits with the other dimensions as they are is {fits}x{fits}" if fits
              else "no input fits with the other dimensions as they are; lower the batch, channels or filters")
    raise ValueError(f"checking {config.describe()} needs about {_gb(needed)} of memory (estimated), more than the "
                     f"{_gb(available)} available; {advice}")


def _largest_side(config, available):
    """The largest square input side whose configuration fits in ``available`` bytes, or 0."""
    window = config.window
    low = max(1, max(e - 2 * p for e, p in zip(window.extent, window.pad)))  # the smallest side that works
    if estimate_bytes(config.replace(size=low)) > available:
        return 0
    high = max(config.size)
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if estimate_bytes(config.replace(size=middle)) <= available else (low, middle - 1)
    return low


def _gb(size):
    return f"{size / 2**30:.1f} GB" if size >= 2**30 else f"{size / 2**20:.0f} MB"
