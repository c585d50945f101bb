"""Hints: the likely mistake behind a failure, in a student's words, each backed by a measurement.

Every function here looks at numbers the check already has (or computes one
more reference answer) and returns a hint only when the measurement holds,
e.g. "dB is the expected gradient divided by the batch size 2" is said only
when actual / expected is 1/2 at every element.  A few measurements need the
layer itself once more (a ``Probe``): on a configuration where candidates the
failing one cannot tell apart differ (a kernel flipped on one axis and one
rotated by 180 degrees coincide on a 1xK kernel), and with x given as the
start of larger buffers (a forward that reads past the end of x).
"""
import dataclasses
import math
import re

import numpy as np

from .adapters import ImplementationError
from .compare import FLOAT64
from .inputs import make_inputs

CLOSE = FLOAT64  # measurements compare to float64 precision; a hint must hold exactly, not roughly
OVERWRITE_WINDOWS = 256  # output positions up to which a backward that overwrites is simulated


def forward_hints(actual, expected, config, inputs, probe=None):
    """Why forward's output (of the right shape) differs from the reference's: the first measurement that holds.
    An output that is not finite is measured only for a read past the end of x."""
    if not np.isfinite(actual).all():
        return _read_past_x_hints(probe)
    own = config.kind.forward_hints
    zeros = ["forward returns all zeros"] if actual.size and not actual.any() and expected.any() else []
    return _first(lambda: own(actual, expected, config, inputs, probe) if own else [],
                  lambda: _truncation_hints("forward", actual, expected, config, inputs, probe), lambda: zeros,
                  lambda: _read_past_x_hints(probe),
                  lambda: _rounding_hints("forward", actual, expected, inputs.precision),
                  lambda: _ratio_hints("forward", actual, expected, config),
                  lambda: _batch_hints("forward", actual, expected), lambda: _order_hints("forward", actual, expected))


def hidden_forward_hints(config, inputs, probe):
    """Why forward is wrong where its values matched the reference's by chance (an x of whole numbers, which a
    truncation keeps, or of zeros, which hide a flipped kernel): the hints of its output on x scaled by
    TRUNCATION_SCALE plus fractions of both signs (-0.7 first, then up to 0.5 by 0.2: never zero or whole, and
    no exact tie, steps of 0.2 never bridging the scaled grid's 1.0625), where it differs; none when it does not or
    the layer cannot run again."""
    ramp = ((np.arange(inputs.x.size) % 7 - 3.5) / 5).reshape(inputs.x.shape)
    scaled = dataclasses.replace(_scaled(inputs), x=(inputs.x * TRUNCATION_SCALE + ramp).astype(inputs.x.dtype))
    answers = probe.on(config, scaled) if probe is not None else None
    if answers is None or "forward" not in answers[1]:
        return []
    actual, expected = answers[1]["forward"], reference_answers(config, scaled)["forward"]
    if actual.shape != expected.shape or close(actual, expected):
        return []
    return forward_hints(actual, expected, config, scaled, probe)


def gradient_hints(name, actual, expected, result, config, inputs, probe=None):
    """Why a gradient (dX, dW or dB) differs from the expected one: the specific measurements that
    hold (the kind's own first), or else the first generic one (constant ratio, batch, order)."""
    own = config.kind.gradient_hints
    hints = own(name, actual, expected, config, inputs, probe) if own else []
    if name == "dX":
        hints += _padding_hints(actual, result, config, inputs)
        hints += _overlap_hints(actual, expected, result, config, inputs)
    hints += _truncation_hints(name, actual, expected, config, inputs, probe)
    return hints or _first(lambda: _rounding_hints(name, actual, expected, inputs.precision),
                           lambda: _ratio_hints(name, actual, expected, config),
                           lambda: _batch_hints(name, actual, expected), lambda: _order_hints(name, actual, expected))


