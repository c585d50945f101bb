"""The finite-difference strategies of gradcheck.numeric agree with each other and with the analytic gradient.

dense (one element at a time), structured (disjoint footprints at once) and
projection (random directions) estimate the same vector-Jacobian product;
on Hypothesis-drawn configurations they must agree element by element far
inside the float64 tolerance, the structured strategy must cost a number of
forwards that depends on the kernel only, and a max-pool tie must be
detected as a kink and excluded without failing a correct layer.
"""
import numpy as np
import pytest
from hypothesis import given, settings

from gradcheck import numeric, strategies
from gradcheck.adapters import implementation_of, reference_style
from gradcheck.checks import _kinks, run_checks
from gradcheck.compare import FLOAT64, compare
from gradcheck.config import Config
from gradcheck.inputs import Inputs, make_inputs, tie_free
from mutants import correct
from reference_layers import FORMULATIONS

# "Well within" the float64 tolerance: every disagreement below this fraction of FLOAT64's bound.
# Measured over 3,300 conv configurations: at most 1e-4 of the bound (tests below assert 1e-2).
WITHIN = 1e-2
STEP = FLOAT64.step


class Evaluator:
    """f(theta) for a list of thetas on a reference layer, counting the forwards it runs.

    For x, the thetas are stacked along the batch axis and run as one forward
    (samples never interact); for W and b each theta is written in place.
    """

    def __init__(self, config, inputs, wrt):
        self.config, self.inputs, self.wrt = config, inputs, wrt
        self.params = {k: v.copy() for k, v in inputs.params.items()}
        self.layer = config.reference_layer(self.params)
        self.forwards = 0

    def __call__(self, thetas):
        self.forwards += len(thetas)
        if self.wrt == "x":
            return np.split(self.layer.forward(np.concatenate(thetas)), len(thetas))
        outs = []
        for theta in thetas:
            self.params[self.wrt][...] = theta
            outs.append(self.layer.forward(self.inputs.x.copy()))
        self.params[self.wrt][...] = self.inputs.params[self.wrt]
        return outs

    def theta(self):
        return self.inputs.x if self.wrt == "x" else self.inputs.params[self.wrt]

    def analytic(self):
        layer = self.config.reference_layer({k: v.copy() for k, v in self.inputs.params.items()})
        layer.forward(self.inputs.x)
        dx = layer.backward(self.inputs.dout)
        return {"x": dx, "W": getattr(layer, "dW", None), "b": getattr(layer, "db", None)}[self.wrt]


def estimate(config, inputs, wrt, structure):
    evaluate = Evaluator(config, inputs, wrt)
    structure = numeric.dense(evaluate.theta().shape) if structure == "dense" else numeric.structured(config, wrt)
    result = numeric.finite_differences(evaluate, evaluate.theta(), inputs.dout, structure, STEP)
    return result, evaluate


def rounding(config, inputs):
    """What rounding alone can put into one central difference: eps * sum |f * dout| / h, times 16.

    The tolerance is relative to the gradient, this to the outputs; they only
    part ways when a gradient is tiny next to the outputs (say x ~ 1e-5 in a
    one-element conv with a bias of 1, so dW ~ 1e-5).
    """
    out = config.reference_layer({k: v.copy() for k, v in inputs.params.items()}).forward(inputs.x)
    return 16 * np.finfo(float).eps * np.sum(np.abs(out * inputs.dout)) / STEP


def assert_well_within(actual, expected, floor, what):
    error = np.abs(actual - expected)
    bound = FLOAT64.bound(expected)
    worst = float((error / np.maximum(bound, np.finfo(float).tiny)).max(initial=0.0))
    assert np.all(error <= WITHIN * bound + floor), f"{what}: worst error {worst:.3g} of the float64 bound"


