"""Every formulation of each reference layer matches PyTorch's functional layers (float64, autograd)."""
import numpy as np
import pytest
from hypothesis import given, settings

from gradcheck.inputs import make_inputs
from gradcheck.kinds import windowed
from gradcheck.strategies import configs, seeds

torch = pytest.importorskip("torch", reason="torch is needed to compare the reference layers against PyTorch")
F = torch.nn.functional

TOLERANCE = {"rtol": 1e-12, "atol": 1e-12}


def formulations(layer):
    return pytest.mark.parametrize("cls", windowed()[layer].formulations, ids=lambda cls: cls.__name__)


def tensor(array):
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


def assert_close(actual, expected, name, cls, config):
    np.testing.assert_allclose(actual, expected.detach().numpy(), **TOLERANCE,
                               err_msg=f"{name} of {cls.__name__} vs torch, {config.describe()}")


def check_pool(cls, config, seed, torch_pool):
    inputs = make_inputs(config, seed)
    layer = cls(*config.kernel, stride=config.stride, pad=config.pad)
    out = layer.forward(inputs.x)
    dx = layer.backward(inputs.dout)
    x = tensor(inputs.x)
    expected = torch_pool(x, config.kernel, stride=config.stride, padding=config.pad)
    expected.backward(torch.from_numpy(inputs.dout))
    assert_close(out, expected, "out", cls, config)
    assert_close(dx, x.grad, "dx", cls, config)


@formulations("conv")
@settings(max_examples=40)  # the loop formulations take a while on the large configurations
@given(config=configs("conv"), seed=seeds())
@pytest.mark.slow
def test_conv_matches_torch(cls, config, seed):
    inputs = make_inputs(config, seed)
    layer = cls(inputs.params["W"], inputs.params["b"], stride=config.stride, pad=config.pad,
                dilation=config.dilation)
    out = layer.forward(inputs.x)
    dx = layer.backward(inputs.dout)
    x, W, b = tensor(inputs.x), tensor(inputs.params["W"]), tensor(inputs.params["b"])
    expected = F.conv2d(x, W, b, stride=config.stride, padding=config.pad, dilation=config.dilation)
    expected.backward(torch.from_numpy(inputs.dout))
    for name, actual, wanted in [("out", out, expected), ("dx", dx, x.grad), ("dW", layer.dW, W.grad),
                                 ("db", layer.db, b.grad)]:
        assert_close(actual, wanted, name, cls, config)


@formulations("maxpool")
@given(config=configs("maxpool"), seed=seeds())
@pytest.mark.slow
def test_maxpool_matches_torch(cls, config, seed):
    check_pool(cls, config, seed, F.max_pool2d)


@formulations("avgpool")
@given(config=configs("avgpool"), seed=seeds())
@pytest.mark.slow  # as the others: torch is installed where the slow suite runs (.ci/run)
def test_avgpool_matches_torch(cls, config, seed):
    check_pool(cls, config, seed, F.avg_pool2d)
