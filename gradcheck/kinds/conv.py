"""conv: 2-D convolution, x (N, C, H, W), W (F, C, KH, KW), b (F), with stride, pad and dilation per axis.

out[n, f, i, j] = sum over c, s, t of x_padded[n, c, i S + s D, j S + t D] *
W[f, c, s, t] + b[f].  ``gradcheck conv`` checks it on the windowed engine
(``gradcheck.api``): forward, dX, dW and dB against the references and
finite differences of the layer's own forward, and whether it keeps no state
it should not (repeatable, no-mutation, weights-live, fresh-cache); see
``gradcheck.checks``.  Its own named mistakes, beside those every windowed
kind gets (``gradcheck.diagnose``): the kernel flipped (forward convolving
instead of correlating, or dX and dW flipped), and a backward padding x with
a pad of its own.
"""
import numpy as np

from reference_layers.conv import Conv2dIm2col, Conv2dLoops, Conv2dRotatedKernel

from ..diagnose import as_float64, close, pad_text, reference_answers
from . import WindowedKind


def forward_hints(actual, expected, config, inputs, probe):
    return flip_hints("forward", actual, config, inputs, probe)


def gradient_hints(name, actual, expected, config, inputs, probe):
    hints = flip_hints(name, actual, config, inputs, probe, expected) if name in ("dX", "dW") else []
    return hints + (other_pad_dw_hints(actual, config, inputs) if name == "dW" else [])


def window_gradient(config, inputs, dout, patch):
    """What one window's output sends back to its taps: (N, C, KH, KW)."""
    return np.einsum("nf,fcst->ncst", dout, inputs.params["W"].astype(np.float64))


# How a kernel can be flipped: (rows, columns) steps, by the words a hint uses.
FLIPS = {"rotated by 180 degrees": (-1, -1), "flipped upside down (its rows reversed)": (-1, 1),
         "flipped left to right (its columns reversed)": (1, -1)}
FLIP_TEXTS = {"forward": "forward uses the kernel {}: a conv layer correlates, out[i, j] = sum x[i*S + s, j*S + t] * "
                         "W[s, t], without flipping W",
              "dX": "dX is what the kernel {} gives: the kernel is flipped in backward (or flipped twice)",
              "dW": "dW is the expected gradient {}: the kernel is flipped somewhere"}


def flip_hints(name, actual, config, inputs, probe, expected=None):
    """forward, dX or dW of a conv as with the kernel flipped (dW: the check's ``expected`` flipped).  On a 1xK
    or Kx1 kernel a flip on one axis is also a rotation by 180 degrees: the layer is then measured once more, on
    the kernel made at least 2x2, where they differ (against the reference there); when it cannot be, the hint
    names the flip measured and says what it coincides with."""
    found = [flip for flip in _flips(config) if close(actual, _flipped_answer(name, flip, config, inputs, expected))]
    if len(found) > 1:
        variant = _wider_kernel(config)
        answers = probe.on(variant) if probe is not None and variant is not None else None
        if answers is not None and name in answers[1]:
            variant_inputs, variant_actual = answers
            reference_dw = reference_answers(variant, variant_inputs)["dW"] if name == "dW" else None
            there = [flip for flip in found if close(variant_actual[name], _flipped_answer(
                name, flip, variant, variant_inputs, reference_dw))]
            if len(there) == 1:
                kernel = "x".join(map(str, variant.kernel))
                return [FLIP_TEXTS[name].format(there[0]) + f" (measured on a {kernel} kernel, where flips differ)"]
    if len(found) == 1:
        return [FLIP_TEXTS[name].format(found[0])]
    if len(found) == 2:  # one axis of the kernel is 1: an axis flip and the rotation are the same array
        axis_flip = next(flip for flip in found if not flip.startswith("rotated"))
        kernel = "x".join(map(str, config.kernel))
        return [FLIP_TEXTS[name].format(f"{axis_flip}, which on this {kernel} kernel is also its rotation by 180 "
                                        "degrees")]
    return []


def _flips(config):
    """The flips that change a kernel of ``config``'s size (reversing an axis of size 1 changes nothing)."""
    return [flip for flip, steps in FLIPS.items() if any(k > 1 for k, step in zip(config.kernel, steps) if step < 0)]


def _flipped_answer(name, flip, config, inputs, expected_dw):
    """forward or dX as with the kernel flipped (the reference run with W flipped), or ``expected_dw`` flipped."""
    rows, cols = FLIPS[flip]
    if name == "dW":
        return expected_dw[:, :, ::rows, ::cols]
    params = as_float64(inputs.params)
    layer = config.reference_layer({"W": params["W"][:, :, ::rows, ::cols].copy(), "b": params["b"]})
    out = layer.forward(inputs.x.astype(np.float64))
    return out if name == "forward" else layer.backward(inputs.dout.astype(np.float64))


def _wider_kernel(config):
    """``config`` with a kernel at least 2x2 (the input grown to fit it), or None when none fits."""
    kernel = tuple(max(k, 2) for k in config.kernel)
    roomy = config.replace(kernel=kernel, size=10**6)
    size = tuple(max(n, e - 2 * p) for n, e, p in zip(config.size, roomy.window.extent, config.pad))
    try:
        return roomy.replace(size=size)
    except ValueError:
        return None



def other_pad_dw_hints(actual, config, inputs):
    """dW of a backward that pads x with a pad of its own (the same dout, windows where forward's are)."""
    for pad in _other_pads(config):
        if close(actual, _with_pad(config, inputs, pad).dW):
            return [f"dW is what backward gives with pad {pad_text(pad)} where forward pads with "
                    f"{pad_text(config.pad)}: backward pads x with a pad of its own; use forward's"]
    return []


def _other_pads(config):
    """Pads a backward might use instead of forward's: forward's shifted by the same amount on both axes, down to
    0 and up to a window's extent more."""
    (ph, pw), extent = config.pad, max(config.window.extent)
    return [(ph + shift, pw + shift) for shift in range(-min(ph, pw), extent + 1) if shift]


def _with_pad(config, inputs, pad):
    """The reference layer after forward(x) and backward(dout) with x padded by ``pad`` instead of forward's (cut
    or extended to the rows forward's windows reach): its dW is what a backward padding x that way gives."""
    window = config.window
    rows = tuple((o - 1) * s + e for o, s, e in zip(config.out_shape[2:], window.stride, window.extent))
    x = np.zeros(config.x_shape[:2] + tuple(max(r, n + 2 * p) for r, n, p in zip(rows, config.size, pad)))
    (h, w), (qh, qw) = config.size, pad
    x[:, :, qh:qh + h, qw:qw + w] = inputs.x
    layer = config.replace(size=rows, pad=0).reference_layer(as_float64(inputs.params))
    layer.forward(x[:, :, :rows[0], :rows[1]])
    layer.backward(inputs.dout.astype(np.float64))
    return layer


KIND = WindowedKind(
    "conv", "2-D convolution (gradcheck conv)", ("conv",), (Conv2dIm2col, Conv2dLoops, Conv2dRotatedKernel),
    ("forward", "dX", "dW", "dB", "repeatable", "no-mutation", "weights-live", "fresh-cache"),
    calls=8 + 3 * 7, weights=True, cs231n_name="conv_forward_naive", forward_hints=forward_hints,
    gradient_hints=gradient_hints, window_gradient=window_gradient)
