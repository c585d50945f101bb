"""The layer catalogue: every kind's reference formulations agree with each other, with finite differences and
with PyTorch; a layer of a kind, as a class or a cs231n pair of functions, is checked against the reference and
its named mistakes are named."""
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck import generic, kinds
from gradcheck.forms import as_pair
from gradcheck.cli import main
from gradcheck.userfiles import load_module
from kind_checks import assert_agrees_with_torch, failing, on_every_seed
from test_kinds_recurrent import RNN
from reference_layers.activations import LEAK

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")
CATALOGUE = kinds.catalogue()


def example(name):
    """The module examples/NAME.py, imported as gradcheck imports user files."""
    return load_module(os.path.join(EXAMPLES, f"{name}.py"))


def test_the_catalogue_holds_each_kind_once_with_independent_formulations():
    assert {"affine", "batchnorm", "leaky_relu", "relu", "sigmoid", "tanh"} <= set(CATALOGUE)
    assert list(CATALOGUE) == sorted(CATALOGUE)
    for kind in CATALOGUE.values():
        assert len(set(kind.formulations)) >= 2, kind.name


# conv's and the pools' (kinds.WindowedKind) agree in tests/test_reference_agree.py and test_reference_torch.py
FORMULATIONS = [(kind, cls) for kind in CATALOGUE.values() if isinstance(kind, kinds.Kind) for cls in kind.formulations]
IDS = [f"{kind.name}-{cls.__name__}" for kind, cls in FORMULATIONS]


@pytest.mark.parametrize("kind,formulation", FORMULATIONS, ids=IDS)
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.slow
def test_each_formulation_agrees_with_finite_differences_and_with_the_first(kind, formulation, seed):
    """Never checked against itself: against finite differences of its own forward, and against the first
    formulation (the first against the second)."""
    pair = as_pair(formulation, kind.form)
    declared = dict(dims=kind.dims, integers=kind.form.integers, booleans=kind.form.booleans,
                    outputs=kind.form.outputs, seed=seed)
    assert generic.check_function(pair.forward, pair.backward, kind.form.shapes, **declared).passed
    if kind.by_reference:
        other = kind.formulations[1] if formulation is kind.formulations[0] else kind.formulations[0]
        reference = as_pair(other, kind.form)
        assert generic.check_function(pair.forward, pair.backward, kind.form.shapes, **declared,
                                      reference=reference).passed
    else:  # dropout's formulations draw different masks: each is held to its probes instead
        assert all(result.status == "pass" for probe in kind.probes for result in probe(kind.modes(formulation)))


TORCH = {"relu": lambda torch, x: torch.relu(x), "leaky_relu": lambda torch, x: torch.nn.functional.leaky_relu(x, LEAK),
         "sigmoid": lambda torch, x: torch.sigmoid(x), "tanh": lambda torch, x: torch.tanh(x),
         "affine": lambda torch, x, W, b: x @ W + b,
         "batchnorm": lambda torch, x, gamma, beta: torch.nn.functional.batch_norm(x, None, None, gamma, beta,
                                                                                  training=True, eps=1e-5)}


ELEMENTWISE_AND_AFFINE = [(kind, cls) for kind, cls in FORMULATIONS if kind.name in TORCH]


@pytest.mark.slow
@pytest.mark.parametrize("kind,formulation", ELEMENTWISE_AND_AFFINE,
                         ids=[f"{kind.name}-{cls.__name__}" for kind, cls in ELEMENTWISE_AND_AFFINE])
def test_each_formulation_agrees_with_pytorch(kind, formulation):
    """The kinds of this file; the others' in their own files (tests/test_kinds_*.py).  Torch's batch norm
    refuses a batch of 1 in training."""
    sizes = [{"N": n, "D": d, "M": m} for n, d, m in [(2, 1, 1), (3, 5, 2), (7, 4, 6)]]
    assert_agrees_with_torch(kind, formulation, TORCH[kind.name], sizes)