def _first(*measurements):
    """The hints of the first measurement that gives any; the later ones (some run the layer again) never run."""
    return next((hints for hints in (measure() for measure in measurements) if hints), [])


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
    if name == "dX" and len(shape) == 4 and tuple(shape[:2]) == (n, c) and tuple(shape[2:]) != (h, w) and \
            all(side in _window_sides(config, axis) for axis, side in enumerate(shape[2:])):
        return [f"dX is {shape[2]}x{shape[3]}, only the rows and columns the windows reach: backward's padded "
                "buffer ends at the last window ((OH - 1) * S + KH rows), but the stride does not divide "
                "H + 2P - KH here, so rows (or columns) of x lie past it; they get gradient 0 and belong to dX too: "
                "make the buffer the padded input's size, H + 2P by W + 2P"]
    if name == "dW" and len(shape) == 2:
        return ["dW is still a matrix: reshape it to W's shape (F, C, KH, KW)"]
    return []


def _window_sides(config, axis):
    """The sizes of x along ``axis`` a buffer ending at the last window gives once the padding is cut off: at the
    start and at x's size ([P:P + H]), or at both ends of the buffer ([P:-P])."""
    window = config.window
    reach = (config.out_shape[2 + axis] - 1) * window.stride[axis] + window.extent[axis]
    n, p = config.size[axis], window.pad[axis]
    return {min(n, reach - p), reach - 2 * p}


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
    "the kernel is not 3x3": "the kernel size seems hard-coded as 3; read it from W.shape",
    "pooling windows overlap": "where pooling windows overlap their gradients must add up (+=), not overwrite (=)",
    "channels > 1": "the channel axis C is mishandled",
    "filters > 1": "the filter axis F is mishandled",
    "filters != channels": "the channel (C) and filter (F) axes are mixed up",
    "dilation > 1": "dilation is ignored or applied on the wrong axis",
    "stride == kernel": "the layer is wrong only where its windows tile the input (stride equal to a square kernel): "
                        "look for code that treats that case apart (a reshape into tiles, np.repeat, a shortcut) "
                        "and compare it with the general one",
    "the kernel is even": "the layer is wrong only for kernels of even size, which have no centre: look for K // 2 "
                          "or (K - 1) // 2 taken as a centre or as the padding",
    "the stride does not divide the padded input": "the output size is wrong when the stride does not divide "
                                                   "H + 2*pad - KH: use floor division, (H + 2P - KH) // S + 1",
}
OVERWRITTEN_HINT = ("dX is what assigning each window's gradient gives, later windows overwriting earlier ones: the "
                    "gradients of overlapping windows must add up (+=), not overwrite each other (=)")
SAID_BY = {"pooling windows overlap": OVERWRITTEN_HINT}  # a rule's hint that a measured hint says, and more
REMAINDER = "the stride does not divide the padded input"
NO_PAD = "pad = 0"
NOT_SQUARE = "the kernel is not square"


def trigger_hints(conditions, names=(), results=(), config=None, measured=()):
    """Hints for the trigger conditions the fuzzer measured as rules (e.g. 'stride > 1') for the checks ``names``,
    given ``results``, every CheckResult of the failing ``config``.  The floor-division hint is for a forward
    whose output shape is wrong there: it is measured on ``results`` (none given: no hint), and when forward's
    shape is right the hint says so, and where the rule points.  The empty-slice hint is for a dX that came back
    empty (or raised assigning an empty slice) at pad 0, whether or not "pad = 0" held as a rule.  A non-square
    kernel's hint says which kernel forward's output shape is made for.  A rule's hint that one of the
    ``measured`` hints already says (``SAID_BY``) is left out."""
    hints = [TRIGGER_HINTS[c] for c in conditions if c in TRIGGER_HINTS and c not in (REMAINDER, NO_PAD)
             and SAID_BY.get(c) not in measured]
    if REMAINDER in conditions and results:
        hints.append(_remainder_hint(names, results))
    if NOT_SQUARE in conditions and config is not None:
        hints.append(_square_kernel_hint(names, config, results))
    unpadded = NO_PAD in conditions or (config is not None and config.pad == (0, 0))
    if unpadded and any(_empty(r) for r in results if r.name == "dX"):
        hints.append(TRIGGER_HINTS[NO_PAD])  # an empty array, as a slice [pad:-pad] gives with pad 0
    return hints


