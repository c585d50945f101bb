"""Channels-last layers: deeplearning.ai's function pairs and NHWC classes, checked bare and reported in their own
layout, through the command line, the Python API, the testing assertion and grading under real bwrap.

The layers are ours (tests/mutants/channels_last.py, examples/); tests/test_mutants.py sweeps their verdicts, rules
and hints with the rest of the registry.  Here: which layout the probe picks and the one line when a given one is
wrong, what every format shows of an NHWC failure (indices, shapes, maps, hints, reproduction), that those commands
reproduce the failure, and that the grading process, not the sandboxed child, decides the layout.
"""
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gradcheck
from gradcheck import report as render
from gradcheck.adapters import DLAI, NCHW, ImplementationError, Layout, implementation_of
from gradcheck.api import Report, plan
from gradcheck.compare import CheckResult
from gradcheck.config import Config
from gradcheck.fuzz import Finding
from gradcheck.cli import main
from gradcheck.grading.grade import grade
from gradcheck.grading.sandbox import SandboxImplementation, sandbox_problem
from gradcheck.inputs import make_inputs
from gradcheck.layout import choose, relaid
from gradcheck.testing import assert_conv_gradients
from mutants import channels_last as layers
from mutants.layouts import MUTANTS, float_of_an_array_raises
from test_mutants import report as registered_report  # one report per layer and seed for the whole session

ROOT = Path(__file__).resolve().parents[1]
CHANNELS_LAST = "tests/mutants/channels_last.py"
HWIO, OHWI, HWIO_B4 = Layout("NHWC", "HWCF"), Layout("NHWC", "FHWC"), Layout("NHWC", "HWCF", "111F")
needs_bwrap = pytest.mark.skipif(sandbox_problem() is not None, reason=f"no bwrap sandbox here: {sandbox_problem()}")


