"""conv_grouped: convolution in 2 groups, stride 1, pad 0: each half of the filters reads its half of the channels.

x (N, 2C, H, W), w (2F, C, KH, KW), b (2F) -> out (N, 2F, H - KH + 1,
W - KW + 1): filters g F .. g F + F - 1 (group g = 0, 1) convolve input
channels g C .. g C + C - 1 alone, as PyTorch's Conv2d(groups=2) lays
them out.  cs231n-style functions are ``conv_forward(x, w, b,
conv_param)``, which gets ``conv_param = {"stride": 1, "pad": 0,
"groups": 2}``, and ``conv_backward(dout, cache) -> (dx, dw, db)``; a
class is built as ``Convolution(W, b, 1, 0, 2)`` (stride, pad, groups),
its gradients in dW, db.  The kernel is drawn 1..2 and x 2..4 on each
axis, so that it always fits.
"""
import numpy as np

from reference_layers.conv_variants import ConvGroupedAsConv, ConvGroupedLoops

from ..forms import Form
from . import Kind, Mistake

STRIDE, PAD, GROUPS = 1, 0, 2
GEOMETRY = {"stride": STRIDE, "pad": PAD, "groups": GROUPS}  # cs231n's conv_param; a class's, in order


def _every_filter_every_group(inputs, dout):
    """(dx, dw) of a backward that lets every filter read every group's channels: the gradients of the plain
    convolution with w repeated along its channels, dw summed back over the groups."""
    w = inputs["w"]
    layer = ConvGroupedAsConv(np.tile(w, (1, GROUPS, 1, 1)), inputs["b"], STRIDE, PAD, groups=1)
    layer.forward(inputs["x"])
    dx = layer.backward(dout)
    return dx, layer.dw.reshape((len(w), GROUPS) + w.shape[1:]).sum(axis=1)


KIND = Kind(
    "convolution in 2 groups, stride 1, pad 0: x (N, 2C, H, W), w (2F, C, KH, KW), b (2F), "
    "out (N, 2F, H - KH + 1, W - KW + 1)",
    Form("conv_grouped", {"x": "N,2C,H,W", "w": "2F,C,KH,KW", "b": "2F"}, extra=(GEOMETRY,), made_with=GEOMETRY),
    (ConvGroupedAsConv, ConvGroupedLoops), (
        Mistake("dx", lambda inputs, dout: _every_filter_every_group(inputs, dout)[0],
                "dx gives each input channel the gradient of every filter: channel c of group g gets it from group "
                "g's F filters alone, w[g F:(g + 1) F]"),
        Mistake("dw", lambda inputs, dout: _every_filter_every_group(inputs, dout)[1],
                "dw sums each filter's gradient over the channels of every group: a filter of group g reads group "
                "g's C channels alone, x[:, g C:(g + 1) C]"),
    ),
    dims={"H": "2..4", "W": "2..4", "KH": "1..2", "KW": "1..2"})
