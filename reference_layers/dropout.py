"""Dropout in its two common forms: each element of x kept with probability p (dropped with 1 - p).

Both draw a mask, keep = (uniform random numbers < p), in train mode, and
agree on the one thing that matters: the expected output in train mode is
the output in test mode.

    inverted (cs231n)   train: out = x keep / p      test: out = x
    plain (DLFS)        train: out = x keep          test: out = x p

The gradient in train mode is the mask times the same scale, dout keep / p
or dout keep; x's values do not enter it.  cs231n passes p, the probability
of keeping, in ``dropout_param``; "Deep Learning from Scratch" passes
``dropout_ratio``, the probability of dropping (1 - p).  The mask comes from
numpy's global random state, so a seeded run repeats.
"""
import numpy as np


def dropout_forward(x, dropout_param):
    p = dropout_param["p"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    if dropout_param["mode"] == "test":
        return x, (dropout_param, None)
    mask = (np.random.rand(*x.shape) < p) / p
    return x * mask, (dropout_param, mask)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return dout if dropout_param["mode"] == "test" else dout * mask


class Dropout:
    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio

    def forward(self, x, train_flg=True):
        if not train_flg:
            return x * (1.0 - self.dropout_ratio)
        self.keep = np.random.rand(*x.shape) > self.dropout_ratio
        return x * self.keep

    def backward(self, dout):
        return dout * self.keep