class AffineDbAveraged(example("dlfs_layers").Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.db = self.db / len(dout)
        return dx


class ReluUnmasked:
    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout


class ReluMaskedByDout(ReluUnmasked):
    def backward(self, dout):
        return dout * (dout > 0)


class LeakyReluNoLeak:
    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, LEAK * x)

    def backward(self, dout):
        return dout * (self.x > 0)


class BatchNorm:
    """Batch normalization as the DLFS book writes it, train mode, with an eps of its own (the book's is 1e-6)."""

    eps = 1e-6

    def __init__(self, gamma, beta):
        self.gamma, self.beta = gamma, beta

    def forward(self, x):
        self.xc = x - x.mean(axis=0)
        self.std = np.sqrt(np.mean(self.xc ** 2, axis=0) + self.eps)
        self.xn = self.xc / self.std
        return self.gamma * self.xn + self.beta

    def backward(self, dout):
        n = len(dout)
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dvar = 0.5 * -np.sum(dxn * self.xc / self.std ** 2, axis=0) / self.std
        dxc += (2.0 / n) * self.xc * dvar
        return dxc - np.sum(dxc, axis=0) / n


class BatchNormNoVarianceTerm(BatchNorm):
    """The book's eps, 1e-6: the mistakes are computed with the eps read off the layer, as the reference is."""

    def backward(self, dout):
        super().backward(dout)
        dxn = self.gamma * dout
        return (dxn - dxn.mean(axis=0)) / self.std


class BatchNormDgammaOverFeatures(BatchNorm):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dgamma = np.sum(self.xn * dout, axis=1)
        return dx


class BatchNormDgammaFromOutput(BatchNorm):
    """dgamma from forward's output, as a public CMU 11-785 BatchNorm computes it: sum(delta * self.out)."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.dgamma = np.sum((self.gamma * self.xn + self.beta) * dout, axis=0)
        return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """cs231n's signature; backward below leaves the mean term out."""
    std = np.sqrt(x.var(axis=0) + bn_param.get("eps", 1e-5))
    xhat = (x - x.mean(axis=0)) / std
    return gamma * xhat + beta, (xhat, gamma, std)


def batchnorm_backward(dout, cache):
    xhat, gamma, std = cache
    dxhat = dout * gamma
    return (dxhat - xhat * (dxhat * xhat).mean(axis=0)) / std, (dout * xhat).sum(axis=0), dout.sum(axis=0)


class TanhFromInput:
    def forward(self, x):
        self.x = x
        return np.tanh(x)

    def backward(self, dout):
        return dout * (1 - self.x ** 2)


# layer -> (kind, the checks that fail, the hint of its finding); cs231n functions and DLFS classes
WRONG = {
    "AffineDbAveraged": ("affine", AffineDbAveraged, ["db"],
                         "db is the reference divided by N=2, everywhere: a mean where a sum belongs?"),
    "affine_forward (db averaged)": ("affine", example("wrong_affine_relu").affine_forward, ["db"],
                                     "db is the reference divided by N=2, everywhere: a mean where a sum belongs?"),
    "ReluUnmasked": ("relu", ReluUnmasked, ["dx"], CATALOGUE["relu"].mistakes[0].hint),
    "ReluMaskedByDout": ("relu", ReluMaskedByDout, ["dx"], CATALOGUE["relu"].mistakes[1].hint),
    "relu_forward (x changed)": ("relu", example("wrong_affine_relu").relu_forward, ["no-mutation"], None),
    "LeakyReluNoLeak": ("leaky_relu", LeakyReluNoLeak, ["dx"], CATALOGUE["leaky_relu"].mistakes[0].hint),
    "SigmoidFromInput": ("sigmoid", example("dlfs_layers").SigmoidFromInput, ["dx"],
                         CATALOGUE["sigmoid"].mistakes[0].hint),
    "TanhFromInput": ("tanh", TanhFromInput, ["dx"], CATALOGUE["tanh"].mistakes[0].hint),
    "batchnorm_forward (no mean term)": ("batchnorm", batchnorm_forward, ["dx"],
                                         CATALOGUE["batchnorm"].mistakes[0].hint),
    "BatchNormNoVarianceTerm": ("batchnorm", BatchNormNoVarianceTerm, ["dx"],
                                CATALOGUE["batchnorm"].mistakes[1].hint),
    "BatchNormDgammaOverFeatures": ("batchnorm", BatchNormDgammaOverFeatures, ["dgamma"],
                                    CATALOGUE["batchnorm"].mistakes[3].hint),
    "BatchNormDgammaFromOutput": ("batchnorm", BatchNormDgammaFromOutput, ["dgamma"],
                                  CATALOGUE["batchnorm"].mistakes[5].hint),
}
FAST = ("SigmoidFromInput", "relu_forward (x changed)", "batchnorm_forward (no mean term)")


