"""The catalogue's losses and word embedding: inputs that hold integers (labels, word indices) or booleans
(masks), a scalar loss, and a loss's backward called as a network calls it.  Each kind's references agree with
PyTorch (with finite differences and each other: tests/test_kinds.py); right layers pass as cs231n functions and
as classes, and each wrong layer fails its checks alone, with its hint, on every seed."""
import os

import numpy as np
import pytest

from gradcheck import generic, kinds
from gradcheck.userfiles import load_module
from kind_checks import failing, on_every_seed

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")
CATALOGUE = kinds.catalogue()
KINDS = ["softmax_loss", "svm_loss", "temporal_softmax_loss", "embedding"]
DLFS = load_module(os.path.join(EXAMPLES, "dlfs_layers.py"))


def hint(kind, number):
    return CATALOGUE[kind].mistakes[number].hint


FORMULATIONS = [(CATALOGUE[name], cls) for name in KINDS for cls in CATALOGUE[name].formulations]


def torch_loss(torch, name, x, labels, mask):
    """The loss of kind ``name`` as PyTorch computes it (scores ``x``, ``labels`` and ``mask`` as tensors)."""
    functional = torch.nn.functional
    if name == "softmax_loss":
        return functional.cross_entropy(x, labels)
    if name == "svm_loss":  # multi_margin_loss divides each row's sum by C, and the batch's by N
        return functional.multi_margin_loss(x, labels) * x.shape[1]
    words = functional.cross_entropy(x.reshape(-1, x.shape[-1]), labels.reshape(-1), reduction="none")
    return (words * mask.reshape(-1)).sum() / x.shape[0]


LOSSES = [(kind, cls) for kind, cls in FORMULATIONS if kind.form.loss]