@pytest.fixture
def run(monkeypatch):
    """The CLI from the repository's root, as a user runs it: (exit code, stdout, stderr)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("CI", raising=False)

    def invoke(*args):
        result = CliRunner().invoke(main, list(args))
        return result.exit_code, result.stdout, result.stderr
    return invoke


def check(layer, impl):
    """The report of a layer of the registry (tests/mutants/layouts.py), seed 0, as tests/test_mutants.py has it."""
    return registered_report(next(m for m in MUTANTS if m.cls is impl and m.layer == layer))


def text(rep):
    stream = io.StringIO()
    render.render_text(rep, render.make_console(stream))
    return stream.getvalue()


# -- which layout, decided by a probe ------------------------------------------------------------------------------
@pytest.mark.parametrize("layer,impl,layout", [
    ("conv", layers.conv_forward, DLAI), ("maxpool", layers.pool_forward, DLAI), ("avgpool", layers.pool_forward, DLAI),
    ("conv", layers.ConvHWIO, HWIO), ("conv", layers.ConvOHWI, OHWI), ("maxpool", layers.MaxPoolNHWC, HWIO),
    ("conv", layers.conv_forward_stride_in_backward, DLAI), ("conv", layers.ConvHWIORowsIgnoreStride, HWIO),
    ("conv", layers.ConvBias4D, HWIO_B4), ("conv", layers.ConvBias4DMinusPad, HWIO_B4)])
def test_auto_finds_the_layout_a_layer_reads_and_the_convention(layer, impl, layout):
    implementation = implementation_of(impl, layer)
    assert implementation.convention == ("dlai" if "forward" in impl.__name__ else "reference")
    assert choose(implementation, layer) == layout
    assert choose(implementation, layer, "nhwc") == layout


@pytest.mark.skipif(not float_of_an_array_raises(), reason="this NumPy still takes float() of a one-element array")
def test_a_layer_raising_the_same_in_any_layout_is_checked_in_the_layout_where_it_got_that_far(run):
    """float(b[:, :, :, c]) raises on NumPy 2 in every layout; in channels-last with b (1, 1, 1, F) it raises only
    that, after every shape was read right: the report is that error in that layout, not an IndexError of a flat b."""
    assert choose(implementation_of(layers.ConvBias4DFloat, "conv"), "conv") == HWIO_B4
    code, out, _ = run("conv", "--impl", f"{CHANNELS_LAST}:ConvBias4DFloat", "--seed", "0", "--examples", "3")
    assert code == 1 and "b (1, 1, 1, F)" in out and "forward raised TypeError: only 0-dimensional" in out
    assert "IndexError" not in out and "--layout nhwc" in out


def test_a_layout_is_named_in_any_case(run):
    code, out, _ = run("conv", "--impl", f"{CHANNELS_LAST}:ConvBias4D", "--layout", "NHWC", "--examples", "3")
    assert code == 0 and "channels-last" in out


def test_a_layout_the_probe_contradicts_is_one_line_saying_which_the_layer_reads(run):
    code, out, err = run("conv", "--impl", "examples/channels_last_style.py:Conv2D", "--layout", "nchw")
    assert (code, out) == (2, "")
    assert err == ("gradcheck: error: Conv2D reads channels-last input: forward of x (2, 9, 8, 3) as (N, H, W, C) "
                   "returned the expected (2, 8, 7, 5); pass --layout nhwc (or leave --layout auto), not --layout "
                   "nchw\n")
    code, out, err = run("pool", "--mode", "max", "--impl", "examples/reference_style.py:Pooling", "--layout", "nhwc")
    assert code == 2 and err.count("\n") == 1
    assert "Pooling reads channels-first input: forward of x (2, 3, 9, 8) as (N, C, H, W) returned the expected " \
           "(2, 3, 4, 4); pass --layout nchw" in err
    with pytest.raises(ValueError, match=r"^conv_forward reads channels-last input: .* not --layout nchw$"):
        gradcheck.check("conv", layers.conv_forward, layout="nchw")
    with pytest.raises(ValueError, match="the reference layers read NCHW"):
        gradcheck.check("conv", layout="nhwc")


def test_a_channels_first_layer_keeps_its_report_as_it_was():
    rep = gradcheck.check("conv", "examples/wrong_conv.py:Conv2d", seed=0, batch=1, channels=1, filters=1, size=(1, 3),
                          kernel=1, stride=2, pad=0)
    assert not rep.passed and "x (1, 1, 1, 3), W (1, 1, 1, 1)" in text(rep)
    assert rep.layout == NCHW and "--layout" not in rep.reproduce and "layout:" not in text(rep)
    assert json.loads(render.to_json(rep))["layout"] == {"x": "NCHW", "W": "FCHW", "b": "F", "name": "nchw"}


def test_a_layer_too_wrong_for_any_probe_is_checked_in_its_conventions_layout(tmp_path, monkeypatch):
    """A deeplearning.ai forward that forgets the + 1 of the output size agrees with no probe: it is checked as
    channels-last, and its failure is forward's shape, shown as the layer made it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "no_plus_one.py").write_text(
        "import numpy as np\n"
        "def conv_forward(A_prev, W, b, hparameters):\n"
        "    (m, n_H_prev, n_W_prev, n_C_prev) = A_prev.shape\n"
        "    (f, f, n_C_prev, n_C) = W.shape\n"
        "    n_H = (n_H_prev - f + 2 * hparameters['pad']) // hparameters['stride']\n"
        "    n_W = (n_W_prev - f + 2 * hparameters['pad']) // hparameters['stride']\n"
        "    return np.zeros((m, n_H, n_W, n_C)), (A_prev, W)\n"
        "def conv_backward(dZ, cache):\n"
        "    A_prev, W = cache\n"
        "    return np.zeros(A_prev.shape), np.zeros(W.shape), np.zeros((1, 1, 1, W.shape[3]))\n")
    rep = gradcheck.check("conv", "no_plus_one.py:conv_forward", seed=0, examples=5, batch=2, channels=3,
                          filters=4, size=(6, 5), kernel=2, stride=1, pad=0)
    assert rep.layout == DLAI
    forward = next(result for result in rep.checks if result.name == "forward")
    assert forward.message == "forward returned shape (2, 4, 3, 4), expected (2, 5, 4, 4)"  # (m, n_H, n_W, n_C)