@pytest.mark.parametrize("name,seed", on_every_seed(WRONG, FAST))
def test_each_wrong_layer_fails_its_checks_alone_with_its_hint_on_every_seed(name, seed):
    kind, layer, checks, hint = WRONG[name]
    report = kinds.check_kind(CATALOGUE[kind], layer, seed=seed)
    assert failing(report) == checks
    if hint:
        assert hint in report.findings[0].results[0].hints


@pytest.mark.parametrize("kind,layer", [("affine", "dlfs_layers.py:Affine"), ("sigmoid", "dlfs_layers.py:Sigmoid"),
                                        ("affine", "affine_relu.py:affine_forward"),
                                        ("relu", "affine_relu.py:relu_forward")])
def test_right_layers_pass_as_classes_and_as_functions(kind, layer, monkeypatch):
    monkeypatch.chdir(EXAMPLES)
    result = CliRunner().invoke(main, [kind, "--impl", layer, "--seed", "0"])
    assert result.exit_code == 0 and f"gradcheck {kind} · {layer}\nPASSED" in result.stdout, result.stdout


@pytest.mark.parametrize("eps", [1e-6, 1e-4, 1e-5])
def test_batchnorm_is_checked_with_the_eps_its_forward_uses_and_says_which(eps):
    report = kinds.check_kind(CATALOGUE["batchnorm"], type("BatchNorm", (BatchNorm,), {"eps": eps}), seed=0)
    assert report.passed and report.notes == [f"eps {eps:.3g}, read off the layer's forward (it changes every output)"]


@pytest.mark.parametrize("seed", [pytest.param(seed, marks=[pytest.mark.slow] * (seed > 0)) for seed in range(5)])
def test_a_right_batchnorm_of_eps_1e_8_passes_where_the_references_round_apart(seed):
    """eps 1e-8 (CMU 11-785's) on two samples around 1000: dx cancels to 1e-4 of its terms, and the reference's
    two formulations differ by 1.5e-6 of it; the book's formula differed from the first by as much and failed dx
    on seeds 0 and 1 before that difference counted as rounding (generic.SPREAD)."""
    report = kinds.check_kind(CATALOGUE["batchnorm"], type("BatchNorm", (BatchNorm,), {"eps": 1e-8}), seed=seed)
    assert report.passed


def test_list_prints_the_catalogue_and_a_layer_keeping_no_gradient_is_told_where():
    listed = CliRunner().invoke(main, ["list"]).stdout
    assert all(name in listed for name in ["conv", "maxpool", "avgpool", *CATALOGUE])

    class KeepsNoGradients:
        def __init__(self, W, b):
            self.W, self.b = W, b

        def forward(self, x):
            return x @ self.W + self.b

        def backward(self, dout):
            return dout @ self.W.T
    report = kinds.check_kind(CATALOGUE["affine"], KeepsNoGradients, seed=0)
    (dw,) = [check for check in report.checks if check.name == "dW"]
    assert dw.message == ("backward must leave the gradient of W in self.dW (or in self.grads, beside W in "
                          "self.params); KeepsNoGradients has none")

    class RaisesInBackward(KeepsNoGradients):
        def backward(self, dout):
            raise TypeError("dot() missing 1 required positional argument: 'b'")
    report = kinds.check_kind(CATALOGUE["affine"], RaisesInBackward, seed=0)
    (dx,) = [check for check in report.checks if check.name == "dx"]
    assert dx.message.startswith("backward raised TypeError: dot() missing 1 required positional argument: 'b', "
                                 "at ")  # said once, not wrapped in what the adapter raised



