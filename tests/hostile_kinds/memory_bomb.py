"""Exhausts memory in forward: a 1.6 GB array, then a list that grows without end."""
import numpy as np


def affine_forward(x, w, b):
    hog = [np.ones(2 * 10**8)]
    while True:
        hog.append(np.ones(10**7))


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)
