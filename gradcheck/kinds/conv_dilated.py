"""conv_dilated: convolution with dilation 2, stride 1, pad 0: the kernel's taps read x 2 apart.

x (N, C, H, W), w (F, C, KH, KW), b (F) -> out (N, F, H - 2 (KH - 1),
W - 2 (KW - 1)): out[n, f, i, j] = sum of x[n, c, i + 2s, j + 2t] *
w[f, c, s, t] + b[f].  cs231n-style functions are ``conv_forward(x, w, b,
conv_param)``, which gets ``conv_param = {"stride": 1, "pad": 0,
"dilation": 2}``, and ``conv_backward(dout, cache) -> (dx, dw, db)``; a
class is built as ``Convolution(W, b, 1, 0, 2)`` (stride, pad, dilation),
its gradients in dW, db.  A window spans 2 (KH - 1) + 1 rows, so H must be
at least that: the kernel is drawn 1..2 and x 3..5 on each axis, where
every configuration is valid and a kernel of 2 shows the dilation.
"""
import numpy as np

from reference_layers.conv_variants import ConvDilatedAsConv, ConvDilatedLoops

from ..forms import Form
from . import Kind, Mistake

STRIDE, PAD, DILATION = 1, 0, 2
GEOMETRY = {"stride": STRIDE, "pad": PAD, "dilation": DILATION}  # cs231n's conv_param; a class's, in order


def _undilated(inputs, dout):
    """(dx, dw) of a backward that reads x in undilated windows, taps 1 apart, at the outputs dout has."""
    x, w = inputs["x"], inputs["w"]
    reached = x[:, :, :dout.shape[2] + w.shape[2] - 1, :dout.shape[3] + w.shape[3] - 1]
    layer = ConvDilatedAsConv(w, inputs["b"], STRIDE, PAD, dilation=1)
    layer.forward(reached)
    dx = np.zeros(x.shape)
    dx[:, :, :reached.shape[2], :reached.shape[3]] = layer.backward(dout)
    return dx, layer.dw


KIND = Kind(
    "convolution, dilation 2, stride 1, pad 0: x (N, C, H, W), w (F, C, KH, KW), b (F), "
    "out (N, F, H - 2 (KH - 1), W - 2 (KW - 1))",
    Form("conv_dilated", {"x": "N,C,H,W", "w": "F,C,KH,KW", "b": "F"}, extra=(GEOMETRY,), made_with=GEOMETRY),
    (ConvDilatedAsConv, ConvDilatedLoops), (
        Mistake("dx", lambda inputs, dout: _undilated(inputs, dout)[0],
                "dx scatters dout into undilated windows, taps 1 apart: forward read x[n, c, i + 2s, j + 2t], and "
                "dx goes back there, taps 2 apart"),
        Mistake("dw", lambda inputs, dout: _undilated(inputs, dout)[1],
                "dw reads x in undilated windows, taps 1 apart: dw[f, c, s, t] is the sum of dout[n, f, i, j] * "
                "x[n, c, i + 2s, j + 2t], taps 2 apart as forward read them"),
    ),
    dims={"H": "3..5", "W": "3..5", "KH": "1..2", "KW": "1..2"})
