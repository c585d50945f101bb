"""layernorm: layer normalization, each row of x normalized over its D features, out = gamma xhat + beta.

As batch norm's (``batchnorm.eps_options``), the reference takes the eps
the layer's own forward uses, read off a probe, and the report says which.
A cs231n function gets ``ln_param = {"eps": 1e-5}``.  A row's statistics
are its own, so layer norm has no test mode.
"""
import numpy as np

from reference_layers.normalization import EPS, LayerNormCompact, LayerNormViaBatchNorm, normalize

from ..forms import Form
from . import Kind, Mistake
from .batchnorm import eps_options


def _xhat(inputs, eps):
    return normalize(inputs["x"], 1, eps)[0]


def _dx(inputs, dout, eps, mean=True, variance=True):
    """dx with the mean term or the variance term left out."""
    xhat, std = normalize(inputs["x"], 1, eps)
    dxhat = dout * inputs["gamma"]
    return (dxhat - mean * dxhat.mean(axis=1, keepdims=True)
            - variance * xhat * (dxhat * xhat).mean(axis=1, keepdims=True)) / std


KIND = Kind(
    "layer normalization: each row of x (N, D) normalized over its features, out = gamma xhat + beta",
    Form("layernorm", {"x": "N,D", "gamma": "D", "beta": "D"}, extra=({"eps": EPS},)),
    (LayerNormCompact, LayerNormViaBatchNorm), (
        Mistake("dx", lambda inputs, dout, eps=EPS: _dx(inputs, dout, eps, mean=False),
                "dx leaves out -mean(dxhat) over the row: the row's mean depends on every x of its row"),
        Mistake("dx", lambda inputs, dout, eps=EPS: _dx(inputs, dout, eps, variance=False),
                "dx leaves out -xhat * mean(dxhat * xhat) over the row: the row's variance depends on every x of its "
                "row"),
        Mistake("dgamma", lambda inputs, dout, eps=EPS: (dout * _xhat(inputs, eps)).sum(axis=1),
                "dgamma is summed over the features (axis 1), as the statistics are: gamma has one value a feature, "
                "so sum over the batch (axis 0)"),
        Mistake("dbeta", lambda inputs, dout: dout.sum(axis=1),
                "dbeta is summed over the features (axis 1), as the statistics are: beta has one value a feature, "
                "so sum over the batch (axis 0)"),
    ),
    options=eps_options(LayerNormCompact, lambda x: (x.T, np.ones(len(x)), np.zeros(len(x))), "layer normalization"))