class KeepsDx(example("dlfs_layers").Affine):
    """The book's affine layer, but that keeps dx in the layer (``self.dx``) and returns nothing, as the public
    CNN-from-scratch layer that showed it (it failed dx with a NaN of shape ())."""

    def backward(self, dout):
        self.dx = super().backward(dout)


class KeepsNoDx(KeepsDx):
    def backward(self, dout):
        super().backward(dout)
        del self.dx


class RnnStepKeepsBothGradients(RNN):
    """DLFS 2's rnn step, but that keeps dx and dprev_h in the layer instead of returning them."""

    def backward(self, dh_next):
        self.dx, self.dprev_h = super().backward(dh_next)


def test_a_class_whose_backward_returns_none_is_read_from_the_gradients_it_keeps_saying_so():
    report = kinds.check_kind(CATALOGUE["affine"], KeepsDx, seed=0)
    assert report.passed
    assert "backward returned None; self.dx was read from the layer, which it set" in report.notes
    step = kinds.check_kind(CATALOGUE["rnn_step"], RnnStepKeepsBothGradients, seed=0)
    assert step.passed
    assert "backward returned None; self.dx and self.dprev_h were read from the layer, which it set" in step.notes
    missing = kinds.check_kind(CATALOGUE["affine"], KeepsNoDx, seed=0)
    assert failing(missing) == ["dx"]
    assert missing.checks[3].message == "backward returned None: return dx, or leave self.dx in the layer"


LOOPS = """
import numpy as np


class Relu:
    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, dout):
        while True:
            pass
"""


def test_a_layer_that_loops_stops_at_the_timeout_with_one_line(tmp_path, monkeypatch):
    (tmp_path / "loops.py").write_text(LOOPS)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["relu", "--impl", "loops.py:Relu", "--timeout", "1"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == ("gradcheck: error: the time limit of 1 s (--timeout) was reached while loops.py:Relu was "
                             "checked: does it loop?\n")


IMPORTS_ITS_FORWARD = """
import numpy as np

from reference_layers.recurrent import rnn_forward


def rnn_backward(dh, cache):
    x, h0, Wx, Wh, b = cache[0][0], cache[0][1], cache[0][2], cache[0][3], np.zeros(cache[0][2].shape[1])
    return np.zeros(x.shape[:1] + (dh.shape[1], x.shape[1])), np.zeros_like(h0), np.zeros_like(Wx), \\
        np.zeros_like(Wh), b
"""


def test_a_forward_imported_from_elsewhere_is_checked_with_the_backward_of_the_file_named(tmp_path, monkeypatch):
    """The backward is looked up where the user pointed, not in the module the forward came from (whose right
    backward would pass a file whose own backward is all zeros)."""
    (tmp_path / "mine.py").write_text(IMPORTS_ITS_FORWARD)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["rnn", "--impl", "mine.py:rnn_forward", "--seed", "0", "--format", "json"])
    assert result.exit_code == 1, result.output
    assert '"passed": false' in result.stdout


def test_a_class_for_a_kind_checked_as_functions_only_is_refused_with_the_form_it_takes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "time.py").write_text("class TimeSoftmaxWithLoss:\n    def forward(self, xs, ts):\n        pass\n")
    result = CliRunner().invoke(main, ["temporal_softmax_loss", "--impl", "time.py:TimeSoftmaxWithLoss"])
    assert result.exit_code == 2 and result.stderr == (
        "gradcheck: error: temporal_softmax_loss takes a cs231n function temporal_softmax_loss(x, y, mask) -> (loss, "
        "dx); TimeSoftmaxWithLoss is a class, and the courses' classes of this kind share no form\n")


