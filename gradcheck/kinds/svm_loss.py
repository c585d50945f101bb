"""svm_loss: the multiclass hinge loss, a mean over the batch.

cs231n writes it as one function, ``svm_loss(x, y) -> (loss, dx)``; a
class takes ``forward(x, y) -> loss`` and ``backward(dout=1) -> dx``.  The
margins x[n, j] - x[n, y_n] + 1 are never exactly 0 on the search's
inputs (standard normal), so the hinge's kink is never judged.
"""
import numpy as np

from reference_layers.losses import SvmLossLoops, SvmLossVectorized

from ..forms import Form
from . import Kind, Mistake


def _positive(x, y):
    """Where a margin counts: x[n, j] - x[n, y_n] + 1 > 0, j != y_n."""
    rows = np.arange(len(x))
    positive = x - x[rows, y][:, None] + 1.0 > 0
    positive[rows, y] = False
    return positive


def _label_minus_one(inputs, dout):
    """dx with -1 at each label, instead of minus the count of margins that count."""
    x, y = inputs["x"], inputs["y"]
    dx = _positive(x, y).astype(float)
    dx[np.arange(len(x)), y] = -1.0
    return dout * dx / len(x)


KIND = Kind(
    "loss = mean over n of sum over j != y of max(0, x[j] - x[y] + 1): x (N, C), labels y (N)",
    Form("svm_loss", {"x": "N,C", "y": "N"}, arguments=2, integers={"y": "C"}, loss=True),
    (SvmLossVectorized, SvmLossLoops), (
        Mistake("forward", lambda inputs, dout: SvmLossVectorized().forward(**inputs) + 1.0,
                "the loss counts each label's own margin, always 1: leave j == y out of the sum"),
        Mistake("forward", lambda inputs, dout: len(inputs["x"]) * SvmLossVectorized().forward(**inputs),
                "the loss is summed over the batch: divide it by N (a mean, as the gradient's 1/N assumes)"),
        Mistake("dx", _label_minus_one,
                "dx at each row's label is -1/N: it is minus the number of margins that count in the row, / N"),
    ), dims={"C": "2..4"})