def assert_strategies_agree(config, seed, wrts):
    inputs = make_inputs(config, seed)
    floor = rounding(config, inputs)
    for wrt in wrts:
        dense, evaluate = estimate(config, inputs, wrt, "dense")
        structured, _ = estimate(config, inputs, wrt, "structured")
        analytic = evaluate.analytic()
        assert dense.method == "dense" and structured.method == "structured"
        assert dense.evaluations == 1 + 2 * evaluate.theta().size
        assert_well_within(structured.values, dense.values, floor, f"{wrt}: structured vs dense")
        assert_well_within(dense.values, analytic, floor, f"{wrt}: dense vs the reference's backward")
        assert_well_within(structured.values, analytic, floor, f"{wrt}: structured vs the reference's backward")
        # one-sided differences agree too: the layers are piecewise linear and the inputs tie-free
        assert not _kinks(dense, FLOAT64).any() and not _kinks(structured, FLOAT64).any()

        directions = np.random.default_rng([seed, 1])  # independent of the arrays drawn from seed
        screen = numeric.project(evaluate, evaluate.theta(), inputs.dout, dense.values, STEP, 4, directions)
        assert screen.evaluations == 8
        bound = FLOAT64.rtol * np.abs(screen.analytic) + FLOAT64.atol * screen.scale
        assert np.all(np.abs(screen.numeric - screen.analytic) <= WITHIN * bound + floor), \
            (screen.numeric, screen.analytic)


@settings(max_examples=60, deadline=None)
@given(strategies.conv_configs(), strategies.seeds())
def test_conv_strategies_agree(config, seed):
    assert_strategies_agree(config, seed, ("x", "W", "b"))


@settings(max_examples=40, deadline=None)
@given(strategies.pool_configs("max"), strategies.seeds())
def test_maxpool_strategies_agree(config, seed):
    assert_strategies_agree(config, seed, ("x",))


@settings(max_examples=40, deadline=None)
@given(strategies.pool_configs("avg"), strategies.seeds())
def test_avgpool_strategies_agree(config, seed):
    assert_strategies_agree(config, seed, ("x",))


# -- cost of the structured strategy ---------------------------------------------------------------
SAME_KERNEL = [
    # (small, large): the same channels, kernel, stride, pad and dilation; only N, H and W differ
    (Config.conv(batch=1, channels=2, filters=3, size=(6, 7), kernel=(2, 3), stride=2, pad=1),
     Config.conv(batch=3, channels=2, filters=3, size=(13, 11), kernel=(2, 3), stride=2, pad=1)),
    (Config.conv(batch=1, channels=3, filters=1, size=5, kernel=3),
     Config.conv(batch=2, channels=3, filters=1, size=(12, 17), kernel=3)),
    (Config.conv(batch=2, channels=1, filters=2, size=(6, 8), kernel=(3, 2), stride=(1, 3), dilation=(2, 3)),
     Config.conv(batch=1, channels=1, filters=2, size=(19, 10), kernel=(3, 2), stride=(1, 3), dilation=(2, 3))),
]


@pytest.mark.parametrize("small,large", SAME_KERNEL, ids=lambda c: c.describe())
def test_structured_conv_x_costs_1_plus_2CKK_forwards_whatever_N_H_W(small, large):
    channels, (kh, kw) = small.channels, small.kernel
    for config in (small, large):
        result, evaluate = estimate(config, make_inputs(config, 0), "x", "structured")
        assert evaluate.forwards == result.evaluations == 1 + 2 * channels * kh * kw
    assert large.replace(batch=small.batch, size=small.size) == small  # only N, H and W differ
    assert large.batch != small.batch and large.size[0] != small.size[0] and large.size[1] != small.size[1]


@pytest.mark.parametrize("config", [pair[1] for pair in SAME_KERNEL], ids=lambda c: c.describe())
def test_structured_conv_parameters_cost_is_the_kernel_too(config):
    inputs = make_inputs(config, 0)
    channels, (kh, kw) = config.channels, config.kernel
    for wrt, forwards in (("W", 1 + 2 * channels * kh * kw), ("b", 3)):
        result, evaluate = estimate(config, inputs, wrt, "structured")
        assert evaluate.forwards == result.evaluations == forwards


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_structured_pool_x_costs_1_plus_2KK_forwards(mode):
    for config in (Config.pool(mode, batch=1, channels=2, size=(5, 6), kernel=(2, 3), stride=1, pad=1),
                   Config.pool(mode, batch=3, channels=3, size=(14, 9), kernel=(2, 3), stride=1, pad=1)):
        result, evaluate = estimate(config, make_inputs(config, 0), "x", "structured")
        assert evaluate.forwards == result.evaluations == 1 + 2 * 2 * 3


# -- kinks ---------------------------------------------------------------------------------------------
TIE = Config.pool("max", batch=1, channels=2, size=(4, 6), kernel=2)  # stride 2: windows do not overlap
TIED = [(0, 1, 2, 4), (0, 1, 3, 5)]  # two elements of one window (channel 1, rows 2-3, cols 4-5)


