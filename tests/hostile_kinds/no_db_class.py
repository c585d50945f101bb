"""A "Deep Learning from Scratch" Affine that keeps its gradients under names of its own: db is nowhere to be
found."""
import numpy as np


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        self.dW = np.dot(self.x.T, dout)
        self.grad_b = np.sum(dout, axis=0)
        return np.dot(dout, self.W.T)
