"""Calling user code: constructors and forward functions read from their signatures, return values explained,
and the adapters module usable on its own (as in the grading sandbox)."""
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gradcheck
from gradcheck import adapters
from gradcheck.adapters import LoadError, implementation_of
from gradcheck.cli import main
from gradcheck.grading.bwrap import CHILD_FILES
from mutants import styles
from reference_layers import Conv2d

HERE = Path(__file__).parent


def check(layer, impl, **options):
    return gradcheck.check(layer, impl, seed=0, examples=5, **options)


def message(report, name):
    return next(result.message for result in report.checks if result.name == name)


def test_forward_returning_none_is_told_to_return_the_output():
    report = check("conv", styles.ConvForwardNone)
    assert message(report, "forward") == "forward returned None: return the output array"
    assert report.checks[0].error["type"] == "BadReturn"


def test_backward_returning_none_is_told_to_return_dx():
    report = check("conv", styles.ConvBackwardNone)
    assert message(report, "dX") == "backward returned None: return dx (dW and db are read from the layer)"


def test_a_pool_whose_backward_returns_none_is_told_to_return_dx_and_nothing_of_weights():
    class PoolForgets(styles.MaxPoolNoPad):
        def backward(self, dout):
            super().backward(dout)

    assert message(check("maxpool", PoolForgets), "dX") == "backward returned None: return dx"


def test_two_arrays_of_xs_shape_that_backward_set_and_names_cannot_tell_apart_fail_dx_saying_to_return_it():
    class ConvTwoCopies(styles.ConvKeepsDx):
        def backward(self, dout):
            super().backward(dout)
            self.first, self.second = self.dx, self.dx.copy()
            del self.dx

    said = message(check("conv", ConvTwoCopies), "dX")
    assert said.startswith("backward returned None and set 2 arrays of x's shape (")
    assert said.endswith("): first, second; gradcheck cannot tell which is dx: return it")


def test_a_tuple_from_a_class_backward_is_read_as_dx_first_with_a_note():
    report = check("conv", styles.ConvBackwardTuple)
    assert report.passed
    notes = {note for result in report.checks for note in result.notes}
    assert "backward returned a tuple of 3; its first element was taken as dx (dW and db are read from the " \
           "layer's attributes)" in notes


@pytest.mark.parametrize("cls,how", [
    (styles.MaxPool2dLayer, "built as MaxPool2dLayer(pool_h, pool_w, PS=stride, PP=pad)"),
    (styles.ConvPositional, "built as ConvPositional(W, b, stride, pad), by position"),
    (styles.ConvPadding, "built as ConvPadding(W, b, stride=stride, padding=pad)"),
])
def test_how_a_layer_was_built_is_in_every_report_format(cls, how):
    layer = "maxpool" if "Pool" in cls.__name__ else "conv"
    report = check(layer, cls)
    assert report.passed
    assert how in json.loads(gradcheck.report.to_json(report))["checks"][0]["notes"]


def test_a_layer_built_the_documented_way_gets_no_note():
    from reference_style import Convolution

    report = check("conv", Convolution)
    assert not any(note.startswith("built as") for result in report.checks for note in result.notes)


def test_a_constructor_without_pad_pins_pad_to_zero_and_refuses_a_pad_pin():
    implementation = implementation_of(styles.MaxPoolNoPad, "maxpool")
    assert implementation.pinned == {"pad": 0}
    with pytest.raises(ValueError, match="leave pad at 0"):
        gradcheck.plan("maxpool", styles.MaxPoolNoPad, pad=1)


def test_a_constructor_keeping_no_weight_array_is_refused_with_what_was_tried_and_a_factory_in_its_names():
    class Conv2d:
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
            self.W = [[0.0]] * (in_channels * out_channels)

    with pytest.raises(LoadError) as error:
        implementation_of(Conv2d, "conv")
    text = str(error.value)
    assert text.startswith("Conv2d(in_channels=C, out_channels=F, kernel_size=kernel, stride=stride, padding=pad) "
                           "built a layer that keeps no array of W's shape (4, 3, 3, 2) (it keeps no array)")
    assert "    def make_layer(W, b, stride, pad):\n        layer = Conv2d(in_channels=W.shape[1], " \
           "out_channels=W.shape[0], kernel_size=W.shape[2:], stride=stride, padding=pad)\n" \
           "        layer.W, layer.b = W, b   # where your layer keeps its weights\n" in text


