"""avgpool: average pooling, x (N, C, H, W) -> each window's mean, with stride and pad (zeros, counted) per axis.

``gradcheck pool --mode avg`` checks it on the windowed engine
(``gradcheck.api``); see ``gradcheck.checks``.  cs231n's assignment has no
average pool: ``gradcheck grade --layers avgpool=NAME`` must name its forward.
Its own named mistakes, beside those every windowed kind gets
(``gradcheck.diagnose``): dividing a window by its unpadded elements alone,
and a gradient off by the pool area.
"""
import math

import numpy as np

from reference_layers.pool import AvgPool2dIm2col, AvgPool2dLoops

from ..diagnose import close
from . import WindowedKind


def forward_hints(actual, expected, config, inputs, probe):
    if config.pad != (0, 0) and close(actual, _average_of_unpadded(config, inputs)):
        return ["forward divides each window by its number of unpadded elements: the padding counts in the "
                f"divisor, which is always the pool area {config.kernel[0]}x{config.kernel[1]}"]
    return []


def factors(name, config):
    """(factor, hint): ``name`` off by the pool area."""
    area = math.prod(config.kernel)
    if area == 1:
        return []
    return [(area, f"{name} is {area} times too large: the division by the pool area "
                   f"{config.kernel[0]}x{config.kernel[1]} is missing"),
            (1 / area, f"{name} is divided by the pool area {area} once too often")]


def window_gradient(config, inputs, dout, patch):
    """What one window's output sends back to its taps (N, C, KH, KW): an equal share to each."""
    return np.broadcast_to(dout[:, :, None, None] / math.prod(config.kernel), patch.shape)


def _average_of_unpadded(config, inputs):
    """Average pooling whose divisor counts only the real (unpadded) elements of each window."""
    layer = config.reference_layer({})
    sums = layer.forward(inputs.x)
    counts = config.reference_layer({}).forward(np.ones(config.x_shape))
    return sums / counts


KIND = WindowedKind(
    "avgpool", "average pooling (gradcheck pool --mode avg)", ("pool", "--mode", "avg"),
    (AvgPool2dIm2col, AvgPool2dLoops), ("forward", "dX", "repeatable", "no-mutation", "fresh-cache"), calls=6 + 7,
    forward_hints=forward_hints, factors=factors, window_gradient=window_gradient)
