"""gradcheck net: every layer of a network checked in place, on the activation it receives; the first wrong one
named."""
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck.cli import main
from gradcheck.network import check_network
from gradcheck.userfiles import load_module

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")
dlfs = load_module(os.path.join(EXAMPLES, "dlfs_network.py"))


def verdicts(report):
    return {layer.name: {check.name: check.status for check in layer.checks} for layer in report.layers}


def test_a_right_network_passes_and_each_layer_is_checked_with_its_own_parameters():
    report = check_network(dlfs.two_layer_net(), (4, 6), seed=0)
    assert report.passed and report.first_wrong is None
    assert verdicts(report) == {
        "Affine1": dict.fromkeys(["forward", "repeatable", "dx", "dW", "db"], "pass"),
        "Relu1": dict.fromkeys(["forward", "repeatable", "dx"], "pass"),
        "Affine2": dict.fromkeys(["forward", "repeatable", "dx", "dW", "db"], "pass"),
        "Sigmoid": dict.fromkeys(["forward", "repeatable", "dx"], "pass")}
    assert [layer.input_shape for layer in report.layers] == [(4, 6), (4, 5), (4, 5), (4, 3)]


def test_the_first_wrong_layer_is_named_and_only_its_wrong_gradient_fails():
    report = check_network(dlfs.wrong_two_layer_net(), (4, 6), seed=0)
    assert report.first_wrong.name == "Affine2"
    failing = {(layer.name, check.name) for layer in report.layers for check in layer.checks if not check.passed}
    assert failing == {("Affine2", "dW")}
    (dw,) = [check for check in report.first_wrong.checks if check.name == "dW"]
    assert dw.hints == ["dW is the finite differences divided by N=4, everywhere: a mean where a sum belongs?"]


def test_two_wrong_layers_the_first_is_named():
    layers = dlfs.two_layer_net()
    layers["Affine1"] = dlfs.AffineDwAveraged(layers["Affine1"].W, layers["Affine1"].b)
    layers["Affine2"] = dlfs.AffineDwAveraged(layers["Affine2"].W, layers["Affine2"].b)
    assert check_network(layers, (3, 6), seed=1).first_wrong.name == "Affine1"


class KeepsItsGradient(dlfs.Affine):
    """Keeps dx beside x: neither is a parameter."""

    def backward(self, dout):
        self.dx = super().backward(dout)
        return self.dx


class Dropout:
    def forward(self, x):
        self.mask = np.random.rand(*x.shape) > 0.5
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


def test_a_kept_input_is_no_parameter_and_a_random_layer_is_said_to_be_unchecked_not_wrong():
    rng = np.random.default_rng(0)
    report = check_network([KeepsItsGradient(rng.standard_normal((6, 2)), np.zeros(2)), Dropout()], (5, 6))
    assert verdicts(report)["0 KeepsItsGradient"] == dict.fromkeys(["forward", "repeatable", "dx", "dW", "db"],
                                                                     "pass")
    (repeatable,) = [check for check in report.layers[1].checks if check.name == "repeatable"]
    assert repeatable.status == "skip" and "cannot be checked by finite differences" in repeatable.message
    assert report.passed and [layer.name for layer in report.unchecked] == ["1 Dropout"]


class Holder:
    def __init__(self):
        self.layers = dlfs.two_layer_net()


def test_an_object_holding_its_layers_is_a_network_and_anything_else_is_refused():
    assert check_network(Holder(), (2, 6)).passed
    with pytest.raises(ValueError, match="a network is a list or dict of layers, or an object with .layers"):
        check_network(object(), (2, 6))
    with pytest.raises(ValueError, match=r"layer 0 int has no forward\(x\) and backward\(dout\); a network holds "
                                         "layers only"):
        check_network([3], (2, 6))


@pytest.fixture
def run(monkeypatch):
    monkeypatch.chdir(EXAMPLES)

    def invoke(*args):
        result = CliRunner().invoke(main, ["net", *args])
        return result.exit_code, result.stdout, result.stderr
    return invoke


def test_the_command_names_the_layer_and_exits_1(run):
    code, out, _ = run("--impl", "dlfs_network.py:wrong_two_layer_net", "--input", "4,6", "--format", "json")
    assert code == 1 and json.loads(out)["first_wrong"] == "Affine2"
    code, out, _ = run("--impl", "dlfs_network.py:two_layer_net", "--input", "4x6")
    assert code == 0 and "PASSED · input (4, 6), seed 0" in out
    assert out.rstrip().endswith("reproduce: gradcheck net --impl dlfs_network.py:two_layer_net --input 4,6 --seed 0")


@pytest.mark.parametrize("args,message", [
    (["--impl", "dlfs_network.py:Relu", "--input", "4,6"], "a network is a list or dict of layers"),
    (["--impl", "dlfs_network.py:two_layer_net", "--input", "4,a"], "is not a shape such as 4,10"),
    (["--impl", "dlfs_network.py:nothing", "--input", "4,6"], "defines no 'nothing'"),
])
def test_bad_input_is_one_line_and_exit_2(run, args, message):
    code, out, err = run(*args)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and message in err, err


class GradientsInADict(dlfs.Affine):
    """Keeps its gradients as grads["W"], which gradcheck net does not read: said, never passed off as checked."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads = {"W": self.__dict__.pop("dW"), "b": self.__dict__.pop("db")}
        return dx


def test_weights_whose_gradients_are_not_found_are_said_to_be_unchecked():
    rng = np.random.default_rng(0)
    report = check_network([GradientsInADict(rng.standard_normal((6, 2)), np.zeros(2))], (5, 6))
    skipped = {check.name: check.message for check in report.layers[0].checks if check.status == "skip"}
    assert skipped == {"dW": "backward left no dW of W's shape, so W is not checked",
                       "db": "backward left no db of b's shape, so b is not checked"}
    assert [layer.name for layer in report.unchecked] == ["0 GradientsInADict"]
