"""maxpool: max pooling, x (N, C, H, W) -> each window's maximum, with stride and pad (-inf) per axis.

``gradcheck pool --mode max`` checks it on the windowed engine
(``gradcheck.api``) on inputs without ties (each window's gradient goes to
its one maximum), and ``ties`` on inputs with exact ties: forward is the
maximum and each window's gradient goes to its tied maxima only, summing to
dout; see ``gradcheck.checks``.  Its own named mistakes, beside those every
windowed kind gets (``gradcheck.diagnose``): padding with zeros, which win
over negative inputs, and averaging each window, in forward or in dX.
"""
import numpy as np

from reference_layers.pool import MaxPool2dIm2col, MaxPool2dLoops

from ..diagnose import close, reference_answers
from . import WindowedKind

PADDED_WITH_ZEROS = ("forward pads with zeros: max pooling must pad with -inf so that padding never wins (with "
                     "negative inputs a zero pad becomes the maximum)")
AVERAGED = "forward averages each window: max pooling takes each window's maximum (np.max), not its mean"
SPREAD = ("dX spreads each window's gradient evenly over it, as average pooling does: max pooling sends all of it "
          "to the window's maximum")


def forward_hints(actual, expected, config, inputs, probe):
    if config.pad != (0, 0) and close(actual, _padded_with_zeros(config, inputs)):
        return [PADDED_WITH_ZEROS]
    return [AVERAGED] if close(actual, _average_pool(config, inputs)["forward"]) else []


def gradient_hints(name, actual, expected, config, inputs, probe):
    return [SPREAD] if name == "dX" and close(actual, _average_pool(config, inputs)["dX"]) else []


def window_gradient(config, inputs, dout, patch):
    """What one window's output sends back to its taps (N, C, KH, KW): all of it to the first maximum."""
    flat = patch.reshape(patch.shape[:2] + (-1,))
    first = np.arange(flat.shape[2]) == flat.argmax(axis=2)[..., None]
    return (first * dout[:, :, None]).reshape(patch.shape)


def _padded_with_zeros(config, inputs):
    x_padded = config.window.pad_input(inputs.x, 0.0)
    return config.replace(size=x_padded.shape[2:], pad=0).reference_layer({}).forward(x_padded)


def _average_pool(config, inputs):
    """forward and dX of average pooling with ``config``'s window."""
    return reference_answers(config.replace(layer="avgpool"), inputs)


KIND = WindowedKind(
    "maxpool", "max pooling (gradcheck pool --mode max)", ("pool", "--mode", "max"),
    (MaxPool2dIm2col, MaxPool2dLoops), ("forward", "dX", "repeatable", "no-mutation", "fresh-cache", "ties"),
    calls=6 + 7, cs231n_name="max_pool_forward_naive", pad_fill=-np.inf, forward_hints=forward_hints,
    gradient_hints=gradient_hints, window_gradient=window_gradient)
