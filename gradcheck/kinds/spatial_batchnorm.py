"""spatial_batchnorm: batch normalization of images in training mode, each channel normalized over N, H and W; its
running averages and test mode, probed.

x is (N, C, H, W), gamma and beta (C,).  As batch norm's
(``batchnorm.eps_options``), the reference takes the eps the layer's own
forward uses, read off a probe, and the report says which.  A cs231n
function gets ``bn_param = {"mode": "train", "eps": 1e-5}``.  Its running
averages, one a channel, and its test mode are batch norm's probes
(``batchnorm.modes_probe``) with each channel's values over N, H and W as a
feature's over the batch: cs231n's spatial_batchnorm_forward keeps them in
bn_param, as the batchnorm_forward it calls on x with its channels last
does; a class keeps them as attributes, as DLFS's BatchNormalization does.
"""
import numpy as np

from reference_layers.normalization import (EPS, PER_CHANNEL, BatchNormCompact, SpatialBatchNormCompact,
                                            SpatialBatchNormViaBatchNorm, normalize)

from ..forms import Form
from . import Kind, Mistake
from .batchnorm import BN_PARAM, PROBES, eps_options, modes_probe


def _channels_mixed(inputs, dout, eps=EPS):
    """Batch norm of x.reshape(N H W, C), reshaped straight back: each column mixes the channels."""
    x = inputs["x"]
    return BatchNormCompact(inputs["gamma"], inputs["beta"], eps=eps).forward(x.reshape(-1, x.shape[1])) \
        .reshape(x.shape)


def _dx_divided_by_n(inputs, dout, eps=EPS):
    """dx with the channel's sums divided by N instead of N H W."""
    x = inputs["x"]
    xhat, std = normalize(x, PER_CHANNEL, eps)
    dxhat = dout * inputs["gamma"][:, None, None]
    sums = dxhat.sum(axis=PER_CHANNEL, keepdims=True) + xhat * (dxhat * xhat).sum(axis=PER_CHANNEL, keepdims=True)
    return (dxhat - sums / len(x)) / std


OPTIONS = eps_options(SpatialBatchNormCompact,
                      lambda x: (x.reshape(*x.shape, 1, 1), np.ones(x.shape[1]), np.zeros(x.shape[1])),
                      "spatial batch normalization")

KIND = Kind(
    "batch normalization in training mode of x (N, C, H, W), each channel over N, H and W; its "
    "running averages and test mode probed",
    Form("spatial_batchnorm", {"x": "N,C,H,W", "gamma": "C", "beta": "C"}, extra=(BN_PARAM,)),
    (SpatialBatchNormCompact, SpatialBatchNormViaBatchNorm), (
        Mistake("forward", _channels_mixed,
                "forward normalizes the columns of x.reshape(N*H*W, C), which mix the channels: move the channels "
                "last first, x.transpose(0, 2, 3, 1).reshape(-1, C), and back after"),
        Mistake("dx", _dx_divided_by_n,
                "dx divides the channel's sums by N: a channel's mean and variance are over its N*H*W values"),
        Mistake("dgamma",
                lambda inputs, dout, eps=EPS: (dout * normalize(inputs["x"], PER_CHANNEL, eps)[0]).sum(axis=0),
                "dgamma is summed over the batch alone (axis 0): sum over N, H and W (axes 0, 2, 3)"),
        Mistake("dbeta", lambda inputs, dout: dout.sum(axis=0),
                "dbeta is summed over the batch alone (axis 0): sum over N, H and W (axes 0, 2, 3)"),
    ), options=OPTIONS, probes=(modes_probe((2, 3, 2, 2), PER_CHANNEL, OPTIONS),),
    probed=PROBES)