def test_a_filter_dim_is_a_kernel_size_and_never_where_a_factory_puts_the_weights():
    """A constructor (out_channels, filter_dim, ...) whose weights appear only at the first forward: built with
    the kernel size, refused for keeping no weights, and the factory keeps W out of filter_dim."""
    class Convolution:
        def __init__(self, out_channels, filter_dim, stride=1, padding=0):
            self.out_channels, self.filter_dim, self.stride, self.padding = out_channels, filter_dim, stride, padding
            self.params = {"W": None, "b": None}

    with pytest.raises(LoadError) as error:
        implementation_of(Convolution, "conv")
    text = str(error.value)
    assert text.startswith("Convolution(out_channels=F, filter_dim=kernel, stride=stride, padding=pad) built a "
                           "layer that keeps no array of W's shape")
    assert "layer.filter_dim" not in text and "        layer.W, layer.b = W, b   # where your layer keeps" in text


def test_a_backward_that_needs_more_than_dout_is_refused_with_a_subclass_to_add():
    from reference_style import Convolution

    class MaskedConv(Convolution):
        def backward(self, dout, mask):
            return super().backward(dout * mask)

    with pytest.raises(LoadError) as error:
        implementation_of(MaskedConv, "conv")
    assert str(error.value).startswith("MaskedConv cannot be checked: gradcheck calls backward(dout), but its "
                                       "backward(dout, mask)")
    assert "class Layer(MaskedConv):\n        def backward(self, dout):\n            return super().backward(dout, " \
           "mask=...)\n" in str(error.value)


def test_a_backward_taking_a_learning_rate_gets_0_and_weights_it_changes_are_put_back():
    from reference_style import Convolution

    class Momentum(Convolution):
        def backward(self, dout, learning_rate=0.1):
            dx = super().backward(dout)
            self.W -= learning_rate * self.dW + 1e-3  # a step that even a rate of 0 does not stop
            return dx

    report = check("conv", Momentum)
    assert report.passed, [(r.name, r.message) for r in report.checks if r.status == "fail"]
    notes = {note for result in report.checks for note in result.notes}
    assert "backward was called as backward(dout, learning_rate=0): gradients are taken at the weights before any " \
           "update" in notes
    assert "backward changed W itself (an optimizer step); it was put back so that every gradient is taken at the " \
           "same weights" in notes


def test_separate_arguments_are_passed_by_name_not_as_a_cs231n_dict():
    implementation = implementation_of(styles.conv_forward, "conv")
    assert implementation.convention == "args" and implementation.pinned == {"dilation": 1}
    report = check("conv", styles.conv_forward, stride=2, pad=1)
    assert report.passed, [(r.name, r.message) for r in report.checks]
    assert report.options["pinned"]["stride"] == 2


def test_cs231n_functions_still_get_their_dict():
    implementation = implementation_of(styles.conv_forward_strides, "conv")
    assert implementation.convention == "function"


UNCALLABLE = '''
import numpy as np

def conv_forward(x, w, b, step, border):
    return x, None

def conv_backward(dout, cache):
    return dout, None, None

def max_pool_forward(x, pool_size, stride):
    return x, None

def max_pool_backward(dout, cache):
    return dout

def conv_forward_naive(x, w, b, conv_param):
    return x, None

def conv_backward_naive(dout, cache, mode):
    return dout, None, None
'''


@pytest.mark.parametrize("layer,name,why", [
    ("conv", "conv_forward", "conv_forward(x, w, b, step, border) cannot be called the way gradcheck"),
    ("maxpool", "max_pool_forward", "max_pool_forward(x, pool_size, stride) cannot be called the way gradcheck"),
    ("conv", "conv_forward_naive", "conv_backward_naive(dout, cache, mode) cannot be called the way gradcheck knows"),
])
def test_a_forward_function_that_cannot_be_called_is_refused_with_exit_2_and_a_class_to_add(
        tmp_path, monkeypatch, layer, name, why):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pair.py").write_text(UNCALLABLE)
    command = ["conv"] if layer == "conv" else ["pool", "--mode", "max"]
    result = CliRunner().invoke(main, [*command, "--impl", f"pair.py:{name}", "--seed", "0"])
    assert result.exit_code == 2, result.output
    assert why in result.stderr and "class Layer:" in result.stderr and "Traceback" not in result.stderr


def test_the_convention_can_be_named_and_is_in_the_cli_choices(tmp_path, monkeypatch):
    assert "args" in adapters.CONVENTIONS
    with pytest.raises(LoadError, match="cannot be called the way gradcheck knows"):
        implementation_of(styles.conv_forward_strides, "conv", "args")


