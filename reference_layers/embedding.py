"""Word embedding, out = W[x], in two independent formulations.

x is (N, T): word indices, integers in 0..V-1; W is (V, D), a row of D
numbers for each word of the vocabulary; out is (N, T, D), each word
replaced by its row.  x is no real number and has no gradient:

    dW[v] = sum of dout[n, t] over every (n, t) where x[n, t] = v

A word that occurs twice adds both gradients to its row.
``EmbeddingAddAt`` accumulates with ``np.add.at``, which adds once per
occurrence (``dW[x] += dout`` would not: numpy applies a repeated index
once); ``EmbeddingOneHot`` writes the lookup as a product with one-hot
rows, out = onehot(x) W, so that dW = onehot(x)^T dout.
"""
import numpy as np


class EmbeddingAddAt:
    def __init__(self, W):
        self.W = W

    def forward(self, x):
        self.x = x
        return self.W[x]

    def backward(self, dout):
        self.dW = np.zeros_like(self.W)
        np.add.at(self.dW, self.x, dout)


class EmbeddingOneHot:
    def __init__(self, W):
        self.W = W

    def forward(self, x):
        V, D = self.W.shape
        self.onehot = (x.reshape(-1, 1) == np.arange(V)).astype(float)  # (N T, V)
        return (self.onehot @ self.W).reshape(*x.shape, D)

    def backward(self, dout):
        self.dW = self.onehot.T @ dout.reshape(len(self.onehot), -1)