# -- the deeplearning.ai convention: what it cannot vary ------------------------------------------------------------
@pytest.mark.slow  # seconds
def test_dlai_kernels_are_square_and_its_pools_unpadded_and_every_format_says_so(run):
    code, out, err = run("conv", "--impl", f"{CHANNELS_LAST}:conv_forward", "--kernel", "3x2")
    assert code == 2 and err == ("gradcheck: error: conv_forward (dlai convention) takes square kernels only, so it "
                                 "cannot be checked with kernel 3x2; pin a square kernel\n")
    code, out, err = run("pool", "--mode", "max", "--impl", f"{CHANNELS_LAST}:pool_forward", "--pad", "1")
    assert code == 2 and "pool_forward (dlai convention) cannot take pad 1; leave pad at 0" in err
    kernels = []

    def conv_forward(A_prev, W, b, hparameters):
        kernels.append(W.shape[:2])
        return layers.conv_forward(A_prev, W, b, hparameters)

    globals()["conv_backward"] = layers.conv_backward  # the partner, found by name in the forward's module
    try:
        rep = gradcheck.check("conv", conv_forward, seed=0, examples=15)
    finally:
        del globals()["conv_backward"]
    assert rep.passed and all(kh == kw for kh, kw in kernels) and len(set(kernels)) >= 4
    restricted = "square kernels only: deeplearning.ai's conv_forward reads W as (f, f, n_C_prev, n_C)"
    assert f"restricted: {restricted}" in text(rep)
    assert json.loads(render.to_json(rep))["config"]["restricted"] == restricted
    properties = {p.get("name"): p.get("value") for p in ET.fromstring(render.to_junit(rep)).iter("property")}
    assert properties["restricted"] == restricted
    pool = check("maxpool", layers.pool_forward)
    assert pool.options["pinned"]["pad"] == 0 and "square windows and pad 0 only" in pool.options["restricted"]


def test_dlai_pool_mode_is_passed_to_both_functions():
    calls = []

    def pool_forward(A_prev, hparameters, mode="max"):
        calls.append(("forward", mode, sorted(hparameters)))
        return layers.pool_forward(A_prev, hparameters, mode)

    def pool_backward(dA, cache, mode="max"):
        calls.append(("backward", mode))
        return layers.pool_backward(dA, cache, mode)

    globals()["pool_backward"] = pool_backward  # its module is where the partner is looked up, by name
    try:
        assert gradcheck.check("avgpool", pool_forward, seed=0, examples=3).passed
    finally:
        del globals()["pool_backward"]
    assert ("forward", "average", ["f", "stride"]) in calls and ("backward", "average") in calls
    assert not any(mode == "max" for _, mode, *rest in calls)


def test_a_mode_is_deeplearning_ais_after_a_dict_of_settings_not_after_the_geometry():
    def pool_forward(x, pool_param, mode="max"):
        return x, None

    def max_pool_forward(x, pool_h, pool_w, stride=1, pad=0, mode="max"):
        return x, None

    globals().update(pool_backward=lambda dout, cache: dout, max_pool_backward=lambda dout, cache: dout)
    try:
        assert implementation_of(pool_forward, "maxpool", "auto").convention == "dlai"
        assert implementation_of(max_pool_forward, "maxpool", "auto").convention == "args"
    finally:
        del globals()["pool_backward"], globals()["max_pool_backward"]


def test_a_dlai_named_pair_that_only_cs231n_can_call_is_read_as_cs231n():
    """The names say deeplearning.ai (A_prev), the call that confirms them says otherwise: the pair reads NCHW with
    cs231n's (F,) bias, and is checked as cs231n's."""
    def conv_forward(A_prev, w, b, conv_param):
        from reference_layers import Conv2d
        layer = Conv2d(w, b, conv_param["stride"], conv_param["pad"])
        return layer.forward(A_prev), layer

    globals()["conv_backward"] = lambda dout, layer: (layer.backward(dout), layer.dW, layer.db)
    try:
        assert implementation_of(conv_forward, "conv").convention == "function"
        assert implementation_of(conv_forward, "conv", "dlai").convention == "dlai"  # named: no second guess
        assert gradcheck.check("conv", conv_forward, seed=0, examples=3).passed
    finally:
        del globals()["conv_backward"]