STANDALONE = '''
import numpy as np

class Conv:
    def __init__(self, weights, bias, st, pd):
        self.W, self.b = weights, bias

    def forward(self, x):
        return x + self.W.sum() + self.b.sum()

    def backward(self, dout):
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)
        return dout

def conv_forward(x, w, b, stride=1, padding=0):
    return x * stride + padding, None

def conv_backward(dout, cache):
    return dout, None, None
'''


def test_adapters_needs_only_numpy_and_the_standard_library(tmp_path):
    """As the grading sandbox loads it: with the child's files of gradcheck only, and building layers from a
    configuration that holds only the documented fields."""
    for name in CHILD_FILES:
        (tmp_path / "gradcheck" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(adapters.__file__).parent / name, tmp_path / "gradcheck" / name)
    (tmp_path / "layers.py").write_text(STANDALONE)
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(tmp_path)!r}]
        import numpy as np
        from gradcheck import adapters
        assert adapters.__file__.startswith({str(tmp_path)!r})
        assert not any(name.startswith("reference_layers") for name in sys.modules)
        assert {{name for name in sys.modules if name.startswith("gradcheck")}} <= {{
            "gradcheck", "gradcheck.adapters", "gradcheck.userfiles", "gradcheck.signatures", "gradcheck.holdings"}}

        class Config:
            __slots__ = ("layer", "is_conv", "batch", "channels", "filters", "size", "kernel", "stride", "pad",
                         "dilation")

            def __init__(self, **fields):
                for name, value in fields.items():
                    setattr(self, name, value)

        config = Config(layer="conv", is_conv=True, batch=1, channels=1, filters=1, size=(4, 4), kernel=(3, 3),
                        stride=(2, 2), pad=(1, 1), dilation=(1, 1))
        params = {{"W": np.ones((1, 1, 3, 3)), "b": np.zeros(1)}}
        for name in ("Conv", "conv_forward"):
            implementation = adapters.load_implementation({str(tmp_path / "layers.py")!r} + ":" + name, "conv")
            subject = implementation.make(config, params)
            print(implementation.convention, float(subject.forward(np.ones((1, 1, 4, 4))).sum()),
                  sorted(subject.notes))
    """)
    result = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "reference 160.0 ['built as Conv(W, b, stride, pad), by position']",
        "args 48.0 ['called as conv_forward(x, w, b, stride=stride, padding=pad) and conv_backward(dout, cache)']"]


class OwnWeights:
    """A layer that makes its own weights and keeps them, and its gradients, under names of its own: built from
    (in_channels, out_channels, kernel_size, stride, pad); the names and the bias's shape are set per test."""

    names = {"W": "kernel", "b": "offset", "dW": "kernel_gradient", "db": "offset_gradient"}
    bias_shape = (-1,)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad=0):
        self.put("W", np.random.randn(out_channels, in_channels, *np.broadcast_to(kernel_size, 2)))
        self.put("b", np.zeros(out_channels).reshape(self.bias_shape))
        self.layer = Conv2d(self.get("W"), self.get("b").reshape(-1), stride, pad)

    def put(self, name, value):
        attribute, _, key = self.names[name].partition("[")
        if key:
            getattr(self, attribute)[key.strip("]'\"")] = value
        else:
            setattr(self, attribute, value)

    def get(self, name):
        attribute, _, key = self.names[name].partition("[")
        return getattr(self, attribute)[key.strip("]'\"")] if key else getattr(self, attribute)

    def forward(self, x):
        self.layer.b = self.get("b").reshape(-1)  # the weights are read where they are kept, at each call
        self.layer.W = self.get("W")
        return self.layer.forward(x)

    def backward(self, dout):
        dx = self.layer.backward(dout)
        self.put("dW", self.layer.dW.copy())
        self.put("db", self.layer.db.reshape(self.bias_shape))
        return dx


def own_weights(names=None, bias_shape=(-1,), dicts=()):
    """OwnWeights with other names (a name "grads['dW']" is a key of a dict attribute, made by __init__)."""
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad=0):
        for attribute in dicts:
            setattr(self, attribute, {})
        OwnWeights.__init__(self, in_channels, out_channels, kernel_size, stride, pad)

    return type("Conv", (OwnWeights,), {"names": dict(OwnWeights.names, **(names or {})), "bias_shape": bias_shape,
                                        "__init__": __init__})


