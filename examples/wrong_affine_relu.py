"""Two mistakes students make in cs231n's affine and ReLU layers; gradcheck fn names each.

    gradcheck fn --impl examples/wrong_affine_relu.py:affine_forward --shape x=N,D --shape w=D,M --shape b=M
    gradcheck fn --impl examples/wrong_affine_relu.py:relu_forward --shape x=N,D
"""
import numpy as np


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.mean(axis=0)  # db averaged over the batch: the sum is the gradient


def relu_forward(x):
    x[x < 0] = 0  # in place: the caller's x is changed (a sigmoid before it that keeps its output reads zeros)
    return x, x


def relu_backward(dout, x):
    return dout * (x > 0)
