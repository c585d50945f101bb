"""Every formulation of each reference layer computes the same forward pass and gradients."""
import numpy as np
import pytest
from hypothesis import example, find, given
from hypothesis.errors import NoSuchExample

from gradcheck.config import Config
from gradcheck.inputs import make_inputs
from gradcheck.kinds import windowed
from gradcheck.strategies import configs, seeds

# The formulations agree to ~1e-15; a few ulps of slack on values of order 10.
TOLERANCE = {"rtol": 1e-12, "atol": 1e-12}


def _leftover(config):
    """Per axis, the padded rows (or columns) past the last window: nonzero when the stride does not divide."""
    axes = zip(config.size, config.pad, config.window.extent, config.stride)
    return tuple((n + 2 * p - e) % s for n, p, e, s in axes)


EDGE_CASES = {
    "non-square input": lambda c: c.size[0] != c.size[1],
    "non-square kernel": lambda c: c.kernel[0] != c.kernel[1],
    "stride larger than kernel": lambda c: any(s > k for s, k in zip(c.stride, c.kernel)),
    "stride not dividing padded size": lambda c: any(_leftover(c)),
    "pad >= kernel": lambda c: any(p >= k for p, k in zip(c.pad, c.kernel)),
    "1x1 output": lambda c: c.out_shape[2:] == (1, 1),
    "batch of 1": lambda c: c.batch == 1,
    "dilation > 1": lambda c: c.dilation != (1, 1),
    "overlapping windows": lambda c: c.windows_overlap,
}
CONV_ONLY = {"pad >= kernel", "dilation > 1"}
POOL_ONLY = {"overlapping windows"}


def edge_cases(layer):
    excluded = POOL_ONLY if layer == "conv" else CONV_ONLY
    return [name for name in EDGE_CASES if name not in excluded]


CONV_EXAMPLES = [
    Config.conv(batch=1, channels=2, filters=3, size=(5, 7), kernel=(2, 3)),
    Config.conv(batch=2, channels=1, filters=2, size=(7, 6), kernel=(2, 1), stride=3),
    Config.conv(batch=2, channels=3, filters=1, size=4, kernel=2, pad=2),
    Config.conv(batch=1, channels=2, filters=2, size=(3, 4), kernel=(1, 2), stride=2, pad=(2, 3)),
    Config.conv(batch=2, channels=2, filters=2, size=4, kernel=3, stride=2),
    Config.conv(batch=2, channels=2, filters=3, size=(7, 6), kernel=(3, 2), stride=(2, 1), pad=1, dilation=(2, 3)),
]


def pool_examples(mode):
    return [
        Config.pool(mode, batch=1, channels=2, size=(4, 6), kernel=(2, 3)),
        Config.pool(mode, batch=2, channels=1, size=(7, 8), kernel=2, stride=3),
        Config.pool(mode, batch=2, channels=2, size=(5, 4), kernel=3, stride=1, pad=1),
        Config.pool(mode, batch=1, channels=3, size=(6, 5), kernel=(3, 2), stride=(2, 1), pad=(1, 0)),
        Config.pool(mode, batch=2, channels=2, size=3, kernel=2, stride=2),
        Config.pool(mode, batch=1, channels=1, size=3, kernel=3),
    ]


EXAMPLES = {"conv": CONV_EXAMPLES, "maxpool": pool_examples("max"), "avgpool": pool_examples("avg")}


def with_examples(layer):
    """Apply hypothesis.example for every explicit configuration of ``layer``."""
    def decorate(test):
        for config in EXAMPLES[layer]:
            test = example(config=config, seed=0)(test)
        return test
    return decorate


def build(cls, config, params):
    """A layer of formulation ``cls`` for ``config``, with its own copies of the parameters."""
    if config.is_conv:
        return cls(params["W"].copy(), params["b"].copy(), stride=config.stride, pad=config.pad,
                   dilation=config.dilation)
    return cls(*config.kernel, stride=config.stride, pad=config.pad)


