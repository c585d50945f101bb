"""The engine's bookkeeping on one configuration: which check an exception fails, which are skipped and why."""
import numpy as np
import pytest

from gradcheck.adapters import implementation_of
from gradcheck.checks import run_checks
from gradcheck.config import Config
from gradcheck.inputs import make_inputs
from reference_layers import Conv2d

CONFIG = Config.conv(batch=2, channels=2, filters=3, size=5, kernel=2, stride=2, pad=1)


def statuses(cls):
    results = run_checks(CONFIG, make_inputs(CONFIG, 0), implementation_of(cls, "conv"))
    return {r.name: r for r in results}


class RaisesOnSecondBackward(Conv2d):
    def backward(self, dout):
        if getattr(self, "_seen", False):
            raise RuntimeError("second call")
        self._seen = True
        return super().backward(dout)


class RaisesInForward(Conv2d):
    def forward(self, x):
        raise IndexError("out of range")


def test_an_exception_in_a_later_call_fails_the_check_that_made_it():
    results = statuses(RaisesOnSecondBackward)
    assert results["repeatable"].status == "fail"
    assert results["repeatable"].error["type"] == "RuntimeError"
    assert results["repeatable"].error["stage"] == "backward"
    assert {name for name, r in results.items() if r.status != "pass"} == {"repeatable"}


def test_an_exception_in_forward_fails_forward_and_skips_the_rest_with_the_reason():
    results = statuses(RaisesInForward)
    assert results["forward"].status == "fail" and results["forward"].error["type"] == "IndexError"
    assert "test_checks.py" in results["forward"].error["location"]
    for name, result in results.items():
        if name != "forward":
            assert result.status == "skip" and result.message == "forward raised (see forward)"


class ScaledBackward(Conv2d):
    """dX off by 1e-3 relative everywhere: small enough that only a tight check sees it."""

    def backward(self, dout):
        return super().backward(dout) * (1 + 1e-3)


class DoubledLayer(Conv2d):
    """forward doubled (wrong) and backward doubled too: backward is consistent with its own forward."""

    def forward(self, x):
        return 2 * super().forward(x)

    def backward(self, dout):
        return super().backward(2 * dout)


class DoubledForwardOnly(DoubledLayer):
    def backward(self, dout):
        return Conv2d.backward(self, dout)


def fast_results(cls, config=CONFIG):
    results = run_checks(config, make_inputs(config, 0), implementation_of(cls, "conv"), fast=True)
    return {r.name: r for r in results}


def test_fast_mode_screens_a_right_layer_with_six_evaluations_per_gradient():
    results = fast_results(Conv2d)
    assert all(r.status == "pass" for r in results.values())
    assert [(results[n].method, results[n].evaluations) for n in ("dX", "dW", "dB")] == [("projection", 6)] * 3


def test_fast_mode_localizes_a_failed_screen_element_by_element():
    dx = fast_results(ScaledBackward)["dX"]
    assert dx.status == "fail" and dx.method == "structured"
    assert dx.mismatched == dx.total == CONFIG.batch * CONFIG.channels * 25
    assert "the projection screen failed; localized element by element" in dx.notes


BIG = Config.conv(batch=4, channels=4, filters=2, size=(20, 16), kernel=3)  # x has 5120 elements: no dense


def test_a_wrong_forward_on_a_large_input_is_screened_against_its_own_forward():
    consistent = fast_results(DoubledLayer, BIG)
    assert consistent["forward"].status == "fail"
    assert consistent["dX"].status == "pass" and consistent["dX"].method == "projection"
    assert any("too many to difference one by one" in note for note in consistent["dX"].notes)
    inconsistent = fast_results(DoubledForwardOnly, BIG)["dX"]
    assert inconsistent.status == "fail" and "the projection screen failed" in inconsistent.message


class OneElementOff(Conv2d):
    """dX and dW right except for one element each, off by a relative 1e-4."""

    def backward(self, dout):
        dx = super().backward(dout).copy()
        largest = np.unravel_index(np.abs(dx).argmax(), dx.shape)
        dx[largest] *= 1 + 1e-4
        self.dW = self.dW.copy()
        self.dW[0, 0, 0, 0] *= 1 + 1e-4
        return dx


def test_a_relative_error_of_1e_4_in_a_single_element_is_caught_and_located():
    results = statuses(OneElementOff)
    for name in ("dX", "dW"):
        assert results[name].status == "fail" and results[name].mismatched == 1, name
    assert results["dW"].worst_index == (0, 0, 0, 0)
    assert results["dX"].max_rel_error == pytest.approx(1e-4, rel=1e-3)
    assert {name for name, r in results.items() if r.status == "fail"} == {"dX", "dW"}
