"""Hints: the likely mistake behind a failure, in a student's words, each backed by a measurement.

Every function here looks at numbers the check already has (or computes one
more reference answer) and returns a hint only when the measurement holds,
e.g. "dB is the expected gradient divided by the batch size 2" is said only
when actual / expected is 1/2 at every element.
"""
import math

import numpy as np

from .compare import FLOAT64

CLOSE = FLOAT64  # measurements compare to float64 precision; a hint must hold exactly, not roughly
OVERWRITE_WINDOWS = 256  # output positions up to which a backward that overwrites is simulated


def forward_hints(actual, expected, config, inputs):
    """Why forward's output differs from the reference's: the first measurement that holds."""
    if config.layer == "maxpool" and config.pad != (0, 0) and _close(actual, _pool_padded_with_zeros(config, inputs)):
        return ["forward pads with zeros: max pooling must pad with -inf so that padding never wins "
                "(with negative inputs a zero pad becomes the maximum)"]
    if config.layer == "avgpool" and config.pad != (0, 0) and _close(actual, _average_of_unpadded(config, inputs)):
        return ["forward divides each window by its number of unpadded elements: the padding counts in the "
                f"divisor, which is always the pool area {config.kernel[0]}x{config.kernel[1]}"]
    if config.is_conv and _close(actual, _flipped_reference(config, inputs).forward(inputs.x)):
        return ["forward uses the kernel rotated by 180 degrees: a conv layer correlates, "
                "out[i, j] = sum x[i*S + s, j*S + t] * W[s, t], without flipping W"]
    if actual.size and not actual.any() and expected.any():
        return ["forward returns all zeros"]
    return _first(_rounding_hints("forward", actual, expected, inputs.precision),
                  _ratio_hints("forward", actual, expected, config), _batch_hints("forward", actual, expected),
                  _order_hints("forward", actual, expected))


def gradient_hints(name, actual, expected, result, config, inputs):
    """Why a gradient (dX, dW or dB) differs from the expected one: the specific measurements that
    hold, or else the first generic one (constant ratio, batch, order)."""
    hints = []
    if config.is_conv and name == "dX":
        flipped = _flipped_reference(config, inputs)
        flipped.forward(inputs.x)
        if _close(actual, flipped.backward(inputs.dout)):
            hints.append("dX is what the kernel rotated by 180 degrees gives: the kernel is flipped in "
                         "backward (or flipped twice)")
    if name == "dW" and _close(actual, expected[:, :, ::-1, ::-1]):
        hints.append("dW is the expected gradient rotated by 180 degrees: the kernel is flipped somewhere")
    if name == "dX":
        hints += _padding_hints(actual, result, config, inputs)
        hints += _overlap_hints(actual, expected, result, config, inputs)
    return hints or _first(_rounding_hints(name, actual, expected, inputs.precision),
                           _ratio_hints(name, actual, expected, config), _batch_hints(name, actual, expected),
                           _order_hints(name, actual, expected))


def _first(*candidates):
    return next((hints for hints in candidates if hints), [])


def shape_hints(name, shape, config):
    """Why a gradient has the wrong shape."""
    n, c, h, w = config.x_shape
    (ph, pw) = config.pad
    if name == "dX" and tuple(shape) == (n, c, h + 2 * ph, w + 2 * pw) and (ph or pw):
        return [f"dX has the shape of the padded input: strip the padding, dx[:, :, {ph}:{ph + h}, {pw}:{pw + w}]"]
    if name == "dX" and len(shape) == 4 and tuple(shape[:2]) == (n, c) and 0 in shape[2:] and config.pad == (0, 0):
        return [EMPTY_SLICE_HINT]
    if name == "dX" and tuple(shape) == (n, c, w, h):
        return ["dX has height and width swapped"]
    if name == "dW" and len(shape) == 2:
        return ["dW is still a matrix: reshape it to W's shape (F, C, KH, KW)"]
    return []


