"""Classes that make their own weights (``Affine(input_size, output_size)``, ``BatchNorm(num_features)``): built
with the sizes of their parameters, in the order the kind's shapes name them, and given each configuration's
values in the arrays they keep, found by shape on a configuration where no two parameters' shapes agree.  Right
ones pass on every seed, wrong ones fail their checks alone; a class whose arrays cannot be told apart fails
forward saying so, and one that takes its values under names of its own is still given them."""
import inspect

import numpy as np
import pytest

from gradcheck import kinds
from gradcheck.forms import sizes
from gradcheck.grading.grade import grade
from gradcheck.grading.sandbox import sandbox_problem
from gradcheck.kinds.batchnorm import NEVER_UPDATED
from kind_checks import failing, on_every_seed
from test_kinds_recurrent import LSTM, RNN

CATALOGUE = kinds.catalogue()


class Affine:
    """As students write it: He initialization, b kept as (1, M), and so db."""

    def __init__(self, input_size, output_size):
        self.W = np.random.randn(input_size, output_size) * np.sqrt(2.0 / input_size)
        self.b = np.zeros((1, output_size))
        self.dW = self.db = None

    def forward(self, X):
        self.X = X
        return np.dot(X, self.W) + self.b

    def backward(self, d_out):
        self.dW = np.dot(self.X.T, d_out)
        self.db = np.sum(d_out, axis=0, keepdims=True)
        return np.dot(d_out, self.W.T)


class AffineDbAveraged(Affine):
    def backward(self, d_out):
        dx = super().backward(d_out)
        self.db = self.db / len(d_out)
        return dx


class Linear:
    """PyTorch's names, and its weights and their gradients in dicts (the gradients made when built, of the
    weights' shapes)."""

    def __init__(self, in_features, out_features, init_std=0.01):
        self.params = {"weight": init_std * np.random.randn(in_features, out_features),
                       "bias": np.zeros(out_features)}
        self.grads = {"weight": np.zeros((in_features, out_features)), "bias": np.zeros(out_features)}

    def forward(self, x):
        self.x = x
        return x @ self.params["weight"] + self.params["bias"]

    def backward(self, dout):
        self.grads["weight"][...] = self.x.T @ dout
        self.grads["bias"][...] = dout.sum(axis=0)
        return dout @ self.params["weight"].T


class RNNOwn(RNN):
    """The DLFS 2 book's RNN, making its own weights in ``params`` (lists, as the book keeps them)."""

    def __init__(self, input_size, hidden_size):
        super().__init__(np.random.randn(input_size, hidden_size), np.random.randn(hidden_size, hidden_size),
                         np.zeros(hidden_size))


class LSTMOwn(LSTM):
    """The DLFS 2 book's LSTM (gates f, g, i, o), making its own weights."""

    def __init__(self, input_size, hidden_size):
        super().__init__(np.random.randn(input_size, 4 * hidden_size), np.random.randn(hidden_size, 4 * hidden_size),
                         np.zeros(4 * hidden_size))


class BatchNorm:
    """PyTorch's conventions: gamma ones, beta zeros, running_mean zeros and running_var ones when built."""

    def __init__(self, num_features, eps=1e-5, momentum=0.9):
        self.gamma, self.beta = np.ones(num_features), np.zeros(num_features)
        self.eps, self.momentum = eps, momentum
        self.running_mean, self.running_var = np.zeros(num_features), np.ones(num_features)

    def forward(self, x, train_flg=True):
        if train_flg:
            mean, var = x.mean(axis=0), x.var(axis=0)
            self.update(mean, var)
        else:
            mean, var = self.running_mean, self.running_var
        self.std = np.sqrt(var + self.eps)
        self.xhat = (x - mean) / self.std
        return self.gamma * self.xhat + self.beta

    def update(self, mean, var):
        self.running_mean *= self.momentum
        self.running_mean += (1 - self.momentum) * mean  # in place: the probe must see where it started
        self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var

    def backward(self, dout):
        self.dbeta, self.dgamma = dout.sum(axis=0), (dout * self.xhat).sum(axis=0)
        dxhat = dout * self.gamma
        return (len(dout) * dxhat - dxhat.sum(axis=0) - self.xhat * (dxhat * self.xhat).sum(axis=0)) \
            / (len(dout) * self.std)