@pytest.mark.parametrize("layer,read_from", [
    (own_weights(), ["W and b written into its kernel and offset", "dW was read from kernel_gradient",
                     "db was read from offset_gradient"]),
    (own_weights(bias_shape=(1, -1, 1, 1)), ["db was read from offset_gradient"]),
    (own_weights(bias_shape=(1, -1)), ["db was read from offset_gradient"]),
    (own_weights({"dW": "w_gradient", "db": "b_gradient"}, bias_shape=(-1, 1)), ["dW was read from w_gradient"]),
    (own_weights({"dW": "W_feedback", "db": "b_feedback"}), ["dW was read from W_feedback"]),
    (own_weights({"W": "params['W']", "b": "params['b']", "dW": "gradients['dW']", "db": "gradients['db']"},
                 dicts=("params", "gradients")),
     ["W and b written into its params['W'] and params['b']", "dW was read from gradients['dW']"]),
])
def test_weights_and_gradients_under_names_of_their_own_are_found_by_shape(layer, read_from):
    report = check("conv", layer)
    assert report.passed, [(r.name, r.message) for r in report.checks if r.status == "fail"]
    notes = {note for result in report.checks for note in result.notes}
    for text in read_from:
        assert any(text in note for note in notes), notes


def test_a_constructor_taking_the_input_shape_gets_it_and_never_w():
    seen = []

    class Conv(OwnWeights):
        def __init__(self, input_shape, num_filters, filter_size, stride, pad):
            seen.append(input_shape)
            super().__init__(input_shape[0], num_filters, filter_size, stride, pad)

    report = check("conv", Conv)
    assert report.passed
    assert all(isinstance(shape, tuple) and len(shape) == 3 and all(isinstance(n, int) for n in shape)
               for shape in seen)


def test_two_arrays_of_ws_shape_that_names_cannot_tell_apart_are_refused_saying_how_to_name_them():
    class Conv(OwnWeights):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad=0):
            super().__init__(in_channels, out_channels, kernel_size, stride, pad)
            self.velocity = np.zeros_like(self.kernel)

    with pytest.raises(LoadError, match=r"Conv keeps 2 arrays of W's shape \(4, 3, 3, 2\): kernel, velocity; "
                                        "gradcheck cannot tell which holds W: name it W .or w, weights, weight., "
                                        "or add a factory"):
        implementation_of(Conv, "conv")


def test_two_gradients_of_ws_shape_that_names_cannot_tell_apart_fail_dw_saying_how_to_name_them():
    class Conv(own_weights({"dW": "kernel_change", "db": "offset_change"})):
        def backward(self, dout):
            dx = super().backward(dout)
            self.kernel_step = -0.1 * self.kernel_change
            return dx

    report = check("conv", Conv)
    dw = next(result for result in report.checks if result.name == "dW")
    assert dw.status == "fail"
    assert "backward set 2 arrays of W's shape (4, 3, 3, 2): kernel_change, kernel_step; gradcheck cannot tell " \
           "which is dW: name it dW (or dw, d_W, d_w), or keep the others out of the layer's attributes" in dw.message
    assert {r.name for r in report.checks if r.status == "fail"} == {"dW"}  # db is told by its shape alone


def test_a_gradient_named_as_one_is_told_from_another_array_of_its_shape():
    class Conv(OwnWeights):
        def backward(self, dout):
            dx = super().backward(dout)
            self.kernel_step = -0.1 * self.kernel_gradient
            return dx

    report = check("conv", Conv)
    assert report.passed
    assert any("dW was read from kernel_gradient" in note for result in report.checks for note in result.notes)


def test_a_constructor_taking_w_first_that_cannot_be_built_gets_a_factory_calling_it_by_its_own_names():
    class Conv(OwnWeights):
        def __init__(self, weights, bias, stride, pad, activation):
            raise AssertionError("never built")

    with pytest.raises(LoadError) as error:
        implementation_of(Conv, "conv")
    assert "missing 1 required positional argument: 'activation'" in str(error.value)
    assert str(error.value).endswith("add a factory to your file, with your own values for ..., and pass --impl "
                                     "FILE:make_layer:\n\n    def make_layer(W, b, stride, pad):\n        layer = "
                                     "Conv(weights=W, bias=b, stride=stride, pad=pad, activation=...)\n        "
                                     "return layer\n")


def test_a_backward_that_keeps_no_dx_is_not_read_from_a_weight_gradient_of_another_name():
    """Nothing of x's shape set, and grad_W (a weight's gradient) or data are not dx's names: backward returned
    None, and says so."""
    class ConvGradNames(styles.ConvKeepsDx):
        def backward(self, dout):
            super().backward(dout)
            del self.dx
            self.grad_W, self.data = self.dW.copy(), np.zeros(3)

    said = message(check("conv", ConvGradNames), "dX")
    assert said == "backward returned None: return dx (dW and db are read from the layer)"
