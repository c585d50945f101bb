"""forward returns its output flattened: (N * M,) where (N, M) belongs."""


def affine_forward(x, w, b):
    return (x @ w + b).ravel(), (x, w)


def affine_backward(dout, cache):
    x, w = cache
    dout = dout.reshape(x.shape[0], w.shape[1])
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)
