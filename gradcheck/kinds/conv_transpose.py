"""conv_transpose: the transposed convolution, stride 2, pad 0: the input gradient of a convolution, as a layer.

x (N, C, H, W), w (C, F, KH, KW), b (F) -> out (N, F, (H - 1) 2 + KH,
(W - 1) 2 + KW): each x[n, c, i, j] adds x[n, c, i, j] w[c, f, s, t] at
out[n, f, 2i + s, 2j + t], kernels stamped 2 apart, overlapping where KH
or KW > 2.  w is (C_in, F, KH, KW), as PyTorch's ConvTranspose2d keeps
it, because that is the w (C_out, C_in, KH, KW) of the stride-2
convolution from F channels to C whose input gradient this layer is: one
w serves both, and this layer's dx is that convolution's forward.
cs231n-style functions are ``conv_transpose_forward(x, w, b,
conv_param)``, which gets ``conv_param = {"stride": 2, "pad": 0}``, and
``conv_transpose_backward(dout, cache) -> (dx, dw, db)``; a class is built
as ``ConvTranspose(W, b, 2, 0)`` (stride, pad), its gradients in dW, db.
"""
from reference_layers.conv_variants import ConvTransposeAsConv, ConvTransposeLoops

from ..forms import Form
from . import Kind, Mistake

STRIDE, PAD = 2, 0
GEOMETRY = {"stride": STRIDE, "pad": PAD}  # cs231n's conv_param; a class's, in order


def _flipped(w):
    """w rotated by 180 degrees in its KH, KW axes."""
    return w[:, :, ::-1, ::-1]


def _layer(inputs, w):
    """The reference, its forward run on the inputs' x, with kernel ``w``."""
    layer = ConvTransposeAsConv(w, inputs["b"], STRIDE, PAD)
    layer.forward(inputs["x"])
    return layer


def _gradients(inputs, dout, w):
    """(dx, dw) of the reference with kernel ``w``."""
    layer = _layer(inputs, w)
    return layer.backward(dout), layer.dw


KIND = Kind(
    "transposed convolution, stride 2, pad 0: x (N, C, H, W), w (C, F, KH, KW), b (F), "
    "out (N, F, (H - 1) 2 + KH, (W - 1) 2 + KW)",
    Form("conv_transpose", {"x": "N,C,H,W", "w": "C,F,KH,KW", "b": "F"}, extra=(GEOMETRY,), made_with=GEOMETRY),
    (ConvTransposeAsConv, ConvTransposeLoops), (
        Mistake("forward", lambda inputs, dout: _layer(inputs, _flipped(inputs["w"])).forward(inputs["x"]),
                "forward applies w rotated by 180 degrees (the kernel slid unflipped over the upsampled x): each "
                "x[n, c, i, j] adds x[n, c, i, j] * w[c, f, s, t] at out[n, f, 2i + s, 2j + t]"),
        Mistake("dx", lambda inputs, dout: _gradients(inputs, dout, _flipped(inputs["w"]))[0],
                "dx convolves dout with w rotated by 180 degrees, as conv's dx does: a transposed convolution's dx "
                "is the stride-2 convolution of dout with w unflipped, sum of dout[n, f, 2i + s, 2j + t] * "
                "w[c, f, s, t]"),
        Mistake("dw", lambda inputs, dout: _flipped(_gradients(inputs, dout, inputs["w"])[1]),
                "dw is rotated by 180 degrees (the gradient of a forward with the kernel flipped): dw[c, f, s, t] "
                "is the sum of x[n, c, i, j] * dout[n, f, 2i + s, 2j + t]"),
        Mistake("dw", lambda inputs, dout: _gradients(inputs, dout, inputs["w"])[1].transpose(1, 0, 2, 3),
                "dw has its first two axes swapped, conv's layout (F, C, KH, KW): a transposed convolution's w, "
                "and dw, are (C, F, KH, KW)"),
    ))
