"""wrong_db.py's mistake in a "Deep Learning from Scratch" class: db averaged over the batch."""
import numpy as np


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        self.dW = np.dot(self.x.T, dout)
        self.db = np.mean(dout, axis=0)
        return np.dot(dout, self.W.T)
