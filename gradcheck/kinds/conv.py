"""conv: 2-D convolution, x (N, C, H, W), W (F, C, KH, KW), b (F), with stride, pad and dilation per axis.

out[n, f, i, j] = sum over c, s, t of x_padded[n, c, i S + s D, j S + t D] *
W[f, c, s, t] + b[f].  ``gradcheck conv`` checks it on the windowed engine
(``gradcheck.api``): forward, dX, dW and dB against the references and
finite differences of the layer's own forward, and whether it keeps no state
it should not (repeatable, no-mutation, weights-live, fresh-cache); see
``gradcheck.checks``.
"""
from reference_layers.conv import Conv2dIm2col, Conv2dLoops, Conv2dRotatedKernel

from . import WindowedKind

KIND = WindowedKind(
    "conv", "2-D convolution (gradcheck conv)", ("conv",), (Conv2dIm2col, Conv2dLoops, Conv2dRotatedKernel),
    ("forward", "dX", "dW", "dB", "repeatable", "no-mutation", "weights-live", "fresh-cache"),
    calls=8 + 3 * 7, weights=True, cs231n_name="conv_forward_naive")
