"""Calling user code: constructors and forward functions read from their signatures, return values explained,
and the adapters module usable on its own (as in the grading sandbox)."""
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import gradcheck
from gradcheck import adapters
from gradcheck.adapters import LoadError, implementation_of
from gradcheck.cli import main
from mutants import styles

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


def test_a_constructor_that_takes_no_weights_is_refused_with_every_way_tried_and_a_factory():
    class Conv2d:
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
            self.W = [[0.0]] * (in_channels * out_channels)

    with pytest.raises(LoadError) as error:
        implementation_of(Conv2d, "conv")
    text = str(error.value)
    assert text.startswith("Conv2d(W, b, stride=stride, padding=pad) raised TypeError")
    assert "def make_layer(W, b, stride, pad):" in text


def test_a_backward_that_needs_more_than_dout_is_refused_with_a_subclass_to_add():
    from reference_style import Convolution

    class UpdatingConv(Convolution):
        def backward(self, dout, learning_rate):
            return super().backward(dout)

    with pytest.raises(LoadError) as error:
        implementation_of(UpdatingConv, "conv")
    assert str(error.value).startswith("UpdatingConv cannot be checked: gradcheck calls backward(dout), but its "
                                       "backward(dout, learning_rate)")
    assert "class Layer(UpdatingConv):" in str(error.value)


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

def conv_backward_naive(dout, x, w, b, conv_param):
    return dout, None, None
'''


@pytest.mark.parametrize("layer,name,why", [
    ("conv", "conv_forward", "conv_forward(x, w, b, step, border) cannot be called the way gradcheck"),
    ("maxpool", "max_pool_forward", "max_pool_forward(x, pool_size, stride) cannot be called the way gradcheck"),
    ("conv", "conv_forward_naive", "and a conv_backward_naive(dout, cache)"),
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
    """As the grading sandbox loads it: alone, and building layers from a configuration that holds only the
    documented fields."""
    shutil.copy(Path(adapters.__file__), tmp_path / "adapters.py")
    (tmp_path / "layers.py").write_text(STANDALONE)
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(tmp_path)!r}]
        import numpy as np
        import adapters
        assert not any(name.startswith(("gradcheck", "reference_layers")) for name in sys.modules)

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