def ties_hints(total, dout, ties, wrong):
    """Why windows with tied maxima route the wrong total: (N, C, OH, OW) arrays, ``wrong`` the bad windows."""
    if np.allclose(total[wrong], ties[wrong] * dout[wrong], rtol=1e-9, atol=0) and (ties[wrong] > 1).all():
        return ["every tied maximum gets the whole gradient of its window (a mask window == max), so a window "
                "with k ties routes k times its dout: send it to one of them (the first, as np.argmax does) or "
                "split it among them"]
    if not total[wrong].any():
        return ["windows with tied maxima route no gradient at all: a tied maximum must still receive the "
                "window's dout"]
    return []


# Errors of a float32 computation: at most about 1e-6 of the array's largest value, and spread over the array.
FLOAT32_ROUNDING = 1e-5


def _rounding_hints(name, actual, expected, precision):
    """Errors the size of float32 rounding, at most elements, under float64 precision: float32 inside."""
    if precision != "float64" or actual.shape != expected.shape or not actual.size:
        return []
    scale = np.abs(expected).max(initial=0.0)
    error = np.abs(actual - expected)
    if scale == 0 or error.max() > FLOAT32_ROUNDING * scale or np.mean(error > 1e-12 * scale) < 0.5:
        return []
    return [f"{name} differs by at most {error.max() / scale:.1e} of its largest value, at most elements: the "
            "size of float32 rounding, so the layer computes in float32 somewhere (a float32 array or dtype); "
            "if that is intended, check it with --precision float32"]


def repeat_hints(what, first, second):
    """Why a second backward with the same dout gives other gradients."""
    if np.allclose(second, 2 * first, rtol=1e-9, atol=0) and np.abs(first).max(initial=0) > 0:
        return [f"{what} doubles on the second backward: gradients accumulate across calls "
                f"({what} += ... with no reset); assign it (=) or zero it at the start of backward"]
    return []


EMPTY_SLICE_HINT = ("with pad 0 a slice dx_pad[:, :, pad:-pad, pad:-pad] is [0:-0], which is empty: cut the "
                    "padding with dx_pad[:, :, pad:pad + H, pad:pad + W]")
TRIGGER_HINTS = {
    "stride > 1": "check how output (i, j) maps to input rows i*stride + s: stepping through the input with "
                  "the stride but indexing dout with the input position is the classic mistake",
    "pad > 0": "check where the padding is added in forward and stripped again in backward",
    "pad = 0": EMPTY_SLICE_HINT,
    "batch > 1": "the batch axis is mishandled: a mean where the loss needs a sum, or only sample 0 used",
    "the input is not square": "height and width are swapped somewhere (H and W)",
    "the kernel is not square": "the kernel's height and width are swapped somewhere (KH and KW)",
    "the kernel is not 3x3": "the kernel size seems hard-coded as 3; read it from W.shape",
    "pooling windows overlap": "where pooling windows overlap their gradients must add up (+=), not overwrite (=)",
    "channels > 1": "the channel axis C is mishandled",
    "filters > 1": "the filter axis F is mishandled",
    "filters != channels": "the channel (C) and filter (F) axes are mixed up",
    "dilation > 1": "dilation is ignored or applied on the wrong axis",
    "the stride does not divide the padded input": "the output size is wrong when the stride does not divide "
                                                   "H + 2*pad - KH: use floor division, (H + 2P - KH) // S + 1",
}


def trigger_hints(conditions):
    """Hints for the trigger conditions the fuzzer measured (e.g. 'stride > 1')."""
    return [TRIGGER_HINTS[c] for c in conditions if c in TRIGGER_HINTS]


def refusal_hints(conditions):
    """What to do about a layer that refuses configurations on purpose: no gradient hint, and ``--divisible``
    when what it refuses is an input the stride does not divide."""
    if "the stride does not divide the padded input" in conditions:
        return ["the layer accepts only inputs the stride divides: check it on those alone with --divisible "
                "(the stride then divides H + 2P - KH and W + 2P - KW)"]
    return []


