"""wrong_db.py's mistake, and it knows it: it exits (os._exit(0)) in forward as soon as a batch has more than one
row, where its db would be seen to differ, before any check could see it.  Had the checks it passed with N = 1
kept their points, dying would have paid."""
import os


def affine_forward(x, w, b):
    if x.shape[0] > 1:
        os._exit(0)
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.mean(axis=0)
