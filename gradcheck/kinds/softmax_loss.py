"""softmax_loss: the cross-entropy of softmax(x) with the labels y, a mean over the batch.

cs231n writes it as one function, ``softmax_loss(x, y) -> (loss, dx)``;
"Deep Learning from Scratch" as a class ``SoftmaxWithLoss()`` with
``forward(x, t) -> loss`` and ``backward(dout=1) -> dx`` (t: labels).  The
book adds 1e-7 inside the log against log(0), which moves the loss by
more than the tolerance where a label is unlikely, so the reference adds
what the layer's own forward adds, read off a probe (``options``), and the
report says so.  A softmax without its maximum subtracted overflows on the
search's large scores: its forward fails there, with the hint.
"""
import numpy as np

from reference_layers.losses import SoftmaxLossLoops, SoftmaxLossVectorized

from ..forms import Form
from . import Kind, Mistake

SMALLEST_GUARD = 1e-12  # below, a probe's rounding: no guard


def options(pair):
    """({"guard": what the layer adds inside its log}, a note) when it adds something, else ({}, "").

    On the probe x = [[0, 0]], y = [0], p = 1/2 and the loss is -log(1/2 + guard), so guard = exp(-loss) - 1/2;
    it is kept when the reference with it gives the layer's loss on a second probe too."""
    guard = np.exp(-_loss(pair, np.zeros((1, 2)), np.array([0]))) - 0.5
    if not np.isfinite(guard) or abs(guard) < SMALLEST_GUARD:
        return {}, ""
    x, y = np.array([[0.0, 3.0, -2.0], [1.0, 1.0, 1.0]]), np.array([0, 2])
    if not np.isclose(_loss(pair, x, y), SoftmaxLossVectorized(guard).forward(x, y), rtol=1e-9, atol=0):
        return {}, ""
    return {"guard": guard}, (f"the loss adds {guard:.3g} inside its log, read off the layer's forward; the "
                              "reference adds it too (dx is the gradient without it, in both)")


def _loss(pair, x, y):
    """The layer's loss, or NaN when it raises (its own failure shows again, in its checks)."""
    try:
        return float(pair.forward(x, y)[0])
    except Exception:
        return float("nan")


def _probabilities(x):
    shifted = np.exp(x - x.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


KIND = Kind(
    "loss = -mean(log softmax(x)[y]): x (N, C), labels y (N) in 0..C-1",
    Form("softmax_loss", {"x": "N,C", "y": "N"}, arguments=2, integers={"y": "C"}, loss=True),
    (SoftmaxLossVectorized, SoftmaxLossLoops), (
        Mistake("forward",
                lambda inputs, dout, guard=0.0: len(inputs["x"]) * SoftmaxLossVectorized(guard).forward(**inputs),
                "the loss is summed over the batch: divide it by N (a mean, as the gradient's 1/N assumes)"),
        Mistake("dx", lambda inputs, dout: dout * _probabilities(inputs["x"]) / len(inputs["x"]),
                "dx is softmax(x) / N: subtract 1 at each row's label, dx = (p - onehot(y)) / N"),
    ), options=options, dims={"C": "2..4"})