def tied_inputs():
    rng = np.random.default_rng(5)
    x = tie_free(rng, TIE.x_shape)
    for position in TIED:
        x[position] = x.max() + 1.0 if position == TIED[0] else x[TIED[0]]  # the window's max, twice
    dout = rng.standard_normal(TIE.out_shape)
    return Inputs(x=x, params={}, dout=dout, x_other=tie_free(rng, TIE.x_shape), param_steps={})


def flagged(mask):
    return [tuple(int(i) for i in p) for p in np.argwhere(mask)]


@pytest.mark.parametrize("structure", ["dense", "structured"])
def test_a_max_pool_tie_is_flagged_as_a_kink(structure):
    inputs = tied_inputs()
    result, _ = estimate(TIE, inputs, "x", structure)
    assert flagged(_kinks(result, FLOAT64)) == TIED
    # one-sided: raising either tied element moves the max, lowering it leaves the other as the max
    g = inputs.dout[0, 1, 1, 2]
    for position in TIED:
        assert result.forward_diff[position] == pytest.approx(g, rel=1e-9)
        assert result.backward_diff[position] == pytest.approx(0.0, abs=1e-12)


MAX_POOLS = [reference_style(cls, "maxpool") for cls in FORMULATIONS["maxpool"]] + [
    # student layers: first-max routing, and the gradient sent to every tied maximum
    implementation_of(correct.MaxPoolLoops, "maxpool"), implementation_of(correct.MaxPoolMaskAllTies, "maxpool")]


@pytest.mark.parametrize("implementation", MAX_POOLS, ids=lambda i: i.name)
def test_a_correct_max_pool_passes_with_the_tie_excluded(implementation):
    results = {r.name: r for r in run_checks(TIE, tied_inputs(), implementation)}
    dx = results["dX"]
    assert all(r.status == "pass" for r in results.values()), {n: (r.status, r.message) for n, r in results.items()}
    assert dx.excluded == 2
    assert "2 non-differentiable points excluded" in dx.notes


def test_without_the_exclusion_the_tie_would_fail():
    """The central difference at a tie splits dout between the tied elements; first-max routing does not."""
    inputs = tied_inputs()
    result, evaluate = estimate(TIE, inputs, "x", "structured")
    analytic = evaluate.analytic()
    assert compare("dX", analytic, {"finite differences": result.values}, FLOAT64).status == "fail"
    excluded = compare("dX", analytic, {"finite differences": result.values}, FLOAT64,
                       exclude=_kinks(result, FLOAT64))
    assert excluded.status == "pass" and excluded.excluded == 2


# -- the accuracy the float64 tolerance relies on ----------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(strategies.conv_configs(), strategies.seeds())
def test_float64_central_differences_are_exact_to_rounding(config, seed):
    """|central difference - analytic| / max |analytic| below 1e-10 for conv x and W.

    Measured over 3,300 configurations (structured, as the engine runs it),
    the largest |error| / max |analytic| were x 5.3e-12, W 2.0e-12 and
    b 4.3e-11, the figures compare.py's comment quotes.
    Elementwise, against elements above 1e-3 of the largest, up to 3.3e-10.
    Against FLOAT64's bound the worst error was 9.1e-5 of it.

    A relative error has no fixed bound: rounding is relative to the outputs
    (see ``rounding``), the gradient can be far smaller (db is a sum of dout
    that can cancel; dW is tiny when x is).  So x and W assert 1e-10 unless
    rounding of the outputs is larger, b only the margin inside the tolerance;
    and every element stays inside the bound the engine applies.
    """
    inputs = make_inputs(config, seed)
    floor = rounding(config, inputs)
    for wrt in ("x", "W", "b"):
        result, evaluate = estimate(config, inputs, wrt, "structured")
        analytic = evaluate.analytic()
        error = np.abs(result.values - analytic)
        scale = np.abs(analytic).max()
        if scale == 0:  # e.g. W reading only padding: both are exactly zero
            assert error.max() == 0
            continue
        if wrt != "b":
            assert error.max() <= max(1e-10 * scale, floor), (wrt, error.max() / scale)
        assert np.all(error <= 1e-3 * FLOAT64.bound(analytic) + floor), wrt
        assert np.all(error <= FLOAT64.bound(analytic)), f"{wrt}: the engine would call this correct layer wrong"
