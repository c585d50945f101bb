"""A two-layer network as cs231n's assignment 2 writes it (fc_net.py), its layer functions beside it; and one whose
gradients leave out the regularization.

    gradcheck net --impl examples/cs231n_network.py:TwoLayerNet --input 4,6 --arg hidden_dim=5 --arg num_classes=3
    gradcheck net --impl examples/cs231n_network.py:TwoLayerNetRegForgotten --input 4,6 --arg hidden_dim=5 \
        --arg num_classes=3    # exit 1
"""
import numpy as np


def affine_forward(x, w, b):
    """out = x w + b, each row of x flattened: x (N, d_1, ..., d_k), w (D, M), b (M,)."""
    out = x.reshape(len(x), -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(len(x), -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def affine_relu_forward(x, w, b):
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def softmax_loss(x, y):
    """The mean cross-entropy of softmax(x) with the labels y, and its gradient in x."""
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    N = len(x)
    loss = -log_probs[np.arange(N), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    return loss, dx / N


class TwoLayerNet:
    """affine - relu - affine - softmax, with L2 regularization of the weights: 0.5 * reg * sum(W**2)."""

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0):
        self.reg = reg
        self.params = {
            "W1": weight_scale * np.random.randn(input_dim, hidden_dim),
            "b1": np.zeros(hidden_dim),
            "W2": weight_scale * np.random.randn(hidden_dim, num_classes),
            "b2": np.zeros(num_classes),
        }

    def loss(self, X, y=None):
        """The scores (N, C) when y is None, else (loss, grads), grads a dict of the params' names."""
        W1, b1, W2, b2 = (self.params[name] for name in ("W1", "b1", "W2", "b2"))
        hidden, hidden_cache = affine_relu_forward(X, W1, b1)
        scores, scores_cache = affine_forward(hidden, W2, b2)
        if y is None:
            return scores
        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        grads = {}
        dhidden, grads["W2"], grads["b2"] = affine_backward(dscores, scores_cache)
        _, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, hidden_cache)
        grads["W1"] += self.reg * W1
        grads["W2"] += self.reg * W2
        return loss, grads


class TwoLayerNetRegForgotten(TwoLayerNet):
    """Its loss adds 0.5 * reg * sum(W**2), but its gradients leave out reg * W: the two last lines of
    TwoLayerNet.loss forgotten."""

    def loss(self, X, y=None):
        if y is None:
            return super().loss(X)
        loss, grads = super().loss(X, y)
        grads["W1"] -= self.reg * self.params["W1"]
        grads["W2"] -= self.reg * self.params["W2"]
        return loss, grads
