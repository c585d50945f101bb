"""embedding: word embedding, out = W[x]: each word index replaced by its row of W.

cs231n: ``word_embedding_forward(x, W) -> (out, cache)`` and
``word_embedding_backward(dout, cache) -> dW``; "Deep Learning from
Scratch 2": ``Embedding(W)`` with ``forward(idx)``, ``backward(dout)``
and the gradient in ``grads`` beside W in ``params``.  x holds integers,
so there is no dx; words repeat often in the search (V is small).
"""
import numpy as np

from reference_layers.embedding import EmbeddingAddAt, EmbeddingOneHot

from ..forms import Form
from . import Kind, Mistake


def _buffered(inputs, dout):
    """dW[x] += dout on zeros: for a repeated word, numpy keeps one occurrence's gradient (the last)."""
    dW = np.zeros_like(inputs["W"])
    dW[inputs["x"]] += dout
    return dW


KIND = Kind(
    "out = W[x]: word indices x (N, T) in 0..V-1, W (V, D), out (N, T, D)",
    Form("embedding", {"x": "N,T", "W": "V,D"}, integers={"x": "V"}, function="word_embedding_forward"),
    (EmbeddingAddAt, EmbeddingOneHot), (
        Mistake("dW", _buffered,
                "dW keeps one gradient of a repeated word: dW[x] += dout (or =) applies a repeated index once; "
                "np.add.at(dW, x, dout) adds every occurrence"),
    ))
