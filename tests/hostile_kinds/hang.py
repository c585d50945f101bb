"""Hangs: forward never returns."""


def affine_forward(x, w, b):
    while True:
        pass


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)