class BatchNormVarNeverUpdated(BatchNorm):
    def update(self, mean, var):
        self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mean


class Embedding:
    def __init__(self, vocab_size, wordvec_size):
        self.params = [0.01 * np.random.randn(vocab_size, wordvec_size)]
        self.grads = [np.zeros((vocab_size, wordvec_size))]

    def forward(self, idx):
        self.idx = idx
        return self.params[0][idx]

    def backward(self, dout):
        self.grads[0][...] = 0
        np.add.at(self.grads[0], self.idx, dout)


class FC:
    """The DIVE INTO CODE sprint's fully connected layer: it makes W and B with the initializer it is given, and
    its backward steps them with the optimizer it is given (gradcheck gives one that does nothing)."""

    def __init__(self, n_nodes1, n_nodes2, initializer, optimizer):
        self.optimizer = optimizer
        self.W = initializer.W(n_nodes1, n_nodes2)
        self.B = initializer.B(n_nodes2)

    def forward(self, X):
        self.X = X
        return X @ self.W + self.B

    def backward(self, dA):
        self.dB = np.sum(dA, axis=0)
        self.dW = self.X.T @ dA
        dZ = dA @ self.W.T
        self = self.optimizer.update(self)
        return dZ


class FCActivated(FC):
    """The sprint's variant taking its activation too: given the identity, the affine part is checked."""

    def __init__(self, n_nodes1, n_nodes2, initializer, optimizer, activation):
        super().__init__(n_nodes1, n_nodes2, initializer, optimizer)
        self.activation = activation

    def forward(self, X):
        return self.activation.forward(super().forward(X))

    def backward(self, dA):
        return super().backward(self.activation.backward(dA))


class FCdWTransposed(FC):
    def backward(self, dA):
        dZ = super().backward(dA)
        self.dW = dA.T @ self.X
        return dZ


class AffineOfTwoAlike(Affine):
    """Keeps two arrays of W's shape under names that do not say which is W."""

    def __init__(self, input_size, output_size):
        super().__init__(input_size, output_size)
        self.A, self.B = self.W, np.zeros_like(self.W)
        del self.W

    def forward(self, X):
        self.W = self.A
        return super().forward(X)


class AffineOfItsOwnNames:
    """Given its values, under names of its own: it is given them, as the courses' Affine(W, b)."""

    def __init__(self, matrix, offset):
        self.matrix, self.offset = matrix, offset

    def forward(self, x):
        self.x = x
        return x @ self.matrix + self.offset

    def backward(self, dout):
        self.dW, self.db = self.x.T @ dout, dout.sum(axis=0)
        return dout @ self.matrix.T


RIGHT = {"Affine": ("affine", Affine), "Linear": ("affine", Linear), "RNNOwn": ("rnn_step", RNNOwn),
         "LSTMOwn": ("lstm_step", LSTMOwn), "BatchNorm": ("batchnorm", BatchNorm),
         "Embedding": ("embedding", Embedding), "AffineOfItsOwnNames": ("affine", AffineOfItsOwnNames),
         "FC": ("affine", FC)}


@pytest.mark.parametrize("name,seed", on_every_seed(RIGHT, ("Affine", "LSTMOwn", "BatchNorm", "FC")))
def test_right_classes_making_their_own_weights_pass_on_every_seed(name, seed):
    kind, layer = RIGHT[name]
    report = kinds.check_kind(CATALOGUE[kind], layer, seed=seed)
    assert failing(report) == []
    made = [note for note in report.notes if "makes its own" in note]
    assert len(made) == (name != "AffineOfItsOwnNames")


def test_the_report_says_how_a_class_making_its_own_weights_was_built_and_where_its_values_went():
    notes = kinds.check_kind(CATALOGUE["affine"], Linear, seed=0).notes
    assert notes[0] == ("Linear makes its own W, b: it is built as Linear(D, M) for each configuration, and the "
                        "configuration's values are written into its self.params['weight'], self.params['bias']")


