"""The engine's bookkeeping on one configuration: which check an exception fails, which are skipped and why."""
import dataclasses

import numpy as np
import pytest

from gradcheck.adapters import implementation_of
from gradcheck.checks import run_checks
from gradcheck.config import Config
from gradcheck.inputs import make_inputs
from mutants.correct import ConvFFT
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


class DoubledForwardTripledBackward(DoubledLayer):
    def backward(self, dout):
        return Conv2d.backward(self, 3 * dout)


def results_by(cls, config=CONFIG, method="projection"):
    results = run_checks(config, make_inputs(config, 0), implementation_of(cls, "conv"), method=method)
    return {r.name: r for r in results}


def test_a_projection_screen_checks_a_right_layer_with_six_evaluations_per_gradient():
    results = results_by(Conv2d)
    assert all(r.status == "pass" for r in results.values())
    assert [(results[n].method, results[n].evaluations) for n in ("dX", "dW", "dB")] == [("projection", 6)] * 3


def test_a_failed_screen_is_localized_by_group_testing():
    dx = results_by(ScaledBackward)["dX"]
    assert dx.status == "fail" and dx.method == "projection"
    assert dx.mismatched == dx.total == CONFIG.batch * CONFIG.channels * 25  # the reference comparison: every one
    assert "found by group testing" in dx.message
    assert any("found by group testing" in note for note in dx.notes)


@pytest.mark.parametrize("method,evaluations", [("structured", 1 + 2 * 2 * 4), ("dense", 1 + 2 * 100)])
def test_element_by_element_methods_cost_what_they_say(method, evaluations):
    dx = results_by(Conv2d, method=method)["dX"]
    assert dx.status == "pass" and (dx.method, dx.evaluations) == (method, evaluations)


BIG = Config.conv(batch=4, channels=4, filters=2, size=(20, 16), kernel=3)  # x has 5120 elements: no dense


def test_where_forward_is_wrong_a_gradient_passes_only_if_it_is_the_references():
    consistent = results_by(DoubledLayer, BIG, "auto")  # backward is the gradient of the doubled forward
    assert consistent["forward"].status == "fail"
    dx = consistent["dX"]
    assert dx.status == "fail" and dx.against == "reference" and dx.mismatched == dx.total
    assert dx.method == "projection" and dx.hints == [
        "dX is the gradient of this layer's forward (its finite differences agree), and that forward is wrong: "
        "fix forward first"]
    right = results_by(DoubledForwardOnly, BIG, "auto")["dX"]  # the right backward of a wrong forward
    assert right.status == "pass" and right.method is None  # no finite differences were needed to say so
    assert right.notes == ["forward differs from the reference: judged by the reference's gradient alone"]


def test_a_gradient_that_fails_for_its_own_reasons_where_forward_is_wrong_gets_backwards_hints():
    dx = results_by(DoubledForwardTripledBackward, CONFIG, "auto")["dX"]
    assert dx.status == "fail" and dx.against == "reference"
    assert dx.hints == ["dX is 3 times the expected value at every element: a constant factor is wrong"]


class FlippedKernelForward(Conv2d):
    """forward correlates with the kernel rotated 180 degrees; backward is the right one (Conv2d's)."""

    def forward(self, x):
        right, self.W = self.W, self.W[:, :, ::-1, ::-1]
        try:
            return super().forward(x)
        finally:
            self.W = right


def test_a_forward_that_matches_only_on_these_inputs_fails_and_its_right_gradient_passes():
    """x all zeros hides a flipped kernel from forward's values (both give b), not from its slope: finite
    differences with respect to x then disagree with the reference's dX, which the layer's dX equals."""
    inputs = make_inputs(CONFIG, 0)
    zeros = dataclasses.replace(inputs, x=np.zeros_like(inputs.x))
    results = {r.name: r for r in run_checks(CONFIG, zeros, implementation_of(FlippedKernelForward, "conv"),
                                             method="dense")}
    assert {name for name, r in results.items() if r.status != "pass"} == {"forward"}
    assert results["forward"].message.startswith(
        "forward matches the reference on these inputs but not near them: its finite differences with respect "
        "to x disagree with the reference's dX (")
    assert "dX is the reference's; the finite differences that disagree with it are forward's failure (see " \
           "forward)" in results["dX"].notes
    shown = {r.name: r.status for r in run_checks(CONFIG, inputs, implementation_of(FlippedKernelForward, "conv"))}
    assert shown["forward"] == "fail" and shown["dX"] == "pass"  # on other inputs the values show it too


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


# -- the DIVE INTO CODE convention: its optimizer updates layer.W and layer.B ---------------------------
class DiveConv(Conv2d):
    """A DIVE-style layer: weights W and B, gradients dW and dB, and an optimizer backward calls."""

    def __init__(self, W, b, stride=1, pad=0):
        super().__init__(W, b, stride, pad)
        self.B, self.optimizer = b, None

    def forward(self, x):
        self.b = self.B  # the reference layer reads b; a DIVE layer keeps B
        return super().forward(x)

    def backward(self, dout):
        dx = super().backward(dout)
        self.dB = self.db
        self.optimizer.update(self)
        return dx


def make_copying_dive_conv(W, b, stride, pad):
    """A factory as students write them for DIVE layers: the layer keeps copies of the weights."""
    return DiveConv(W.copy(), b.copy(), stride, pad)


