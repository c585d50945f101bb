"""forward returns its output and cache in a dict, not as the tuple (out, cache)."""


def affine_forward(x, w, b):
    return {"out": x @ w + b, "cache": (x, w)}


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)
