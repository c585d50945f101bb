"""Affine (fully connected) layer, out = x W + b, in two independent formulations.

x is (N, D), W is (D, M), b is (M,) and out is (N, M).  With L a loss and
dout = dL/dout:

    dx = dout W^T        dW = x^T dout        db = sum over the batch of dout

``AffineMatmul`` writes these as matrix products; ``AffineSums`` writes out
every sum, element by element, as the formulas read.
"""
import numpy as np


class AffineMatmul:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class AffineSums:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        (N, D), M = x.shape, self.W.shape[1]
        out = np.zeros((N, M))
        for n in range(N):
            for m in range(M):
                out[n, m] = sum(x[n, d] * self.W[d, m] for d in range(D)) + self.b[m]
        return out

    def backward(self, dout):
        (N, D), M = self.x.shape, self.W.shape[1]
        dx, self.dW, self.db = np.zeros((N, D)), np.zeros((D, M)), np.zeros(M)
        for n in range(N):
            for d in range(D):
                dx[n, d] = sum(dout[n, m] * self.W[d, m] for m in range(M))
        for d in range(D):
            for m in range(M):
                self.dW[d, m] = sum(self.x[n, d] * dout[n, m] for n in range(N))
        for m in range(M):
            self.db[m] = sum(dout[n, m] for n in range(N))
        return dx
