"""Batch, layer, spatial batch and group normalization (the batch norms in training mode), two formulations each.

Each normalizes groups of x's values: every value of a group is centered on
the group's mean and divided by its standard deviation, then scaled and
shifted by gamma and beta, one pair of which each feature or channel has:

    layer               x             a group is                                 gamma, beta
    batch norm          (N, D)        a column: one feature over the N samples   (D,)
    layer norm          (N, D)        a row: one sample over its D features      (D,)
    spatial batch norm  (N, C, H, W)  one channel over N, H and W                (C,)
    group norm          (N, C, H, W)  one sample's C/G consecutive channels      (1, C, 1, 1)
                                      over H and W (G groups a sample)

With mean() over a value's group, and sum() over every value that shares
its gamma (every axis but the feature's or the channel's):

    mu = mean(x)    var = mean((x - mu)^2)    xhat = (x - mu) / sqrt(var + eps)    out = gamma xhat + beta

    dbeta = sum(dout)    dgamma = sum(dout xhat)
    dx = (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) / sqrt(var + eps),   dxhat = dout gamma

The first formulation of each (``...Compact``) writes that formula for dx
(``normalize_backward``), its means over the axes a group spans.
``BatchNormStaged`` walks batch norm's computational graph back one step
at a time (cs231n's "naive" way) and never writes it; the other layers'
second formulations (``...ViaBatchNorm``) lay x out so that each of their
groups is a column, normalize the columns with ``BatchNormStaged`` and lay
the result back: layer norm through x.T; spatial batch norm through x with
its channels last, (N H W, C), where gamma and beta are one a column too;
group norm through x with one row a group, (N G, C/G H W), transposed.
Layer and group norm scale and shift after (their batch norm's gamma is 1,
beta 0).  ``EPS`` is cs231n's; the checks use the eps the user's layer
uses (``gradcheck.kinds.batchnorm``).  Batch norm's running averages and
its test mode, which has no gradient to check, are no formulation's: the
kinds' probes say what they must be (``batchnorm.modes_probe``).
"""
import numpy as np

EPS = 1e-5


def normalize(x, axes, eps):
    """(xhat, std): x normalized over ``axes`` (one group: the values that share the other indices)."""
    std = np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return (x - x.mean(axis=axes, keepdims=True)) / std, std


def normalize_backward(dxhat, xhat, std, axes):
    """dx from dxhat = dL/dxhat, by the compact formula, the means over ``axes`` as ``normalize`` took them."""
    return (dxhat - dxhat.mean(axis=axes, keepdims=True)
            - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)) / std


class BatchNormCompact:
    def __init__(self, gamma, beta, eps=EPS):
        self.gamma, self.beta, self.eps = gamma, beta, eps  # eps: cs231n's default; DLFS uses 1e-6

    def forward(self, x):
        self.xhat, self.std = normalize(x, 0, self.eps)
        return self.gamma * self.xhat + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = (dout * self.xhat).sum(axis=0)
        return normalize_backward(dout * self.gamma, self.xhat, self.std, 0)


class BatchNormStaged:
    def __init__(self, gamma, beta, eps=EPS):
        self.gamma, self.beta, self.eps = gamma, beta, eps

    def forward(self, x):
        self.xc = x - np.sum(x, axis=0) / len(x)
        self.var = np.sum(self.xc ** 2, axis=0) / len(x)
        self.std = np.sqrt(self.var + self.eps)
        self.xhat = self.xc / self.std
        return self.gamma * self.xhat + self.beta

    def backward(self, dout):
        n = len(dout)
        self.dbeta = np.sum(dout, axis=0)
        self.dgamma = np.sum(dout * self.xhat, axis=0)
        dxhat = dout * self.gamma
        dstd = -np.sum(dxhat * self.xc, axis=0) / self.std ** 2  # xhat = xc / std
        dvar = dstd / (2 * self.std)  # std = sqrt(var + eps)
        dxc = dxhat / self.std + dvar * 2 * self.xc / n  # var = sum(xc^2) / n
        dmu = -np.sum(dxc, axis=0)  # xc = x - mu
        return dxc + dmu / n  # mu = sum(x) / n