def _square_kernel_hint(names, config, results):
    """Why the checks ``names`` are right on square kernels only: when forward's output shape is wrong, the kernel
    it is the shape of (KW by KW, as ``f, f, C, F = W.shape`` reads it; KH by KH; or KW by KH)."""
    if "forward" not in names:
        return "the kernel's height and width are swapped somewhere in backward (KH and KW)"
    made = next((tuple(r.shapes[0]) for r in results if r.name == "forward" and r.shapes is not None), None)
    kh, kw = config.kernel
    made_for = {(kw, kw): f"a square {kw}x{kw} kernel, KW for both sides (as f, f, C, F = W.shape leaves f = KW)",
                (kh, kh): f"a square {kh}x{kh} kernel, KH for both sides",
                (kw, kh): f"a {kw}x{kh} kernel: the kernel's height and width are swapped (KH and KW)"}
    for kernel, text in made_for.items():
        if made is not None and made[2:] == _output_size(config, kernel):
            return f"forward's output has the shape of {text}: read KH and KW apart"
    return "the layer is right on square kernels only: somewhere KH and KW are not kept apart"


def _output_size(config, kernel):
    """(OH, OW) that ``config`` gives with ``kernel``, floored, zero or less where the kernel does not fit."""
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, d, k, s in
                 zip(config.size, config.pad, config.dilation, kernel, config.stride))


# NumPy's words for an assignment from an empty array ("could not broadcast input array from shape (0,0,1) into
# shape (1,1,1)"), as dx[...] = dx_pad[pad:-pad, pad:-pad] with pad 0 raises.
EMPTY_BROADCAST = re.compile(r"could not broadcast input array from shape \((?:\d+,)*0[,)]")


def _empty(result):
    """Whether the check's array came back empty, or the layer raised assigning from an empty one."""
    if result.shapes is not None:
        return 0 in result.shapes[0]
    return bool(result.error) and EMPTY_BROADCAST.search(result.error.get("message", "")) is not None


def _remainder_hint(names, results):
    if any(r.name == "forward" and r.shapes is not None for r in results):
        return TRIGGER_HINTS[REMAINDER]
    where = ("check where the windows start, row i * S of the padded input, and that those rows are left out"
             if "forward" in names else "check how backward handles them")
    return (f"forward's output shape is right here; {', '.join(names)} {'is' if len(names) == 1 else 'are'} wrong "
            "only when the stride does not divide H + 2P - KH, that is when rows (or columns) of the padded input "
            f"lie past the last window, in no window, with gradient 0: {where}")


# What NumPy says when float() or int() is given an array that is not 0-dimensional (deprecated in NumPy 1.25, an
# error in later versions, this machine's included).
SCALAR_CONVERSION = "only 0-dimensional arrays can be converted to Python scalars"
# What NumPy says when a float result is added in place (+=, np.add.at) to an int array.
INT_IN_PLACE = re.compile(r"Cannot cast ufunc '\w+' output from dtype\('float\d*'\) to dtype\('u?int\d*'\)")


def error_hints(error):
    """Why the layer raised, when the cause is known: float() of an array on a NumPy that refuses it, or floats
    added in place to an int array."""
    message = (error or {}).get("message", "")
    where = f" (at {error['location']})" if error and error.get("location") else ""
    if error and error.get("type") == "TypeError" and SCALAR_CONVERSION in message:
        return [f"float() or int() of an array that is not 0-dimensional, even of one element (shape (1,)), raises "
                f"TypeError on this NumPy ({np.__version__}; deprecated since 1.25){where}: take the number out "
                "with .item() or by indexing, as float(a.item()) or a[0]"]
    if error and error.get("type") == "UFuncTypeError" and INT_IN_PLACE.search(message):
        return [f"floats are added in place{where} to {INT_ARRAY}"]
    return []


def refusal_hints(conditions):
    """What to do about a layer that refuses configurations on purpose: no gradient hint, and ``--divisible``
    when what it refuses is an input the stride does not divide."""
    if "the stride does not divide the padded input" in conditions:
        return ["the layer accepts only inputs the stride divides: check it on those alone with --divisible "
                "(the stride then divides H + 2P - KH and W + 2P - KW)"]
    return []


