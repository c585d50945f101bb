"""maxpool: max pooling, x (N, C, H, W) -> each window's maximum, with stride and pad (-inf) per axis.

``gradcheck pool --mode max`` checks it on the windowed engine
(``gradcheck.api``) on inputs without ties (each window's gradient goes to
its one maximum), and ``ties`` on inputs with exact ties: forward is the
maximum and each window's gradient goes to its tied maxima only, summing to
dout; see ``gradcheck.checks``.
"""
from reference_layers.pool import MaxPool2dIm2col, MaxPool2dLoops

from . import WindowedKind

KIND = WindowedKind(
    "maxpool", "max pooling (gradcheck pool --mode max)", ("pool", "--mode", "max"),
    (MaxPool2dIm2col, MaxPool2dLoops), ("forward", "dX", "repeatable", "no-mutation", "fresh-cache", "ties"),
    calls=6 + 7, cs231n_name="max_pool_forward_naive")