@pytest.mark.slow
@pytest.mark.parametrize("kind,formulation", LOSSES, ids=[f"{kind.name}-{cls.__name__}" for kind, cls in LOSSES])
def test_each_loss_agrees_with_pytorch(kind, formulation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for n, t, c in [(1, 1, 2), (3, 2, 5), (6, 3, 4)]:
        x = rng.standard_normal((n, t, c) if kind.name == "temporal_softmax_loss" else (n, c))
        labels, mask = rng.integers(0, c, x.shape[:-1]), rng.random(x.shape[:-1]) < 0.5
        scores = torch.tensor(x, requires_grad=True)
        loss = torch_loss(torch, kind.name, scores, torch.tensor(labels), torch.tensor(mask, dtype=torch.float64))
        loss.backward()
        layer = formulation()
        ours = layer.forward(x, labels, mask) if kind.name == "temporal_softmax_loss" else layer.forward(x, labels)
        np.testing.assert_allclose(ours, loss.item(), rtol=1e-12)
        np.testing.assert_allclose(layer.backward(), scores.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.slow
@pytest.mark.parametrize("formulation", CATALOGUE["embedding"].formulations)
def test_each_embedding_agrees_with_pytorch(formulation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for n, t, v, d in [(1, 1, 1, 2), (3, 2, 2, 5), (6, 3, 4, 4)]:  # few words: repeated ones
        words, W = rng.integers(0, v, (n, t)), rng.standard_normal((v, d))
        weights = torch.tensor(W, requires_grad=True)
        out = torch.nn.functional.embedding(torch.tensor(words), weights)
        dout = rng.standard_normal(tuple(out.shape))
        out.backward(torch.tensor(dout))
        layer = formulation(W)
        np.testing.assert_allclose(layer.forward(words), out.detach().numpy(), rtol=1e-12, atol=1e-14)
        layer.backward(dout)
        np.testing.assert_allclose(layer.dW, weights.grad.numpy(), rtol=1e-12, atol=1e-14)


# Right layers, as cs231n writes them (one function returning (loss, dx)) and as classes.

def softmax_loss(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(x)
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return -log_probs[np.arange(n), y].sum() / n, dx / n


def svm_loss(x, y):
    n = len(x)
    margins = np.maximum(0, x - x[np.arange(n), y][:, None] + 1.0)
    margins[np.arange(n), y] = 0
    positive = (margins > 0).astype(float)
    positive[np.arange(n), y] = -positive.sum(axis=1)
    return margins.sum() / n, positive / n


def temporal_softmax_loss(x, y, mask, verbose=False):
    N, T, V = x.shape
    x_flat, y_flat, mask_flat = x.reshape(N * T, V), y.reshape(N * T), mask.reshape(N * T)
    probs = np.exp(x_flat - np.max(x_flat, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    loss = -np.sum(mask_flat * np.log(probs[np.arange(N * T), y_flat])) / N
    dx_flat = probs.copy()
    dx_flat[np.arange(N * T), y_flat] -= 1
    dx_flat /= N
    dx_flat *= mask_flat[:, None]
    return loss, dx_flat.reshape(N, T, V)


def word_embedding_forward(x, W):
    return W[x], (x, W)


def word_embedding_backward(dout, cache):
    x, W = cache
    dW = np.zeros_like(W)
    np.add.at(dW, x, dout)
    return dW


class Embedding:
    """As "Deep Learning from Scratch 2" writes it: W in params, its gradient in grads, filled in place."""

    def __init__(self, W):
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.idx = None

    def forward(self, idx):
        W, = self.params
        self.idx = idx
        return W[idx]

    def backward(self, dout):
        dW, = self.grads
        dW[...] = 0
        np.add.at(dW, self.idx, dout)
        return None


class SvmLoss:
    def forward(self, x, y):
        self.x, self.y = x, y
        return svm_loss(x, y)[0]

    def backward(self):
        return svm_loss(self.x, self.y)[1]


RIGHT = [("softmax_loss", softmax_loss), ("softmax_loss", DLFS.SoftmaxWithLoss), ("svm_loss", svm_loss),
         ("svm_loss", SvmLoss), ("temporal_softmax_loss", temporal_softmax_loss),
         ("embedding", word_embedding_forward), ("embedding", Embedding)]


@pytest.mark.parametrize("seed", [pytest.param(seed, marks=[pytest.mark.slow] if seed else []) for seed in range(5)])
@pytest.mark.parametrize("kind,layer", RIGHT, ids=[f"{kind}-{layer.__name__}" for kind, layer in RIGHT])
def test_right_layers_pass_as_functions_and_as_classes(kind, layer, seed):
    report = kinds.check_kind(CATALOGUE[kind], layer, seed=seed)
    assert report.passed, [check.message for check in report.checks if not check.passed]


def test_the_books_guard_inside_the_log_is_read_off_and_said():
    """DLFS computes log(p + 1e-7); a cs231n softmax_loss adds nothing, and gets no note."""
    assert kinds.check_kind(CATALOGUE["softmax_loss"], DLFS.SoftmaxWithLoss, seed=0).notes == [
        "the loss adds 1e-07 inside its log, read off the layer's forward; the reference adds it too (dx is the "
        "gradient without it, in both)"]
    assert kinds.check_kind(CATALOGUE["softmax_loss"], softmax_loss, seed=0).notes == []


# Wrong layers: each makes one mistake.

def softmax_loss_summed(x, y):
    loss, dx = softmax_loss(x, y)
    return loss * len(x), dx


def softmax_loss_no_minus_one(x, y):
    loss, dx = softmax_loss(x, y)
    dx[np.arange(len(x)), y] += 1 / len(x)
    return loss, dx


def softmax_loss_dx_not_averaged(x, y):
    loss, dx = softmax_loss(x, y)
    return loss, dx * len(x)


def svm_loss_own_margin(x, y):
    loss, dx = svm_loss(x, y)
    return loss + 1.0, dx


def svm_loss_label_minus_one(x, y):
    loss, dx = svm_loss(x, y)
    dx[np.arange(len(x)), y] = -1 / len(x)
    return loss, dx


def temporal_softmax_loss_unmasked(x, y, mask):
    loss, _ = temporal_softmax_loss(x, y, mask)
    return loss, temporal_softmax_loss(x, y, np.ones_like(mask))[1]


def temporal_softmax_loss_per_step(x, y, mask):
    loss, dx = temporal_softmax_loss(x, y, mask)
    return loss * len(x) / max(mask.sum(), 1), dx


def word_embedding_buffered_forward(x, W):
    return W[x], (x, W)


def word_embedding_buffered_backward(dout, cache):
    x, W = cache
    dW = np.zeros_like(W)
    dW[x] += dout
    return dW


class EmbeddingAssigned(Embedding):
    def backward(self, dout):
        dW, = self.grads
        dW[...] = 0
        dW[self.idx] = dout


OVERFLOW = generic.OVERFLOW_HINT
WRONG = {  # layer -> (kind, layer, the checks that fail, a hint of its first finding)
    # its dx, from the NaN softmax, is NaN too where forward overflows
    "SoftmaxWithLossNoMax": ("softmax_loss", DLFS.SoftmaxWithLossNoMax, ["forward", "dx"], OVERFLOW),
    "softmax_loss (summed)": ("softmax_loss", softmax_loss_summed, ["forward"], hint("softmax_loss", 0)),
    "softmax_loss (no -1)": ("softmax_loss", softmax_loss_no_minus_one, ["dx"], hint("softmax_loss", 1)),
    "softmax_loss (dx not averaged)": ("softmax_loss", softmax_loss_dx_not_averaged, ["dx"],
                                       "dx is the reference times 2 (the value of C and N here), everywhere: a sum "
                                       "where the forward takes a mean?"),
    "svm_loss (own margin)": ("svm_loss", svm_loss_own_margin, ["forward"], hint("svm_loss", 0)),
    "svm_loss (-1 at the label)": ("svm_loss", svm_loss_label_minus_one, ["dx"], hint("svm_loss", 2)),
    "temporal_softmax_loss (unmasked)": ("temporal_softmax_loss", temporal_softmax_loss_unmasked, ["dx"],
                                         hint("temporal_softmax_loss", 1)),
    "temporal_softmax_loss (per step)": ("temporal_softmax_loss", temporal_softmax_loss_per_step, ["forward"],
                                         hint("temporal_softmax_loss", 0)),
    "word_embedding (dW[x] += dout)": ("embedding", word_embedding_buffered_forward, ["dW"], hint("embedding", 0)),
    "EmbeddingAssigned": ("embedding", EmbeddingAssigned, ["dW"], hint("embedding", 0)),
}
FAST = ("SoftmaxWithLossNoMax", "word_embedding (dW[x] += dout)")
@pytest.mark.parametrize("name,seed", on_every_seed(WRONG, FAST))
def test_each_wrong_layer_fails_its_checks_alone_with_its_hint_on_every_seed(name, seed):
    kind, layer, checks, expected = WRONG[name]
    report = kinds.check_kind(CATALOGUE[kind], layer, seed=seed)
    assert failing(report) == checks
    assert expected in report.findings[0].results[0].hints


def test_a_loss_function_that_returns_the_loss_alone_is_told_what_to_return():
    report = kinds.check_kind(CATALOGUE["svm_loss"], lambda x, y: svm_loss(x, y)[0], seed=0)
    (forward,) = [check for check in report.checks if check.name == "forward"]
    assert forward.message == "<lambda> must return (loss, dx), as cs231n's losses do; it returned float64"