def _ratio_hints(name, actual, expected, config):
    """actual = r * expected everywhere: named when r is 1/N, N, -1 or a factor the kind names, else the
    number."""
    ratio, elements = _constant_ratio(actual, expected)
    if ratio is None:
        return []
    n = config.batch
    named = [(-1, f"{name} has the wrong sign")]
    if n > 1:
        named += [(1 / n, f"{name} is the expected value divided by the batch size {n}: the loss sums over "
                          "the batch, so sum over samples instead of averaging"),
                  (n, f"{name} is the expected value times the batch size {n}")]
    named += config.kind.factors(name, config) if config.kind.factors else []
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
            and not close(actual, expected) and close(np.sort(actual, axis=None), np.sort(expected, axis=None))):
        return [f"{name} holds exactly the expected values, in the wrong places: check the order of a "
                "reshape or transpose"]
    return []


def _batch_hints(name, actual, expected):
    """Right for the first samples of the batch and wrong for every later one."""
    if actual.shape != expected.shape or actual.ndim != 4 or actual.shape[0] < 2:
        return []
    right = [close(actual[n:n + 1], expected[n:n + 1]) for n in range(actual.shape[0])]
    first = right.index(False) if False in right else len(right)
    if first == 0 or any(right[first:]):
        return []
    if first == 1:
        return [f"{name} is right for the first sample only: the other samples of the batch are mishandled"]
    return [f"{name} is right for samples 0 to {first - 1} only and wrong from sample {first} on: a batch size "
            "written into the code?"]


def _padding_hints(actual, result, config, inputs):
    """dX cut from the padded gradient at the wrong offset (for conv and average pooling, beyond the padding too:
    what backward gives with another pad), or wrong only in the border rows/columns.  A cut of zeros alone is no
    measurement: a dX of zeros matches it whatever the layer did."""
    if result.mismatches is None:
        return []
    h, w = config.size
    (ph, pw), (eh, ew) = config.pad, config.window.extent
    padded_grad = _padded_input_gradient(config, inputs)
    reach = (2 * ph, 2 * pw) if _never_wins(config) else (2 * ph + eh, 2 * pw + ew)
    extended = np.zeros(padded_grad.shape[:2] + (h + reach[0], w + reach[1]))
    extended[:, :, :padded_grad.shape[2], :padded_grad.shape[3]] = padded_grad
    sample, scale = actual[:1, :1], np.abs(actual).max(initial=0.0)  # a loose first look at one slice: cheaper
    offsets = sorted(((top, left) for top in range(reach[0] + 1) for left in range(reach[1] + 1)),
                     key=lambda o: o[0] - ph != o[1] - pw)  # a pad of its own first: shifted alike on both axes
    for top, left in offsets:
        cut = extended[:, :, top:top + h, left:left + w]
        if (top, left) != (ph, pw) and np.all(np.abs(sample - cut[:1, :1]) <= 1e-6 * scale) and cut.any() and \
                close(actual, cut):
            return [_cut_text(config, top, left)]
    if config.pad == (0, 0):
        return []
    border = np.ones(config.size, bool)
    border[ph:h - ph, pw:w - pw] = False
    if (~border).any() and not result.mismatches[:, :, ~border].any():  # right inside, wrong at the border
        return [f"dX is wrong only in the {ph} border row(s)/{pw} column(s) next to the padding: "
                "check how the padding is stripped in backward"]
    return []


def _cut_text(config, top, left):
    """What dX cut from the padded gradient at rows top:top + H, columns left:left + W means."""
    (h, w), (ph, pw) = config.size, config.pad
    other = pad_text((top, left))
    if top > 2 * ph or left > 2 * pw:  # past the padding: only a larger pad in backward reaches there
        return (f"dX is what backward gives with pad {other} where forward pads with {pad_text(config.pad)}: the "
                f"gradient of a layer padded by {other}, cut back to x's shape; use forward's pad in backward")
    also = (f" (that is also what backward gives with pad {other} where forward pads with "
            f"{pad_text(config.pad)}: use the same pad in both)") if not _never_wins(config) else ""
    return (f"dX is the padded gradient cut at rows {top}:{top + h} and columns {left}:{left + w}: the padding is "
            f"stripped from the wrong side; cut [{ph}:{ph + h}, {pw}:{pw + w}]{also}")


