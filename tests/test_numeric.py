"""The finite-difference strategies of gradcheck.numeric agree with each other and with the analytic gradient.

dense (one element at a time), structured (disjoint footprints at once) and
projection (random directions) estimate the same vector-Jacobian product;
on Hypothesis-drawn configurations they must agree element by element far
inside the tolerance of either precision, the structured strategy must cost
a number of forwards that depends on the kernel only, a max-pool tie must
show as a kink, and group testing must find the wrong elements of a large
gradient in O(k log n) evaluations.
"""
import numpy as np
import pytest
from hypothesis import given, settings

from gradcheck import numeric, strategies
from gradcheck.checks import Expected, _kinks
from gradcheck.compare import FLOAT64, TOLERANCES
from gradcheck.config import Config
from gradcheck.inputs import Inputs, make_inputs, seed_of_class, tie_free, value_class, value_classes

# "Well within" the tolerance: every disagreement below this fraction of the bound the engine applies.
# Measured over fuzzed configurations of every layer (benchmarks/bench_accuracy.py): at most 0.04 of it.
WITHIN = 0.1
CHUNK = 10**6  # one call per strategy, so that counted forwards are evaluations
DENSE_SIZE = 1000  # elements up to which dense differences (two forwards per element) are compared too


class Evaluator:
    """f(theta) for a list of thetas on a reference layer (computing in the inputs' precision), counting
    the forwards it runs.

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
            return [np.asarray(out, np.float64) for out in np.split(self.layer.forward(np.concatenate(thetas)),
                                                                     len(thetas))]
        outs = []
        for theta in thetas:
            self.params[self.wrt][...] = theta
            outs.append(np.asarray(self.layer.forward(self.inputs.x.copy()), np.float64))
        self.params[self.wrt][...] = self.inputs.params[self.wrt]
        return outs

    def theta(self):
        return self.inputs.x if self.wrt == "x" else self.inputs.params[self.wrt]


NAMES = {"x": "dX", "W": "dW", "b": "dB"}


def estimate(config, inputs, wrt, structure):
    evaluate = Evaluator(config, inputs, wrt)
    structure = numeric.dense(evaluate.theta().shape) if structure == "dense" else numeric.structured(config, wrt)
    result = numeric.finite_differences(evaluate, evaluate.theta(), inputs.dout, structure,
                                        TOLERANCES[inputs.precision].step, CHUNK,
                                        Expected(config, inputs).magnitudes["forward"])
    return result, evaluate


def assert_well_within(actual, expected, bound, what):
    worst = float((np.abs(actual - expected) / np.maximum(bound, np.finfo(float).tiny)).max(initial=0.0))
    assert worst <= WITHIN, f"{what}: worst error {worst:.3g} of the bound"


def assert_strategies_agree(config, seed, wrts, precision):
    inputs = make_inputs(config, seed, precision)
    tolerance = TOLERANCES[precision]
    expected = Expected(config, inputs)
    for wrt in wrts:
        name = NAMES[wrt]
        analytic, magnitude = expected.grads[name]["reference"], expected.magnitudes[name]
        structured, evaluate = estimate(config, inputs, wrt, "structured")
        results = {"structured": structured}
        if evaluate.theta().size <= DENSE_SIZE:
            results["dense"] = dense = estimate(config, inputs, wrt, "dense")[0]
            assert dense.method == "dense" and dense.evaluations == 1 + 2 * evaluate.theta().size
            bound = tolerance.bound(dense.values, tolerance.slack(magnitude, dense.noise + structured.noise))
            assert_well_within(structured.values, dense.values, bound, f"{wrt}: structured vs dense")
        for what, result in results.items():
            bound = tolerance.bound(analytic, tolerance.slack(magnitude, result.noise))
            assert_well_within(result.values, analytic, bound, f"{wrt}: {what} vs the reference's backward")
            # one-sided differences agree too: the layers are piecewise linear and the inputs tie-free
            assert not _kinks(result, tolerance, magnitude).any(), f"{wrt}: {what} sees a kink"

        directions = numeric.random_directions(np.random.default_rng([seed, 1]), evaluate.theta().shape, 4)
        screen = numeric.project(evaluate, evaluate.theta(), inputs.dout, analytic, tolerance.step, directions,
                                 CHUNK)
        assert screen.evaluations == 8
        assert screen.agrees(tolerance, inputs.dout, expected.magnitudes["forward"], magnitude).all(), \
            (screen.numeric, screen.analytic)


@settings(max_examples=15, deadline=None)
@given(strategies.conv_configs(), strategies.seeds())
@pytest.mark.slow  # seconds; the pooling strategies agree in the fast suite
@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_conv_strategies_agree(precision, config, seed):
    assert_strategies_agree(config, seed, ("x", "W", "b"), precision)


@settings(max_examples=40, deadline=None)
@given(strategies.pool_configs("max"), strategies.seeds())
@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_maxpool_strategies_agree(precision, config, seed):
    assert_strategies_agree(config, seed, ("x",), precision)


@settings(max_examples=40, deadline=None)
@given(strategies.pool_configs("avg"), strategies.seeds())
@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_avgpool_strategies_agree(precision, config, seed):
    assert_strategies_agree(config, seed, ("x",), precision)


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
    """gradcheck's inputs are tie-free, so a kink there means the forward is not the max: a failure."""
    inputs = tied_inputs()
    result, _ = estimate(TIE, inputs, "x", structure)
    assert flagged(_kinks(result, FLOAT64, Expected(TIE, inputs).magnitudes["dX"])) == TIED
    # one-sided: raising either tied element moves the max, lowering it leaves the other as the max
    g = inputs.dout[0, 1, 1, 2]
    for position in TIED:
        assert result.forward_diff[position] == pytest.approx(g, rel=1e-9)
        assert result.backward_diff[position] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("mixed", [False, True])
