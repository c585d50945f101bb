"""groupnorm: spatial group normalization, each sample's G groups of C/G channels normalized apart, over them, H, W.

x is (N, C, H, W), gamma and beta (1, C, 1, 1) as in cs231n's
``spatial_groupnorm_forward(x, gamma, beta, G, gn_param)``, which gets
G = 2 and ``gn_param = {"eps": 1e-5}``; a class is built as
``GroupNorm(gamma, beta, G)``, with G = 2.  A shape holds no product of
symbols, so G is fixed and C drawn as its multiple, 2K (K channels a
group, 1..4 as every symbol): 2 is the G cs231n's notebook checks with,
and tells group norm from layer norm (G = 1) everywhere and from instance
norm (G = C) where K > 1.  As batch norm's (``batchnorm.eps_options``),
the reference takes the eps the layer's own forward uses, read off a
probe, and the report says which.  cs231n's assignment documented gamma
and beta of shape (C,) in 2019: a forward that takes them so, and not as
(1, C, 1, 1), gets them so (``as_given``), with a note.
"""
import dataclasses
import functools

import numpy as np

from reference_layers.normalization import EPS, GroupNormCompact, GroupNormViaBatchNorm, normalize

from ..forms import Form
from . import Kind, Mistake
from .batchnorm import eps_options

GROUPS = 2
PER_SAMPLE = (1, 2, 3)  # C, H and W: a sample's values


def _grouped(inputs, eps):
    """(xhat, std) of x laid out (N, G, C/G H W): one row a group."""
    x = inputs["x"]
    return normalize(x.reshape(len(x), GROUPS, -1), 2, eps)


def _layer_norm(inputs, dout, eps=EPS):
    return inputs["gamma"] * normalize(inputs["x"], PER_SAMPLE, eps)[0] + inputs["beta"]


def _dx_divided_by_sample(inputs, dout, eps=EPS):
    """dx with the group's sums divided by C H W, a sample's size, instead of C/G H W, a group's."""
    xhat, std = _grouped(inputs, eps)
    dxhat = (dout * inputs["gamma"]).reshape(xhat.shape)
    sums = dxhat.sum(axis=2, keepdims=True) + xhat * (dxhat * xhat).sum(axis=2, keepdims=True)
    return ((dxhat - sums / dout[0].size) / std).reshape(dout.shape)


def as_given(pair):
    """(``pair``, "") when its forward takes gamma and beta of shape (1, C, 1, 1); else, when it takes them of
    shape (C,), (the pair with its forward given them so, a note saying so)."""
    x = np.random.default_rng(0).standard_normal((2, 2 * GROUPS, 2, 2))
    if _output_shape(pair, x, (1, x.shape[1], 1, 1)) == x.shape or _output_shape(pair, x, (x.shape[1],)) != x.shape:
        return pair, ""

    def forward(x, gamma, beta):
        return pair.forward(x, gamma.reshape(-1), beta.reshape(-1))
    forward.__name__ = pair.forward.__name__
    return dataclasses.replace(pair, forward=forward), ("gamma and beta are given of shape (C,), as the layer's "
                                                        "forward takes them (cs231n's 2019 assignment)")


def _output_shape(pair, x, shape):
    """The shape of the layer's output with gamma of ones and beta of zeros of ``shape``, or None when it raises."""
    try:
        return np.shape(pair.forward(x.copy(), np.ones(shape), np.zeros(shape))[0])
    except Exception:  # the layer's own failure: it shows again, in its checks
        return None


def _probe(columns):
    """The probe's columns as groups: x (3, G, 2, 1), sample n's every group holding column n."""
    x = np.repeat(columns.T[:, None, :, None], GROUPS, axis=1)
    return x, np.ones((1, GROUPS, 1, 1)), np.zeros((1, GROUPS, 1, 1))


KIND = Kind(
    "group normalization of x (N, C, H, W): a sample's G = 2 groups of C/G channels normalized apart",
    Form("groupnorm", {"x": "N,2K,H,W", "gamma": "1,2K,1,1", "beta": "1,2K,1,1"}, extra=(GROUPS, {"eps": EPS}),
         made_with={"G": GROUPS}, function="spatial_groupnorm_forward"),
    (GroupNormCompact, GroupNormViaBatchNorm), (
        Mistake("forward", _layer_norm,
                "forward normalizes each sample over all its channels (layer norm): group norm normalizes each of its "
                "G groups of C/G channels apart"),
        Mistake("dx", _dx_divided_by_sample,
                "dx divides the group's sums by C*H*W, a sample's size: a group's mean and variance are over its "
                "C/G*H*W values"),
    ),
    options=eps_options(functools.partial(GroupNormCompact, G=GROUPS), _probe, "group normalization"),
    adapt=as_given)
