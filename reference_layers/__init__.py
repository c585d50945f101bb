"""Reference Conv2d, MaxPool2d and AvgPool2d layers in NumPy, each in independent formulations (and, in
``affine`` and ``activations``, the catalogue's other kinds: see ``gradcheck.kinds``).

Convention ("Deep Learning from Scratch"): NCHW float arrays, ``forward(x) -> out``,
``backward(dout) -> dx``, parameter gradients in ``dW`` and ``db``.
``Conv2d``, ``MaxPool2d`` and ``AvgPool2d`` name the fastest formulation;
each kind of ``gradcheck.kinds`` lists every formulation of its layer.
"""
from .conv import Conv2dIm2col, Conv2dLoops, Conv2dRotatedKernel
from .geometry import Window
from .pool import AvgPool2dIm2col, AvgPool2dLoops, MaxPool2dIm2col, MaxPool2dLoops

Conv2d = Conv2dIm2col
MaxPool2d = MaxPool2dIm2col
AvgPool2d = AvgPool2dIm2col

__all__ = [
    "Conv2d", "MaxPool2d", "AvgPool2d", "Window",
    "Conv2dIm2col", "Conv2dLoops", "Conv2dRotatedKernel",
    "MaxPool2dIm2col", "MaxPool2dLoops", "AvgPool2dIm2col", "AvgPool2dLoops",
]