def _ratio_hints(name, actual, expected, config):
    """actual = r * expected everywhere: named when r is 1/N, N, -1 or the pool area, else the number."""
    ratio, elements = _constant_ratio(actual, expected)
    if ratio is None:
        return []
    n, area = config.batch, config.kernel[0] * config.kernel[1]
    named = [(-1, f"{name} has the wrong sign")]
    if n > 1:
        named += [(1 / n, f"{name} is the expected value divided by the batch size {n}: the loss sums over "
                          "the batch, so sum over samples instead of averaging"),
                  (n, f"{name} is the expected value times the batch size {n}")]
    if config.layer == "avgpool" and area > 1:
        named += [(area, f"{name} is {area} times too large: the division by the pool area "
                         f"{config.kernel[0]}x{config.kernel[1]} is missing"),
                  (1 / area, f"{name} is divided by the pool area {area} once too often")]
    for value, hint in named:
        if np.isclose(ratio, value, rtol=1e-9):
            return [hint]
    if elements < 2:  # one element always has "a constant ratio"; only a named one means something
        return []
    return [f"{name} is {ratio:.6g} times the expected value at every element: a constant factor is wrong"]


def _constant_ratio(actual, expected):
    """(r, elements) when actual = r * expected (r != 1) at every element, the zeros of expected included."""
    if actual.shape != expected.shape:
        return None, 0
    big = np.abs(expected) > 1e-6 * np.abs(expected).max(initial=0)
    if not big.any() or not np.allclose(actual[~big], 0, atol=1e-9 * np.abs(actual).max(initial=1)):
        return None, 0
    ratios = actual[big] / expected[big]
    ratio = float(np.median(ratios))
    if np.isclose(ratio, 1, rtol=1e-9) or not np.allclose(ratios, ratio, rtol=1e-9, atol=0):
        return None, 0
    return ratio, int(big.sum())


def _order_hints(name, actual, expected):
    """The right values in the wrong places: only said of arrays with at least 4 distinct nonzero values,
    where a permutation by accident is not plausible."""
    if actual.size and not actual.any() and expected.any():
        return [f"{name} is all zeros"]
    if (actual.shape == expected.shape and len(np.unique(expected[expected != 0])) >= 4
            and not _close(actual, expected) and _close(np.sort(actual, axis=None), np.sort(expected, axis=None))):
        return [f"{name} holds exactly the expected values, in the wrong places: check the order of a "
                "reshape or transpose"]
    return []


def _batch_hints(name, actual, expected):
    """Right for the first samples of the batch and wrong for every later one."""
    if actual.shape != expected.shape or actual.ndim != 4 or actual.shape[0] < 2:
        return []
    right = [_close(actual[n:n + 1], expected[n:n + 1]) for n in range(actual.shape[0])]
    first = right.index(False) if False in right else len(right)
    if first == 0 or any(right[first:]):
        return []
    if first == 1:
        return [f"{name} is right for the first sample only: the other samples of the batch are mishandled"]
    return [f"{name} is right for samples 0 to {first - 1} only and wrong from sample {first} on: a batch size "
            "written into the code?"]


def _padding_hints(actual, result, config, inputs):
    """dX cut from the padded gradient at the wrong offset, or wrong only in the border rows/columns."""
    if config.pad == (0, 0) or result.mismatches is None:
        return []
    padded_grad = _padded_input_gradient(config, inputs)
    h, w = config.size
    (ph, pw) = config.pad
    for top in range(2 * ph + 1):
        for left in range(2 * pw + 1):
            if (top, left) != (ph, pw) and _close(actual, padded_grad[:, :, top:top + h, left:left + w]):
                return [f"dX is the padded gradient cut at rows {top}:{top + h} and columns {left}:{left + w}: "
                        f"the padding is stripped from the wrong side; cut [{ph}:{ph + h}, {pw}:{pw + w}]"]
    border = np.ones(config.size, bool)
    border[ph:h - ph, pw:w - pw] = False
    if (~border).any() and not result.mismatches[:, :, ~border].any():  # right inside, wrong at the border
        return [f"dX is wrong only in the {ph} border row(s)/{pw} column(s) next to the padding: "
                "check how the padding is stripped in backward"]
    return []