WRONG = {"AffineDbAveraged": ("affine", AffineDbAveraged, ["db"], "a mean where a sum belongs?"),
         "BatchNormVarNeverUpdated": ("batchnorm", BatchNormVarNeverUpdated, ["running-averages"],
                                      NEVER_UPDATED.format(names="running_var"))}


@pytest.mark.parametrize("name,seed", on_every_seed(WRONG, ("AffineDbAveraged",)))
def test_wrong_classes_making_their_own_weights_fail_their_checks_alone_on_every_seed(name, seed):
    kind, layer, checks, hint = WRONG[name]
    report = kinds.check_kind(CATALOGUE[kind], layer, seed=seed)
    assert failing(report) == checks
    assert any(hint in text for text in report.findings[0].results[0].hints)


def test_running_averages_are_checked_from_where_the_class_started_them():
    """PyTorch starts running_var at ones: the right update from there passes (``BatchNorm`` above), and one
    that never updates it fails saying so, not "from zeros"."""
    probe = {check.name: check for check in kinds.check_kind(CATALOGUE["batchnorm"], BatchNormVarNeverUpdated,
                                                             seed=0).checks}["running-averages"]
    assert probe.message.startswith("after two train-mode forwards running_var is [1. 1. 1.], where momentum * "
                                    "running + (1 - momentum) * the batch's variance, from ones, gives [")


def test_a_dive_layer_is_given_an_initializer_of_zeros_and_an_optimizer_that_does_nothing():
    assert kinds.check_kind(CATALOGUE["affine"], FC, seed=0).notes[0] == (
        "FC makes its own W, b: it is built as FC(D, M, initializer=an initializer of zeros, optimizer=a no-op "
        "optimizer) for each configuration, and the configuration's values are written into its self.W, self.B")
    assert failing(kinds.check_kind(CATALOGUE["affine"], FCdWTransposed, seed=0)) == ["dW"]
    activated = kinds.check_kind(CATALOGUE["affine"], FCActivated, seed=0)
    assert activated.passed and "optimizer=a no-op optimizer, activation=the identity)" in activated.notes[0]


def test_a_class_whose_arrays_cannot_be_told_apart_fails_forward_saying_what_was_tried():
    report = kinds.check_kind(CATALOGUE["affine"], AffineOfTwoAlike, seed=0)
    assert failing(report)[0] == "forward"
    assert report.checks[0].message.endswith(
        "; built with sizes (D, M) = (3, 4) instead, it keeps 2 arrays of W's shape (3, 4): A, B, and their names "
        "do not tell which holds W")
    assert report.checks[0].message.startswith("the constructor raised TypeError: ")


def test_a_class_of_the_kind_is_built_with_the_sizes_in_the_order_its_shapes_name_them():
    assert [sizes(CATALOGUE[name].form) for name in ("affine", "lstm_step", "embedding", "batchnorm", "relu")] == [
        ["D", "M"], ["D", "H"], ["V", "D"], ["D"], []]
    assert "a class NAME(W, b), or NAME(D, M) making its own W, b, with forward(x)" in \
        CATALOGUE["affine"].form.described()


@pytest.mark.slow
@pytest.mark.skipif(sandbox_problem() is not None, reason=f"no bwrap sandbox here: {sandbox_problem()}")
def test_classes_making_their_own_weights_are_graded_under_the_sandbox(tmp_path):
    """Built, and given their values, in the sandboxed child; the note on how comes back to the report."""
    (tmp_path / "right.py").write_text("import numpy as np\n\n\n" + inspect.getsource(Affine))
    (tmp_path / "wrong.py").write_text("import numpy as np\n\n\n" + inspect.getsource(Affine).replace(
        "keepdims=True)", "keepdims=True) / len(d_out)"))
    right, wrong = grade([tmp_path / "right.py", tmp_path / "wrong.py"], "affine", "Affine", seed=0, examples=5,
                         timeout=10, memory=512, workers=2).submissions
    assert (right.score, right.passed) == (right.max_score, True)
    assert [check.name for check in wrong.checks if not check.passed] == ["db"]
    assert right.report.notes[0].startswith("Affine makes its own W, b: it is built as Affine(D, M)")