def run(cls, config, inputs):
    """Forward and backward once; every array the layer produces, by name."""
    layer = build(cls, config, inputs.params)
    results = {"out": layer.forward(inputs.x.copy()), "dx": layer.backward(inputs.dout.copy())}
    if config.is_conv:
        results.update(dW=layer.dW, db=layer.db)
    return results


def assert_formulations_agree(config, seed):
    inputs = make_inputs(config, seed)
    first, *others = config.kind.formulations
    expected = run(first, config, inputs)
    for cls in others:
        for name, actual in run(cls, config, inputs).items():
            np.testing.assert_allclose(actual, expected[name], **TOLERANCE,
                                       err_msg=f"{name} of {cls.__name__} vs {first.__name__}, {config.describe()}")


@pytest.mark.parametrize("layer", ["conv", "maxpool", "avgpool"])
def test_explicit_examples_cover_every_edge_case(layer):
    for name in edge_cases(layer):
        assert any(EDGE_CASES[name](config) for config in EXAMPLES[layer]), f"no {layer} example has {name}"


@pytest.mark.parametrize("layer,name", [(layer, name) for layer in EXAMPLES for name in edge_cases(layer)])
def test_strategy_generates_edge_case(layer, name):
    try:
        find(configs(layer), EDGE_CASES[name])
    except NoSuchExample:
        pytest.fail(f"configs({layer!r}) never generates {name}")


@with_examples("conv")
@given(config=configs("conv"), seed=seeds())
def test_conv_formulations_agree(config, seed):
    assert_formulations_agree(config, seed)


@with_examples("maxpool")
@given(config=configs("maxpool"), seed=seeds())
def test_maxpool_formulations_agree(config, seed):
    assert_formulations_agree(config, seed)


@with_examples("avgpool")
@given(config=configs("avgpool"), seed=seeds())
def test_avgpool_formulations_agree(config, seed):
    assert_formulations_agree(config, seed)


@pytest.mark.parametrize("cls", windowed()["conv"].formulations, ids=lambda cls: cls.__name__)
@given(config=configs("conv"), seed=seeds())
def test_conv_backward_overwrites_parameter_gradients(cls, config, seed):
    inputs = make_inputs(config, seed)
    layer = build(cls, config, inputs.params)
    layer.forward(inputs.x)
    layer.backward(inputs.dout)
    first_dW, first_db = layer.dW.copy(), layer.db.copy()
    layer.backward(inputs.dout)
    np.testing.assert_allclose(layer.dW, first_dW, **TOLERANCE)
    np.testing.assert_allclose(layer.db, first_db, **TOLERANCE)


@pytest.mark.parametrize("cls", windowed()["conv"].formulations, ids=lambda cls: cls.__name__)
@given(config=configs("conv"), seed=seeds())
def test_conv_forward_sees_in_place_parameter_update(cls, config, seed):
    inputs = make_inputs(config, seed)
    W, b = inputs.params["W"].copy(), inputs.params["b"].copy()
    layer = cls(W, b, stride=config.stride, pad=config.pad, dilation=config.dilation)
    layer.forward(inputs.x)
    W += inputs.param_steps["W"]
    b += inputs.param_steps["b"]
    fresh = cls(W.copy(), b.copy(), stride=config.stride, pad=config.pad, dilation=config.dilation)
    np.testing.assert_allclose(layer.forward(inputs.x), fresh.forward(inputs.x), **TOLERANCE)


@pytest.mark.parametrize("layer", ["conv", "maxpool", "avgpool"])
def test_float32_in_float32_out(layer):
    """A float32 layer computes in float32 throughout: no formulation silently widens a result."""
    config = EXAMPLES[layer][0]
    inputs = make_inputs(config, 0)
    params = {name: value.astype(np.float32) for name, value in inputs.params.items()}
    for cls in windowed()[layer].formulations:
        layer_ = build(cls, config, params)
        arrays = {"out": layer_.forward(inputs.x.astype(np.float32)),
                  "dx": layer_.backward(inputs.dout.astype(np.float32))}
        if config.is_conv:
            arrays.update(dW=layer_.dW, db=layer_.db)
        for name, array in arrays.items():
            assert array.dtype == np.float32, f"{cls.__name__} returns {name} as {array.dtype}"