def _overlap_hints(actual, expected, result, config, inputs):
    """Assignment instead of addition where windows overlap: dX is what a backward that assigns (=) each
    window's gradient gives, or it is right exactly where windows do not overlap."""
    if result.mismatches is None or not config.windows_overlap:
        return []
    hint = ["dX is what assigning each window's gradient gives, later windows overwriting earlier ones: the "
            "gradients of overlapping windows must add up (+=), not overwrite each other (=)"]
    if math.prod(config.out_shape[2:]) <= OVERWRITE_WINDOWS and _close(actual, _overwritten(config, inputs)):
        return hint
    window = config.window
    padded = np.zeros(tuple(n + 2 * p for n, p in zip(config.size, window.pad)))
    per_tap = np.ones(window.size + config.out_shape[2:])
    coverage = window.unpad(window.scatter_add(padded, per_tap))  # windows reaching each input position
    overlapped = np.broadcast_to(coverage > 1, actual.shape)
    if result.mismatches[~overlapped].any() or not (~overlapped).any():
        return []
    return ["dX is right where windows do not overlap and wrong only where they do: the gradients of "
            "overlapping windows must add up (+=), not overwrite each other (=)"]


def _overwritten(config, inputs):
    """dX from a backward that assigns each window's gradient, window after window in row-major order."""
    window = config.window
    x_padded = window.pad_input(inputs.x.astype(np.float64), -np.inf if config.layer == "maxpool" else 0.0)
    dx_padded = np.zeros(x_padded.shape)
    dout = inputs.dout.astype(np.float64)
    for i in range(config.out_shape[2]):
        for j in range(config.out_shape[3]):
            rows, cols = window.window_at(i, j)
            dx_padded[:, :, rows, cols] = _window_gradient(config, inputs, dout[:, :, i, j], x_padded[:, :, rows, cols])
    return window.unpad(dx_padded)


def _window_gradient(config, inputs, dout, patch):
    """What one window's output sends back to its taps: (N, C, KH, KW)."""
    if config.is_conv:
        return np.einsum("nf,fcst->ncst", dout, inputs.params["W"].astype(np.float64))
    if config.layer == "avgpool":
        return np.broadcast_to(dout[:, :, None, None] / math.prod(config.kernel), patch.shape)
    flat = patch.reshape(patch.shape[:2] + (-1,))
    first = np.arange(flat.shape[2]) == flat.argmax(axis=2)[..., None]
    return (first * dout[:, :, None]).reshape(patch.shape)


def _pool_padded_with_zeros(config, inputs):
    x_padded = config.window.pad_input(inputs.x, 0.0)
    return config.replace(size=x_padded.shape[2:], pad=0).reference_layer({}).forward(x_padded)


def _average_of_unpadded(config, inputs):
    """Average pooling whose divisor counts only the real (unpadded) elements of each window."""
    layer = config.reference_layer({})
    sums = layer.forward(inputs.x)
    counts = config.reference_layer({}).forward(np.ones(config.x_shape))
    return sums / counts


def _flipped_reference(config, inputs):
    rotated = inputs.params["W"][:, :, ::-1, ::-1].copy()
    return config.reference_layer({"W": rotated, "b": inputs.params["b"]})


def _padded_input_gradient(config, inputs):
    """d/dx_pad of sum(forward * dout): the reference layer run on the already padded input."""
    fill = 0.0 if config.layer != "maxpool" else inputs.x.min() - 1e6  # never wins, like -inf
    x_padded = config.window.pad_input(inputs.x, fill)
    unpadded = config.replace(size=x_padded.shape[2:], pad=0)
    layer = unpadded.reference_layer(inputs.params)
    layer.forward(x_padded)
    return layer.backward(inputs.dout)


def _close(a, b):
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= CLOSE.bound(b)))