# -- an NHWC failure, in the layer's own layout, in every format ---------------------------------------------------
@pytest.mark.slow
def test_an_nhwc_failure_shows_its_worst_element_configuration_and_map_in_the_layers_layout():
    rep = check("conv", layers.ConvHWIORowsIgnoreStride)
    (finding,) = rep.findings
    dx = finding.checks[0]
    assert dx.name == "dX" and dx.worst_index == (0, 1, 0, 0)
    line = "smallest failing configuration: x (1, 3, 1, 1), W (1, 1, 1, 1), kernel 1, stride 2, pad 0 (data seed 0)"
    out = text(rep)
    assert line in " ".join(out.split()) and "dX            FAIL" in out and "at [0, 1, 0, 0]: expected" in out
    assert "layout: channels-last, x (N, H, W, C), W (KH, KW, C, F), b (F,)" in out
    assert "sample 0, channel 0: dx[0, :, :, 0]\n      .\n      X\n      X\n" in out  # rows 1 and 2 of a 3x1 input
    assert finding.reproduce.endswith(f"--impl {CHANNELS_LAST}:ConvHWIORowsIgnoreStride --layout nhwc --seed 0")
    # the index is the layer's: its own dx against the reference's, both channels-last, differ most there
    config = finding.config
    inputs = make_inputs(config, finding.seed)
    nhwc, hwio = inputs.x.transpose(0, 2, 3, 1), inputs.params["W"].transpose(2, 3, 1, 0)
    layer = layers.ConvHWIORowsIgnoreStride(hwio.copy(), inputs.params["b"].copy(), *config.stride[:1],
                                            *config.pad[:1])
    layer.forward(nhwc.copy())
    mine = layer.backward(inputs.dout.transpose(0, 2, 3, 1).copy())
    right = config.reference_layer(inputs.params)
    right.forward(inputs.x)
    expected = right.backward(inputs.dout).transpose(0, 2, 3, 1)
    assert np.unravel_index(np.argmax(np.abs(mine - expected)), mine.shape) == dx.worst_index
    data = json.loads(render.to_json(rep))
    assert data["layout"] == {"x": "NHWC", "W": "HWCF", "b": "F", "name": "nhwc"}
    (details,) = data["findings"][0]["details"]
    assert details["worst_index"] == [0, 1, 0, 0] and details["mismatches"] == [[0, 1, 0, 0], [0, 2, 0, 0]]
    failure = ET.fromstring(render.to_junit(rep)).find(".//failure").text
    assert "worst at [0, 1, 0, 0]" in failure and line in failure
    message = render.failure_text(rep)
    assert " Layout: channels-last, x (N, H, W, C)" in message and " Worst element [0, 1, 0, 0]" in message
    assert "x (1, 3, 1, 1), W (1, 1, 1, 1)" in message


@pytest.mark.slow  # seconds
def test_a_wrong_gradient_shape_is_said_as_the_layer_made_it():
    rep = check("conv", layers.ConvHWIOFiltersFirstDw)
    for finding in rep.findings:
        (dw,) = finding.checks
        config, inputs = finding.config, make_inputs(finding.config, finding.seed)
        layer = layers.ConvHWIOFiltersFirstDw(inputs.params["W"].transpose(2, 3, 1, 0).copy(), inputs.params["b"],
                                              config.stride[0], config.pad[0])
        layer.forward(inputs.x.transpose(0, 2, 3, 1).copy())
        layer.backward(inputs.dout.transpose(0, 2, 3, 1).copy())
        made, expected = layer.dW.shape, layer.W.shape
        assert made != expected
        assert dw.message == f"dW has shape {made}, expected {expected} (the shape of W)"
        assert dw.shapes == (made, expected)


@pytest.mark.slow
def test_a_hint_that_slices_dx_slices_it_in_the_layers_layout():
    rep = check("conv", layers.conv_forward_minus_pad)
    (finding,) = rep.findings
    assert len(finding.triggers) == 1
    assert finding.triggers[0].startswith("fails only when pad = 0 (passes with pad 1, all else equal; no failure in")
    assert finding.hints == ["with pad 0 a slice dx_pad[:, pad:-pad, pad:-pad, :] is [0:-0], which is empty: cut the "
                             "padding with dx_pad[:, pad:pad + H, pad:pad + W, :]"]