def test_max_pool_inputs_are_tie_free_multiples_of_the_gap(mixed):
    x = tie_free(np.random.default_rng(0), (2, 3, 9, 7), mixed)
    assert len(np.unique(x)) == x.size
    assert np.all(x / 0.125 == np.round(x / 0.125))
    assert (x > 0).any() == mixed and (x < 0).any()
    assert np.all((x.astype(np.float32) + FLOAT64.step).astype(np.float64) == x + FLOAT64.step)  # exact in float32


VALUES = {"all positive": lambda x: (x > 0).all(), "all negative": lambda x: (x < 0).all(),
          "one negative": lambda x: (x < 0).sum() == 1 and (x > 0).sum() == x.size - 1,
          "one positive": lambda x: (x > 0).sum() == 1 and (x < 0).sum() == x.size - 1,
          "half zeros": lambda x: 0 < (x == 0).sum() < x.size and (x >= 0).all(),
          "large": lambda x: np.abs(x).max() > 100,
          "maxima at the windows' first element": lambda x: (np.diff(x.reshape(x.shape[:2] + (-1,))) < 0).all(),
          "maxima at the windows' last element": lambda x: (np.diff(x.reshape(x.shape[:2] + (-1,))) > 0).all()}


@pytest.mark.parametrize("layer", ["conv", "maxpool", "avgpool"])
@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_each_class_of_values_is_what_its_seed_says_and_max_pool_inputs_stay_distinct(layer, precision):
    config = (Config.conv(batch=2, channels=3, filters=2, size=(6, 5), kernel=3) if layer == "conv" else
              Config.pool(layer[:3], batch=2, channels=3, size=(6, 5), kernel=2))
    for name in value_classes(layer)[1:]:
        seed = seed_of_class(1234567, name)
        x = make_inputs(config, seed, precision).x
        assert value_class(seed, layer) == name and VALUES[name](x), (name, x)
        if layer == "maxpool":
            assert len(np.unique(x)) == x.size
            step = TOLERANCES[precision].step  # x +- step exact: no perturbation reorders a window
            assert np.array_equal((x + step) - step, x)
    assert value_class(seed_of_class(1234567, "half zeros"), "maxpool") == "usual"
    assert value_class(seed_of_class(1234567, "maxima at the windows' last element"), "avgpool") == "usual"