class LayerNormCompact:
    def __init__(self, gamma, beta, eps=EPS):
        self.gamma, self.beta, self.eps = gamma, beta, eps

    def forward(self, x):
        self.xhat, self.std = normalize(x, 1, self.eps)
        return self.gamma * self.xhat + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = (dout * self.xhat).sum(axis=0)
        return normalize_backward(dout * self.gamma, self.xhat, self.std, 1)


class LayerNormViaBatchNorm:
    """The rows of x are the columns of x.T."""

    def __init__(self, gamma, beta, eps=EPS):
        self.gamma, self.beta = gamma, beta
        self.columns = BatchNormStaged(1.0, 0.0, eps)

    def forward(self, x):
        self.xhat = self.columns.forward(x.T).T
        return self.gamma * self.xhat + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = (dout * self.xhat).sum(axis=0)
        return self.columns.backward((dout * self.gamma).T).T


PER_CHANNEL = (0, 2, 3)  # of x (N, C, H, W): N, H and W, the values a channel holds


class SpatialBatchNormCompact:
    def __init__(self, gamma, beta, eps=EPS):
        self.gamma, self.beta, self.eps = gamma[:, None, None], beta[:, None, None], eps  # (C, 1, 1): per channel

    def forward(self, x):
        self.xhat, self.std = normalize(x, PER_CHANNEL, self.eps)
        return self.gamma * self.xhat + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=PER_CHANNEL)
        self.dgamma = (dout * self.xhat).sum(axis=PER_CHANNEL)
        return normalize_backward(dout * self.gamma, self.xhat, self.std, PER_CHANNEL)


def channels_last(x):
    """(N, C, H, W) -> (N H W, C): one column a channel."""
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def channels_first(columns, shape):
    """The inverse of ``channels_last``, to ``shape`` (N, C, H, W)."""
    n, c, h, w = shape
    return columns.reshape(n, h, w, c).transpose(0, 3, 1, 2)


class SpatialBatchNormViaBatchNorm:
    """Each channel is a column of x with its channels last."""

    def __init__(self, gamma, beta, eps=EPS):
        self.columns = BatchNormStaged(gamma, beta, eps)

    def forward(self, x):
        return channels_first(self.columns.forward(channels_last(x)), x.shape)

    def backward(self, dout):
        dx = channels_first(self.columns.backward(channels_last(dout)), dout.shape)
        self.dgamma, self.dbeta = self.columns.dgamma, self.columns.dbeta
        return dx


GROUP_AXES = (2, 3, 4)  # of x grouped (N, G, C/G, H, W): a group's channels, H and W


class GroupNormCompact:
    def __init__(self, gamma, beta, G, eps=EPS):
        self.gamma, self.beta, self.G, self.eps = gamma, beta, G, eps

    def grouped(self, x):
        n, c, h, w = x.shape
        return x.reshape(n, self.G, c // self.G, h, w)

    def forward(self, x):
        xhat, self.std = normalize(self.grouped(x), GROUP_AXES, self.eps)
        self.xhat = xhat.reshape(x.shape)
        return self.gamma * self.xhat + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=PER_CHANNEL, keepdims=True)
        self.dgamma = (dout * self.xhat).sum(axis=PER_CHANNEL, keepdims=True)
        dxhat = self.grouped(dout * self.gamma)
        return normalize_backward(dxhat, self.grouped(self.xhat), self.std, GROUP_AXES).reshape(dout.shape)


class GroupNormViaBatchNorm:
    """Each (sample, group) is a row of x.reshape(N G, C/G H W), and so a column of its transpose."""

    def __init__(self, gamma, beta, G, eps=EPS):
        self.gamma, self.beta, self.G = gamma, beta, G
        self.columns = BatchNormStaged(1.0, 0.0, eps)

    def forward(self, x):
        groups = x.reshape(len(x) * self.G, -1)
        self.xhat = self.columns.forward(groups.T).T.reshape(x.shape)
        return self.gamma * self.xhat + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=PER_CHANNEL, keepdims=True)
        self.dgamma = (dout * self.xhat).sum(axis=PER_CHANNEL, keepdims=True)
        dxhat = (dout * self.gamma).reshape(len(dout) * self.G, -1)
        return self.columns.backward(dxhat.T).T.reshape(dout.shape)
