"""Batch normalization in training mode, in two independent formulations.

x is (N, D); each column is normalized over the batch, then scaled and shifted:

    mu = mean(x)    var = mean((x - mu)^2)    xhat = (x - mu) / sqrt(var + eps)    out = gamma xhat + beta

    dbeta = sum(dout)    dgamma = sum(dout xhat)    (over the batch)
    dx = (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) / sqrt(var + eps),   dxhat = dout gamma

``BatchNormCompact`` uses the last formula; ``BatchNormStaged`` walks the
computational graph back one step at a time (cs231n's "naive" way), and
never writes that formula.  ``eps`` is cs231n's default; the checks use
the one the user's layer uses (``gradcheck.kinds.batchnorm``).
"""
import numpy as np

EPS = 1e-5


class BatchNormCompact:
    def __init__(self, gamma, beta, eps=EPS):
        self.gamma, self.beta, self.eps = gamma, beta, eps  # eps: cs231n's default; DLFS uses 1e-6

    def forward(self, x):
        mu = x.mean(axis=0)
        self.std = np.sqrt(x.var(axis=0) + self.eps)
        self.xhat = (x - mu) / self.std
        return self.gamma * self.xhat + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = (dout * self.xhat).sum(axis=0)
        dxhat = dout * self.gamma
        return (dxhat - dxhat.mean(axis=0) - self.xhat * (dxhat * self.xhat).mean(axis=0)) / self.std


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