class DiveConvFrozenWeights(DiveConv):
    """Forward reads a copy of W taken at construction: neither an in-place update nor a new W reaches it."""

    def __init__(self, W, b, stride=1, pad=0):
        super().__init__(W, b, stride, pad)
        self.held = self.held_weights()

    def held_weights(self):
        return self.W.copy()

    def forward(self, x):
        self.W, live = self.held, self.W
        try:
            return super().forward(x)
        finally:
            self.W = live


class DiveConvRebindingMissed(DiveConvFrozenWeights):
    """Forward reads the W it held at construction: in-place updates reach it, a rebound W does not."""

    def held_weights(self):
        return self.W


def dive_results(factory):
    implementation = implementation_of(factory, "conv", "dive")
    return {r.name: r for r in run_checks(CONFIG, make_inputs(CONFIG, 0), implementation)}


def test_a_dive_factory_that_copies_the_weights_passes_weights_live():
    results = dive_results(make_copying_dive_conv)
    assert all(r.status == "pass" for r in results.values()), {n: r.message for n, r in results.items()}


@pytest.mark.parametrize("cls,how", [(DiveConvFrozenWeights, "in place"), (DiveConvRebindingMissed, "rebinding")])
def test_dive_weights_live_updates_the_layers_own_weights_in_place_and_by_rebinding(cls, how):
    results = dive_results(cls)
    assert results["weights-live"].status == "fail" and results["weights-live"].message.startswith(
        f"after an update {how}:")
    assert {name for name, r in results.items() if r.status == "fail"} == {"weights-live"}


# -- non-finite numbers and precision -----------------------------------------------------------------
class BackwardNaN(Conv2d):
    def backward(self, dout):
        dx = super().backward(dout).copy()
        dx[0, 1, 2, 3] = np.nan
        return dx


def test_a_nan_from_backward_fails_dX_with_its_place():
    dx = statuses(BackwardNaN)["dX"]
    assert dx.status == "fail" and "1 non-finite values (NaN or inf) for finite inputs, the first at [0, 1, 2, 3]" \
        in dx.message


def test_non_finite_values_never_match():
    from gradcheck.compare import FLOAT64, compare

    for bad in (np.nan, np.inf):
        actual, expected = np.ones(4), np.ones(4)
        expected[2] = bad
        result = compare("dX", actual, {"finite differences": expected}, FLOAT64)
        assert result.status == "fail" and result.worst_index == (2,) and "NaN or inf in the finite differences" \
            in result.message
        assert compare("dX", expected, {"reference": actual}, FLOAT64).status == "fail"


def test_the_reference_layers_are_never_their_own_oracle():
    from gradcheck.api import plan
    from gradcheck.checks import Expected
    from gradcheck.kinds import windowed

    for layer, kind in windowed().items():
        formulations = kind.formulations
        for name, implementation in plan(layer, seed=0).implementations.items():
            assert [cls.__name__ for cls in implementation.references] == [
                cls.__name__ for cls in formulations if cls.__name__ != name]
    implementation = plan("conv", seed=0).implementations["Conv2dIm2col"]
    expected = Expected(CONFIG, make_inputs(CONFIG, 0), implementation.references)
    assert list(expected.sources) == list(expected.grads["dX"]) == ["Conv2dLoops", "Conv2dRotatedKernel"]


# -- the tolerance at exact zeros ------------------------------------------------------------------------
# No window reaches the input's only row (pad 1, stride 2, a kernel 1 high): dX and dW are exactly zero.
UNREACHED = Config.conv(batch=2, channels=3, filters=2, size=(1, 5), kernel=(1, 2), stride=2, pad=1)


def gradient_results(cls, config, precision="float64"):
    results = run_checks(config, make_inputs(config, 0, precision), implementation_of(cls, "conv"))
    return {r.name: r for r in results if r.name in ("forward", "dX", "dW", "dB")}


def verdicts(cls, config, precision="float64"):
    return {name: r.status for name, r in gradient_results(cls, config, precision).items()}


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_a_right_fft_layer_rounding_exact_zeros_passes(precision):
    """Its dX and dW are rounded by about 1e-16 where they are exactly 0: the magnitudes that enter the
    computation set the tolerance there, not the reference's zeros."""
    assert set(verdicts(ConvFFT, UNREACHED, precision).values()) == {"pass"}


class FFTPlusTiny(ConvFFT):
    """dX off by 1e-9 where it should be exactly zero: far more than rounding."""

    def backward(self, dout):
        return super().backward(dout) + 1e-9


class FFTRelative1e5(ConvFFT):
    def backward(self, dout):
        return super().backward(dout) * (1 + 1e-5)


def test_rounding_at_an_exact_zero_is_no_relative_error_and_a_mistake_there_is_an_infinite_one():
    """A PASS never shows the 1 or 1e308 that 1e-17 against an expected 0 would give; a failing zero does."""
    right = gradient_results(ConvFFT, UNREACHED)
    assert all(r.max_rel_error < 1e-6 for r in right.values()), {n: r.max_rel_error for n, r in right.items()}
    wrong = gradient_results(FFTPlusTiny, UNREACHED)["dX"]
    assert wrong.status == "fail" and wrong.expected == 0 and wrong.max_rel_error == np.inf


def test_the_floor_at_zeros_still_fails_what_rounding_cannot_explain():
    assert verdicts(FFTPlusTiny, UNREACHED)["dX"] == "fail"
    config = Config.conv(batch=2, channels=3, filters=4, size=(7, 6), kernel=3, stride=2, pad=1)
    assert verdicts(FFTRelative1e5, config)["dX"] == "fail"