def test_a_class_of_a_kind_given_its_state_by_set_state_fails_forward_without_one(tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text("class TimeRNN:\n    def __init__(self, Wx, Wh, b, stateful):\n        pass\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["rnn", "--impl", "mine.py:TimeRNN", "--examples", "1", "--format", "json"])
    assert result.exit_code == 1
    forward = json.loads(result.stdout)["checks"][0]
    assert (forward["name"], forward["status"]) == ("forward", "fail")
    assert forward["message"] == (
        "TimeRNN has no set_state() method: rnn takes a class NAME(Wx, Wh, b, True) (stateful True), or NAME(D, H, "
        "True) making its own Wx, Wh, b, with set_state(h0), forward(x) and backward(dout) -> dx, dh0 kept in dh, "
        "dWx kept, dWh kept, db kept, or a "
        "cs231n forward function (rnn_forward(x, h0, Wx, Wh, b) -> (out, cache)) whose backward returns every "
        "gradient in order")


class GlobalAvgPoolKeepdims:
    """Keeps the averaged axes: out is (N, C, 1, 1) where the kind's is (N, C)."""

    def forward(self, x):
        self.shape = x.shape
        return x.mean(axis=(2, 3), keepdims=True)

    def backward(self, dout):
        return np.broadcast_to(dout, self.shape) / (self.shape[2] * self.shape[3])


class AffineDbAveragedForOneRow(AffineDbAveraged):
    """Wrong only where N > 1, and raises there: its db is never compared where it is wrong."""

    def forward(self, x):
        if len(x) > 1:
            raise ValueError("one row at a time")
        return super().forward(x)


def test_a_check_not_made_everywhere_says_where_it_was_made_and_counts_its_passes():
    report = kinds.check_kind(CATALOGUE["affine"], AffineDbAveragedForOneRow, seed=0)
    assert failing(report) == ["forward"]
    made = report.passes["db"]
    assert 0 < made < report.examples and report.passes == dict.fromkeys(CATALOGUE["affine"].checks, made)
    assert report.notes == [f"repeatable, no-mutation, dx, dW and db passed where they were made, on {made} of "
                            f"{report.examples} configurations: forward failed first on the others"]


def test_a_forward_of_the_wrong_shape_fails_forward_alone_and_a_configuration_outside_the_kind_is_refused():
    report = kinds.check_kind(CATALOGUE["global_avg_pool"], GlobalAvgPoolKeepdims, seed=0)
    assert [(check.name, check.status) for check in report.checks] == [
        ("forward", "fail"), ("repeatable", "skip"), ("no-mutation", "skip"), ("dx", "skip")]
    assert report.checks[0].message == "forward has shape (1, 1, 1, 1), the reference's (1, 1)"
    kind = CATALOGUE["conv_dilated"]
    with pytest.raises(ValueError, match=r"^the reference cannot take .*KH=3.*: choose --dim values within the "
                                         r"kind's ranges \(gradcheck KIND --help\)"):
        kinds.check_kind(kind, kind.formulations[1], dims={"KH": 3, "H": 4}, seed=0)


def batchnorm_backward_keepdims(dout, cache):
    """Right values; dgamma and dbeta of shape (1, D), as keepdims=True gives them."""
    dx, dgamma, dbeta = batchnorm_backward_right(dout, cache)
    return dx, dgamma[None], dbeta[None]


def batchnorm_backward_right(dout, cache):
    xhat, gamma, std = cache
    dxhat = dout * gamma
    dx = (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / std
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def test_a_gradient_of_the_parameters_values_in_a_shape_with_axes_of_1_passes_with_a_note():
    """cs231n's checks broadcast dgamma (1, D) against (D,); so does this one, and it says so."""
    report = kinds.check_kind(CATALOGUE["batchnorm"], batchnorm_forward, backward=batchnorm_backward_keepdims, seed=0)
    assert report.passed
    shown = [note for check in report.checks for note in check.notes]
    assert any(note.startswith("dgamma has shape (1, ") and "where gamma has (" in note for note in shown), shown
    wrong_shape = kinds.check_kind(CATALOGUE["batchnorm"], batchnorm_forward,
                                   backward=lambda dout, cache: (dout, dout, dout), seed=0)
    assert {check.name for check in wrong_shape.checks if not check.passed} == {"dx", "dgamma", "dbeta"}