@pytest.mark.parametrize("kernel,stride,pad", [(3, 1, 1), (2, 2, 0), ((2, 3), 1, 1), (3, 2, 1)])
def test_max_pool_classes_put_every_windows_maximum_at_its_first_or_last_element(kernel, stride, pad):
    """Whatever the windows' overlap and padding, each window's maximum is its first element in the input (top
    left) or its last (bottom right)."""
    config = Config.pool("max", batch=2, channels=2, size=(6, 5), kernel=kernel, stride=stride, pad=pad)
    for name, corner in (("maxima at the windows' first element", 0), ("maxima at the windows' last element", -1)):
        x = make_inputs(config, seed_of_class(99, name)).x
        for i, j in np.ndindex(*config.out_shape[2:]):
            rows = [r for r in range(i * config.stride[0] - config.pad[0], i * config.stride[0] - config.pad[0]
                                     + config.kernel[0]) if 0 <= r < config.size[0]]
            cols = [c for c in range(j * config.stride[1] - config.pad[1], j * config.stride[1] - config.pad[1]
                                     + config.kernel[1]) if 0 <= c < config.size[1]]
            window = x[:, :, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
            assert np.array_equal(window[:, :, corner, corner], window.max(axis=(2, 3))), (name, i, j)


# -- group testing -----------------------------------------------------------------------------------------
GROUP = Config.conv(batch=3, channels=4, filters=2, size=(10, 25), kernel=3, pad=1)  # x has 3000 elements


def localize(wrong):
    inputs = make_inputs(GROUP, 0)
    evaluate = Evaluator(GROUP, inputs, "x")
    truth = Expected(GROUP, inputs).grads["dX"]["reference"]
    analytic = truth.copy()
    analytic.reshape(-1)[wrong] += 1e-3 * np.abs(truth).max()
    located = numeric.localize(evaluate, inputs.x, inputs.dout, analytic, FLOAT64.step,
                               lambda projection: projection.agrees(FLOAT64), np.random.default_rng(0), chunk=CHUNK)
    return located, truth.reshape(-1)


@pytest.mark.parametrize("wrong", [[5], [0, 700, 2999], list(range(1000, 1012))])
def test_group_testing_finds_sparse_wrong_elements_in_k_log_n_evaluations(wrong):
    located, truth = localize(wrong)
    assert sorted(located.positions.tolist()) == wrong and located.complete
    assert np.allclose(located.numeric, truth[located.positions], rtol=1e-9, atol=1e-12)  # their own derivative
    probes, rounds = 16, np.ceil(np.log2(GROUP.x_shape[0] * 1000))
    assert located.evaluations <= 2 * probes + rounds * 2 * 2 * len(wrong)
    assert located.evaluations < 3000 / 5  # far fewer than one per element


def test_errors_everywhere_are_named_by_the_first_random_probes():
    located, truth = localize(list(range(3000)))
    assert len(located.positions) == 16 and not located.complete
    assert located.evaluations == 2 * 16
    assert np.allclose(located.numeric, truth[located.positions], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("config", [pair[1] for pair in SAME_KERNEL] + [
    Config.conv(batch=1, channels=2, filters=1, size=(1, 3), kernel=(3, 2), dilation=(1, 2), pad=(1, 0)),
    Config.pool("max", batch=2, channels=3, size=(2, 9), kernel=(3, 3), stride=1, pad=1)], ids=lambda c: c.describe())
def test_the_group_count_is_that_of_the_structure(config):
    for wrt in ("x", "W", "b") if config.is_conv else ("x",):
        assert numeric.group_count(config, wrt) == len(numeric.structured(config, wrt).groups)
