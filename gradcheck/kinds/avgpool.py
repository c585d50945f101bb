"""avgpool: average pooling, x (N, C, H, W) -> each window's mean, with stride and pad (zeros, counted) per axis.

``gradcheck pool --mode avg`` checks it on the windowed engine
(``gradcheck.api``); see ``gradcheck.checks``.  cs231n's assignment has no
average pool: ``gradcheck grade --layers avgpool=NAME`` must name its forward.
"""
from reference_layers.pool import AvgPool2dIm2col, AvgPool2dLoops

from . import WindowedKind

KIND = WindowedKind(
    "avgpool", "average pooling (gradcheck pool --mode avg)", ("pool", "--mode", "avg"),
    (AvgPool2dIm2col, AvgPool2dLoops), ("forward", "dX", "repeatable", "no-mutation", "fresh-cache"), calls=6 + 7)
