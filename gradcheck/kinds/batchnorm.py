"""batchnorm: batch normalization in training mode, out = gamma (x - mean) / sqrt(var + eps) + beta.

Courses differ in eps (cs231n 1e-5, "Deep Learning from Scratch" 1e-6), and
eps moves every output by about eps / (2 var), more than the reference's
tolerance where a column varies little.  So the reference takes the eps the
layer's own forward uses, read off a probe (``eps_options``, which the
other normalization kinds use too), and the report says which; a forward
that is no batch normalization is checked with cs231n's.  A cs231n
function gets ``bn_param = {"mode": "train", "eps": 1e-5}``.
"""
import numpy as np

from reference_layers.normalization import EPS, BatchNormCompact, BatchNormStaged

from . import Kind, Mistake

PROBE = np.array([[0.0, 0.0, 0.0], [2e-3, 2e-4, 2.0]])  # three groups of two values: variances 1e-6, 1e-8 and 1


def eps_options(reference, arrange, what):
    """The ``options`` hook of a normalization kind: (``{"eps": the eps the layer's forward uses}``, a note saying
    so), or cs231n's with a note when the forward is no ``what`` ("batch normalization") with any eps.

    ``arrange(PROBE)`` is what the kind's forward takes, (x, gamma of ones, beta of zeros), with each column of
    PROBE one group the layer normalizes and PROBE[0, 0] first in x.  On that first group (x - mean = -+1e-3,
    variance 1e-6), out = (x - mean) / sqrt(1e-6 + eps), so eps = ((x - mean) / out)^2 - 1e-6; the eps is kept
    when ``reference`` with it gives the layer's output everywhere."""
    centered, variance = PROBE[0, 0] - PROBE[:, 0].mean(), PROBE[:, 0].var()

    def options(pair):
        try:
            out = np.asarray(pair.forward(*arrange(PROBE.copy()))[0], dtype=np.float64)
        except Exception:  # the layer's own failure: it shows again, in its checks
            out = None
        x, gamma, beta = arrange(PROBE.copy())
        if out is not None and out.shape == x.shape and np.all(np.isfinite(out)) and out.flat[0] != 0:
            eps = float((centered / out.flat[0]) ** 2 - variance)
            if eps > 0 and np.allclose(out, reference(gamma, beta, eps=eps).forward(x), rtol=1e-6, atol=1e-9):
                return {"eps": eps}, f"eps {eps:.3g}, read off the layer's forward (it changes every output)"
        return {"eps": EPS}, f"eps {EPS:g} (cs231n's): the layer's forward is no {what} with any eps on a probe"
    return options


def _normalized(inputs):
    x = inputs["x"]
    std = np.sqrt(x.var(axis=0) + EPS)
    return (x - x.mean(axis=0)) / std, std


def _dx(inputs, dout, mean=True, variance=True):
    """dx with the mean term, the variance term, or neither left out (cs231n's eps)."""
    xhat, std = _normalized(inputs)
    dxhat = dout * inputs["gamma"]
    return (dxhat - mean * dxhat.mean(axis=0) - variance * xhat * (dxhat * xhat).mean(axis=0)) / std


KIND = Kind(
    "batchnorm", "batch normalization in training mode: out = gamma (x - mean) / sqrt(var + eps) + beta",
    {"x": "N,D", "gamma": "D", "beta": "D"}, (BatchNormCompact, BatchNormStaged), (
        Mistake("dx", lambda inputs, dout: _dx(inputs, dout, mean=False),
                "dx leaves out -mean(dxhat): the batch mean depends on every x of its column"),
        Mistake("dx", lambda inputs, dout: _dx(inputs, dout, variance=False),
                "dx leaves out -xhat * mean(dxhat * xhat): the batch variance depends on every x of its column"),
        Mistake("dx", lambda inputs, dout: _dx(inputs, dout, mean=False, variance=False),
                "dx is dout * gamma / std: the batch mean and variance depend on x too"),
        Mistake("dgamma", lambda inputs, dout: (dout * _normalized(inputs)[0]).sum(axis=1),
                "dgamma is summed over the features (axis 1): sum over the batch (axis 0)"),
        Mistake("dbeta", lambda inputs, dout: dout.sum(axis=1),
                "dbeta is summed over the features (axis 1): sum over the batch (axis 0)"),
    ), extra=({"mode": "train", "eps": EPS},),
    options=eps_options(BatchNormCompact, lambda x: (x, np.ones(x.shape[1]), np.zeros(x.shape[1])),
                        "batch normalization"))