def pad_text(pad):
    return str(pad[0]) if pad[0] == pad[1] else f"{pad[0]}x{pad[1]}"


def _overlap_hints(actual, expected, result, config, inputs):
    """Assignment instead of addition where windows overlap: dX is what a backward that assigns (=) each
    window's gradient gives, or it is right exactly where windows do not overlap."""
    if result.mismatches is None or not any(o > 1 and s < e for o, s, e in zip(
            config.out_shape[2:], config.stride, config.window.extent)):  # no two windows share an input
        return []
    hint = [OVERWRITTEN_HINT]
    if math.prod(config.out_shape[2:]) <= OVERWRITE_WINDOWS and close(actual, _overwritten(config, inputs)):
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
    x_padded = window.pad_input(inputs.x.astype(np.float64), config.kind.pad_fill)
    dx_padded = np.zeros(x_padded.shape)
    dout = inputs.dout.astype(np.float64)
    for i in range(config.out_shape[2]):
        for j in range(config.out_shape[3]):
            rows, cols = window.window_at(i, j)
            dx_padded[:, :, rows, cols] = config.kind.window_gradient(config, inputs, dout[:, :, i, j],
                                                                      x_padded[:, :, rows, cols])
    return window.unpad(dx_padded)


def reference_answers(config, inputs):
    layer = config.reference_layer(as_float64(inputs.params))
    answers = {"forward": layer.forward(inputs.x.astype(np.float64)),
               "dX": layer.backward(inputs.dout.astype(np.float64))}
    if config.is_conv:
        answers.update(dW=layer.dW, dB=layer.db)
    return answers


# Arrays a truncation is measured on again when the failing ones are too small to show it (all cut to 0): scaled so
# that values pass 1; max-pool inputs, multiples of 1/8, stay distinct and do not become whole.
TRUNCATION_SCALE = 8.5
INT_ARRAY = ("an int array, as np.zeros(shape, dtype=int) (for the padding, say) or np.zeros_like of an int array "
             "makes; give it a float dtype (x.dtype)")


def _truncation_hints(name, actual, expected, config, inputs, probe):
    """Values cut to whole numbers by an int array: ``name`` written into one, or an input of it (x for forward
    and dW, dout for dX) copied into one first.  When every value concerned is below 1, cutting gives zeros, which
    any layer returning zeros gives too: the layer is then measured again on larger arrays."""
    if actual.shape != expected.shape:
        return []
    found = _truncated(name, actual, expected, config, inputs)
    if found is None and probe is not None:
        scaled = _scaled(inputs)
        answers = probe.on(config, scaled)
        if answers is not None and name in answers[1]:
            found = _truncated(name, answers[1][name], reference_answers(config, scaled)[name], config, scaled)
    return [found] if found else []


def _scaled(inputs):
    return dataclasses.replace(inputs, x=inputs.x * TRUNCATION_SCALE, dout=inputs.dout * TRUNCATION_SCALE,
                               params={k: v * TRUNCATION_SCALE for k, v in inputs.params.items()})


def _truncated(name, actual, expected, config, inputs):
    """The hint when ``actual`` is ``expected`` cut to whole numbers, or the answer for an input cut so; False
    when it is neither; None when it is what cutting gives only because every value cut was below 1 (zeros)."""
    undecided = False
    cut = np.trunc(expected)
    if not close(cut, expected) and close(actual, cut):
        if cut.any():
            return f"{name} is cut to whole numbers (truncated toward zero): it is written into {INT_ARRAY}"
        undecided = True
    what = {"forward": "x", "dW": "x", "dX": "dout"}.get(name)
    if what is None:
        return None if undecided else False
    x, dout = inputs.x.astype(np.float64), inputs.dout.astype(np.float64)
    source = np.trunc(x if what == "x" else dout)
    layer = config.reference_layer(as_float64(inputs.params))
    answers = {"forward": layer.forward(source if what == "x" else x),
               "dX": layer.backward(source if what == "dout" else dout)}
    value = layer.dW if name == "dW" else answers[name]
    if not close(value, expected) and close(actual, value):
        if value.any():  # else every value this one reaches was below 1: a layer returning zeros gives it too
            return (f"{name} is computed from {what} cut to whole numbers (truncated toward zero): {what} is copied "
                    f"into {INT_ARRAY}")
        undecided = True
    return None if undecided else False