def test_every_index_and_shape_of_a_report_is_turned_into_the_layers_layout_once():
    mask = np.zeros((1, 2, 3, 4), bool)
    mask[0, 1, 2, 0] = True
    non_finite = CheckResult("dX", "fail", "dX has 1 non-finite values (NaN or inf) for finite inputs, the first at "
                                           "[0, 1, 2, 0]", mismatches=mask)
    # the layer's (1, 4, 2, 3) came in as (1, 3, 4, 2): the expected shape's text in the layer's layout is that
    shape = CheckResult("forward", "fail", "forward returned shape (1, 3, 4, 2), expected (1, 2, 3, 4)",
                        shapes=((1, 3, 4, 2), (1, 2, 3, 4)))
    repeat = CheckResult("repeatable", "fail", "dW differs from the first call: ...", against="first dW",
                         worst_index=(4, 2, 0, 1), expected=1.0, actual=2.0)
    bias = CheckResult("dB", "fail", "1 of 5 elements differ", worst_index=(3,), expected=1.0, actual=2.0, hints=[
        "dW is still a matrix: reshape it to W's shape (F, C, KH, KW)"], notes=[
        "finite differences of x ran one forward call per perturbation: a stacked call returned shape (6, 3, 5, 4), "
        "not (6, 3, 5, 5)"])
    config = Config.conv(batch=1, channels=2, filters=5, size=(3, 4), kernel=1)
    finding = Finding("", config, 0, [shape, non_finite], hints=["strip the padding, dx[:, :, 1:4, 1:5]"])
    rep = relaid(Report("conv", "layer.py:conv_forward", {}, [shape, non_finite, repeat, bias], [finding], 30, 0,
                        "gradcheck"), DLAI)
    shape, non_finite, repeat, bias = rep.checks
    assert rep.findings[0].checks == [shape, non_finite] and rep.layout == DLAI  # shared results converted once
    assert shape.message == "forward returned shape (1, 4, 2, 3), expected (1, 3, 4, 2)"
    assert shape.shapes == ((1, 4, 2, 3), (1, 3, 4, 2))
    assert non_finite.message.endswith("the first at [0, 2, 0, 1]") and non_finite.mismatches.shape == (1, 3, 4, 2)
    assert repeat.worst_index == (0, 1, 2, 4)  # dW as (KH, KW, C, F)
    assert bias.worst_index == (0, 0, 0, 3)  # db as (1, 1, 1, F)
    assert bias.hints == ["dW is still a matrix: reshape it to W's shape (KH, KW, C, F)"]
    assert bias.notes[0].endswith("a stacked call returned shape (6, 5, 4, 3), not (6, 5, 5, 3)")
    assert rep.findings[0].hints == ["strip the padding, dx[:, 1:4, 1:5, :]"]
    assert "smallest failing configuration: x (1, 3, 4, 2), W (1, 1, 2, 5)" in text(rep)
    assert relaid(rep, NCHW) is rep


# -- the ways in: the Python API, the testing assertion, float32 ---------------------------------------------------
@pytest.mark.slow
def test_the_examples_pass_through_the_api_with_no_options():
    for layer, name in (("conv", "conv_forward"), ("maxpool", "pool_forward"), ("avgpool", "pool_forward")):
        rep = gradcheck.check(layer, f"examples/deeplearning_ai_style.py:{name}", seed=0, examples=10)
        assert rep.passed and rep.layout == DLAI, text(rep)
    rep = gradcheck.check("conv", "examples/channels_last_style.py:Conv2D", seed=0)
    assert rep.passed and rep.layout == HWIO


@pytest.mark.slow
def test_the_testing_assertion_says_the_layout_and_the_layers_shapes():
    with pytest.raises(AssertionError) as failure:
        assert_conv_gradients(layers.conv_forward_stride_in_backward, seed=0, examples=10)
    message = str(failure.value)
    assert " Layout: channels-last, x (N, H, W, C), W (KH, KW, C, F), b (1, 1, 1, F)" in message
    assert " Restricted: square kernels only" in message and "--layout nhwc" in message


@pytest.mark.slow
def test_float32_precision_works_for_the_deeplearning_ai_convention():
    for layer, name in (("conv", "conv_forward"), ("maxpool", "pool_forward")):
        rep = gradcheck.check(layer, f"examples/deeplearning_ai_style.py:{name}", seed=0, examples=5,
                              precision="float32")
        assert rep.passed, text(rep)


