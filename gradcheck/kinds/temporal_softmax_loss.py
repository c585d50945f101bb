"""temporal_softmax_loss: cs231n's captioning loss, a softmax loss at every counted time step.

A cs231n function only: "Deep Learning from Scratch 2"'s ``TimeSoftmaxWithLoss`` takes ``forward(xs, ts)``,
counts the steps whose label is not -1 and divides by their number, another loss; it is refused with the form
this kind takes.

``temporal_softmax_loss(x, y, mask) -> (loss, dx)``: x (N, T, V) scores
over the vocabulary, y (N, T) the words, mask (N, T) the steps that count;
summed over the time steps and averaged over the batch (divided by N).
"""
import numpy as np

from reference_layers.losses import TemporalSoftmaxLossLoops, TemporalSoftmaxLossVectorized

from ..forms import Form
from . import Kind, Mistake


def _dx_of_every_step(inputs):
    """dx as if every step counted."""
    layer = TemporalSoftmaxLossVectorized()
    layer.forward(inputs["x"], inputs["y"], np.ones_like(inputs["mask"]))
    return layer.backward()


def _per_counted_step(inputs, dout):
    """The loss divided by the number of counted steps instead of N."""
    return TemporalSoftmaxLossVectorized().forward(**inputs) * len(inputs["x"]) / max(inputs["mask"].sum(), 1)


KIND = Kind(
    "loss = -sum over counted steps of log softmax(x)[y], / N: x (N, T, V), y and mask (N, T)",
    Form("temporal_softmax_loss", {"x": "N,T,V", "y": "N,T", "mask": "N,T"}, arguments=3, integers={"y": "V"},
         booleans=("mask",), loss=True, classes=False),
    (TemporalSoftmaxLossVectorized, TemporalSoftmaxLossLoops), (
        Mistake("forward", _per_counted_step,
                "the loss is divided by the number of counted steps: sum over the steps, divide by N only"),
        Mistake("dx", lambda inputs, dout: dout * _dx_of_every_step(inputs),
                "dx is not masked: a step where mask is False adds nothing to the loss, so its gradient is 0"),
    ))