def _read_past_x_hints(probe):
    if probe is None or not probe.reads_past_x():
        return []
    return ["forward reads memory past the end of x: its output changed when only what lies after x changed (x "
            "given as the start of a larger buffer). An np.lib.stride_tricks.as_strided view whose shape or "
            "strides run past the array does this: check them, or use np.lib.stride_tricks.sliding_window_view, "
            "which checks them for you"]


class Probe:
    """The layer under test, run once more for a measurement its failing configuration cannot make.

    ``on(config, inputs)`` runs a fresh layer on a configuration with other
    arrays (by default those of data seed 0): (inputs, {"forward", "dX"[,
    "dW", "dB"]}) up to the first that raised, or None when forward did.
    ``reads_past_x()`` gives forward the failing configuration's x as the
    start of larger buffers that differ only after x: an output that follows
    them was read from past the end of x.  A subject that gets copies of its
    arrays (``takes_views`` False: the grading sandbox's, where arrays travel
    as bytes) cannot be measured that way.
    """

    TAIL = 4096  # elements after x, at least: more than an off-by-a-few-rows window reaches

    def __init__(self, implementation, config, inputs):
        self.implementation, self.config, self.inputs = implementation, config, inputs
        self.seen = {}

    def on(self, config, inputs=None):
        if inputs is not None:
            return self._run(config, inputs)
        if config not in self.seen:  # forward, dX and dW may each ask for the same configuration
            self.seen[config] = self._run(config, make_inputs(config, 0, self.inputs.precision))
        return self.seen[config]

    def _run(self, config, inputs):
        answers = {}
        try:
            subject = self.implementation.make(config, {k: v.copy() for k, v in inputs.params.items()})
            answers["forward"] = subject.forward(inputs.x.copy())
            answers["dX"] = subject.backward(inputs.dout.copy())
            if config.is_conv:
                answers.update(dW=subject.read("dW"), dB=subject.read("db"))
        except ImplementationError:
            pass  # what came before the error is still measured
        return (inputs, answers) if answers else None

    def reads_past_x(self):
        x = self.inputs.x
        outputs = []
        for after in (0.0, 0.0, 1024.0):  # twice the same buffer, to know that the output is repeatable at all
            buffer = np.concatenate([x.ravel(), np.full(max(x.size, self.TAIL), after, x.dtype)])
            try:
                subject = self.implementation.make(self.config, {k: v.copy() for k, v in self.inputs.params.items()})
                if not getattr(subject, "takes_views", True):
                    return False
                outputs.append(np.asarray(subject.forward(buffer[:x.size].reshape(x.shape))))
            except ImplementationError:
                return False
        same, other = (a.shape == outputs[0].shape and np.array_equal(a, outputs[0], equal_nan=True)
                       for a in outputs[1:])
        return same and not other


def _padded_input_gradient(config, inputs):
    """d/dx_pad of sum(forward * dout): the reference layer run on the already padded input."""
    fill = inputs.x.min() - 1e6 if _never_wins(config) else config.kind.pad_fill  # never wins, like -inf
    x_padded = config.window.pad_input(inputs.x, fill)
    unpadded = config.replace(size=x_padded.shape[2:], pad=0)
    layer = unpadded.reference_layer(inputs.params)
    layer.forward(x_padded)
    return layer.backward(inputs.dout)


def _never_wins(config):
    """Whether the kind pads with -inf, which no window takes (max pooling): padding gets no gradient."""
    return config.kind.pad_fill == -np.inf


def as_float64(params):
    return {name: value.astype(np.float64) for name, value in params.items()}


def close(a, b):
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= CLOSE.bound(b)))
