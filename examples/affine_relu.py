"""An affine layer and a ReLU as cs231n's assignment 2 writes them: forward -> (out, cache), backward(dout, cache).

    gradcheck fn --impl examples/affine_relu.py:affine_forward --shape x=N,D --shape w=D,M --shape b=M
    gradcheck fn --impl examples/affine_relu.py:relu_forward --shape x=N,D --dim D=1..64
"""
import numpy as np


def affine_forward(x, w, b):
    """out = x w + b, with x (N, D), w (D, M), b (M,)."""
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, x):
    return dout * (x > 0)
