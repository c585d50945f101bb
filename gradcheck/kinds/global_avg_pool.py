"""global_avg_pool: global average pooling, out[n, c] = the mean of x[n, c] over H and W.

x (N, C, H, W) -> out (N, C): each channel of a sample pooled to one
value, as before a network's last affine layer.  A class is built as
``GlobalAvgPool()`` (no parameters), with ``forward(x)`` and
``backward(dout) -> dx``; cs231n-style functions are
``global_avg_pool_forward(x) -> (out, cache)`` and
``global_avg_pool_backward(dout, cache) -> dx``.
"""
import numpy as np

from reference_layers.conv_variants import GlobalAvgPoolLoops, GlobalAvgPoolMean

from ..forms import Form
from . import Kind, Mistake


def _undivided(inputs, dout):
    return np.broadcast_to(dout[:, :, None, None], inputs["x"].shape)


KIND = Kind(
    "out[n, c] = mean of x[n, c] over H and W: x (N, C, H, W), out (N, C)",
    Form("global_avg_pool", {"x": "N,C,H,W"}), (GlobalAvgPoolMean, GlobalAvgPoolLoops), (
        Mistake("forward", lambda inputs, dout: inputs["x"].sum(axis=(2, 3)),
                "forward sums x over H and W: global average pooling takes the mean, the sum divided by H*W"),
        Mistake("dx", _undivided,
                "dx spreads dout undivided over the H*W values of each mean: each of them gets dout / (H*W)"),
    ))