# -- grading, under real bwrap: the grading process decides the layout ---------------------------------------------
@needs_bwrap
def test_the_grading_process_probes_the_layout_and_the_child_converts_as_told():
    with SandboxImplementation(f"{ROOT / CHANNELS_LAST}:ConvOHWI", "conv", stop_on_death=True) as sandbox:
        assert sandbox.convention == "reference" and sandbox.layout == NCHW  # nothing the child said moved it
        checking = plan("conv", sandbox, seed=0, examples=3)
        assert sandbox.layout == OHWI and checking.layout == OHWI
        config = gradcheck.Config.conv(batch=2, channels=3, filters=5, size=(9, 8), kernel=2)
        inputs = make_inputs(config, 0)
        out = sandbox.make(config, dict(inputs.params)).forward(inputs.x)
        np.testing.assert_allclose(out, config.reference_layer(inputs.params).forward(inputs.x), atol=1e-12)
        with pytest.raises(ImplementationError):  # told NCHW, it converts nothing, and fails
            sandbox.make(config, dict(inputs.params), NCHW).forward(inputs.x)
        assert checking.run().passed


@needs_bwrap
@pytest.mark.slow
def test_grade_passes_right_channels_last_layers_and_explains_a_wrong_one_in_its_layout():
    options = dict(seed=0, examples=5, timeout=30, workers=1)
    square = dict(options, kernel=3)  # deeplearning.ai's layers take square kernels (f) and its pools no padding:
    unpadded = dict(square, pad=0)      # an assignment pins what its layers take
    for layer, name, pins in (("conv", "conv_forward", square), ("maxpool", "pool_forward", unpadded),
                              ("avgpool", "pool_forward", unpadded), ("conv", "ConvOHWI", options)):
        (submission,) = grade([ROOT / CHANNELS_LAST], layer, name, **pins).submissions
        assert submission.passed, (name, submission.reason)
        assert submission.report.layout.name == "nhwc"
    (free,) = grade([ROOT / CHANNELS_LAST], "conv", "conv_forward", **options).submissions  # graded as asked
    assert not free.passed and "conv_forward (dlai convention) takes square kernels only" in free.reason
    result = grade([ROOT / CHANNELS_LAST], "conv", "ConvHWIORowsIgnoreStride", **dict(options, examples=30))
    (submission,) = result.submissions
    assert not submission.passed and submission.score == 7
    gradescope = json.loads(render.grade_to_gradescope(submission, result))
    assert "Layout: channels-last, x (N, H, W, C), W (KH, KW, C, F), b (F,)" in gradescope["output"]
    dx = next(test for test in gradescope["tests"] if test["name"].startswith("dX"))
    assert "x (1, 3, 1, 1), W (1, 1, 1, 1), kernel 1, stride 2, pad 0" in dx["output"]
    assert "worst at [0, 1, 0, 0]" in dx["output"]
    assert "--impl channels_last.py:ConvHWIORowsIgnoreStride --layout nhwc --seed 0" in dx["output"]


@needs_bwrap
def test_grade_takes_a_layout_and_a_contradicted_one_is_the_submissions_one_line_error(run):
    code, out, err = run("grade", CHANNELS_LAST, "--layer", "conv", "--impl", "conv_forward", "--layout", "nchw",
                         "--seed", "0", "--examples", "3", "--workers", "1", "--format", "json")
    assert code == 0, err
    (submission,) = json.loads(out)["submissions"]
    assert submission["score"] == 0 and submission["error"] == (
        "cannot be graded with these options: conv_forward reads channels-last input: forward of x (2, 9, 8, 3) as "
        "(N, H, W, C) returned the expected (2, 8, 7, 5); pass --layout nhwc (or leave --layout auto), not --layout "
        "nchw")
    code, out, err = run("grade", CHANNELS_LAST, "--layer", "conv", "--impl", "ConvHWIO", "--layout", "nhwc",
                         "--seed", "0", "--examples", "3", "--workers", "1", "--format", "json")
    (submission,) = json.loads(out)["submissions"]
    assert code == 0 and submission["passed"], out + err
    assert submission["layout"] == {"x": "NHWC", "W": "HWCF", "b": "F", "name": "nhwc"}
