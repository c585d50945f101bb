"""An honest mistake in every gradient: dx, dw and db all divided by N, as for a loss averaged over the batch
(right only when N is 1)."""


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    N = x.shape[0]
    return dout @ w.T / N, x.T @ dout / N, dout.sum(axis=0) / N
