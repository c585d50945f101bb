"""Hints name the mistake a mutant really makes, and only when a measurement backs them: on the check's own numbers,
or on the layer run once more (``diagnose.Probe``) where the failing configuration cannot tell causes apart."""
import numpy as np
import pytest

import gradcheck
from gradcheck import diagnose
from gradcheck.adapters import implementation_of
from gradcheck.compare import CheckResult
from gradcheck.config import Config
from gradcheck.inputs import make_inputs
from gradcheck.kinds.conv import other_pad_dw_hints
from mutants import causes, conv, standalone


@pytest.mark.slow  # seconds
def test_the_json_hints_are_the_first_findings():
    """The hints named in the registry (``Mutant.hint``) are tested with the mutants; here, where JSON puts them."""
    report = gradcheck.check("conv", conv.ConvDbAveraged, seed=0)
    assert report.findings[0].hints and report.to_dict()["hints"] == report.findings[0].hints


def test_the_kernel_flip_is_not_also_called_a_reshape_mistake():
    report = gradcheck.check("conv", conv.ConvDxFlippedKernel, seed=0)
    assert not any("wrong places" in hint for f in report.findings for hint in f.hints)


CONFIG = Config.conv(batch=3, channels=2, filters=2, size=4, kernel=2)


def test_a_constant_ratio_is_named_only_when_it_holds_everywhere():
    expected = np.arange(1.0, 9.0).reshape(2, 2, 2, 1)
    assert diagnose._ratio_hints("dW", expected / 3, expected, CONFIG) == [
        "dW is the expected value divided by the batch size 3: the loss sums over the batch, so sum over "
        "samples instead of averaging"]
    off_by_one_element = expected / 3
    off_by_one_element[0, 0, 0, 0] *= 2
    assert diagnose._ratio_hints("dW", off_by_one_element, expected, CONFIG) == []
    assert diagnose._ratio_hints("dW", expected * 0.7, expected, CONFIG) == [
        "dW is 0.7 times the expected value at every element: a constant factor is wrong"]


def test_a_single_element_gets_no_generic_ratio():
    one = np.array([2.0])
    assert diagnose._ratio_hints("dB", one * 0.7, one, CONFIG) == []


def test_a_permutation_of_few_values_is_not_called_a_reshape_mistake():
    expected = np.array([[[[1.0, 2.0, 0.0]]]])
    assert diagnose._order_hints("dX", expected[..., ::-1], expected) == []
    many = np.arange(1.0, 7.0).reshape(1, 1, 2, 3)
    assert "wrong places" in diagnose._order_hints("dX", many[..., ::-1].copy(), many)[0]


def test_an_empty_dx_at_pad_0_is_the_pad_slice():
    config = Config.conv(batch=1, channels=2, filters=1, size=4, kernel=3, pad=0)
    assert "dx_pad[:, :, pad:pad + H, pad:pad + W]" in diagnose.shape_hints("dX", (1, 2, 0, 0), config)[0]
    assert diagnose.shape_hints("dX", (1, 2, 0, 0), config.replace(pad=1)) == []


def test_the_samples_a_gradient_is_right_for_are_counted():
    expected = np.arange(1.0, 17.0).reshape(4, 1, 2, 2)
    three = expected.copy()
    three[3] = 0
    assert diagnose._batch_hints("dX", three, expected) == [
        "dX is right for samples 0 to 2 only and wrong from sample 3 on: a batch size written into the code?"]
    gap = expected.copy()
    gap[1] = 0
    assert diagnose._batch_hints("dX", gap, expected) == []  # sample 2 is right again: not a prefix


def test_a_refusal_gets_no_gradient_hint_and_divisible_only_for_divisibility():
    assert diagnose.refusal_hints(["the kernel is not square"]) == []
    assert "--divisible" in diagnose.refusal_hints(["the stride does not divide the padded input"])[0]


def test_doubling_is_reported_only_for_an_exact_double():
    first = np.array([1.0, -2.0, 3.0])
    assert diagnose.repeat_hints("dW", first, 2 * first)
    assert diagnose.repeat_hints("dW", first, 2 * first + 1e-3) == []


# -- causes, not symptoms (issue 16) ----------------------------------------------------------------------------------


def reference(config, inputs, W=None):
    """forward, dX and dW of the reference layer, with another W if given."""
    params = dict(inputs.params, W=inputs.params["W"] if W is None else W)
    layer = config.reference_layer(params)
    return layer.forward(inputs.x), layer.backward(inputs.dout), layer.dW


def probe_of(cls, config, inputs):
    return diagnose.Probe(implementation_of(cls, "conv"), config, inputs)


SQUARE = Config.conv(batch=1, channels=2, filters=2, size=5, kernel=3)


def test_a_kernel_flipped_on_one_axis_is_named_as_such_on_3x3():
    inputs = make_inputs(SQUARE, 0)
    W = inputs.params["W"]
    rows, _, _ = reference(SQUARE, inputs, W[:, :, ::-1, :].copy())
    rotated, _, _ = reference(SQUARE, inputs, W[:, :, ::-1, ::-1].copy())
    expected, _, _ = reference(SQUARE, inputs)
    assert "flipped upside down (its rows reversed)" in diagnose.forward_hints(rows, expected, SQUARE, inputs)[0]
    assert "rotated by 180 degrees" in diagnose.forward_hints(rotated, expected, SQUARE, inputs)[0]


def test_on_a_1xk_kernel_the_flip_is_measured_again_where_flips_differ():
    """On 1x3 a column flip is the 180-degree rotation: the layer is run on 2x3, where they differ."""
    config = SQUARE.replace(kernel=(1, 3))
    inputs = make_inputs(config, 0)
    expected, _, _ = reference(config, inputs)
    columns = standalone.conv_loops(inputs.x, inputs.params["W"][:, :, :, ::-1], inputs.params["b"], 1)
    probe = diagnose.Probe(implementation_of(causes.conv_forward_columns_flipped, "conv"), config, inputs)
    (hint,) = diagnose.forward_hints(columns, expected, config, inputs, probe)
    assert "flipped left to right" in hint and "(measured on a 2x3 kernel, where flips differ)" in hint
    assert "rotated" not in hint
    (unmeasured,) = diagnose.forward_hints(columns, expected, config, inputs)  # no layer to run again: both named
    assert "flipped left to right (its columns reversed), which on this 1x3 kernel is also its rotation" in unmeasured


def test_a_max_pool_that_averages_is_named_against_the_average_pool():
    config = Config.pool("max", batch=1, channels=1, size=4, kernel=2)
    inputs = make_inputs(config, 0)
    average = config.replace(layer="avgpool").reference_layer({}).forward(inputs.x)
    maximum = config.reference_layer({}).forward(inputs.x)
    assert diagnose.forward_hints(average, maximum, config, inputs)[0].startswith("forward averages each window")
    assert not any("averages" in hint for hint in diagnose.forward_hints(maximum * 2, maximum, config, inputs))


def test_a_truncated_output_is_told_from_zeros_by_measuring_larger_arrays():
    config = Config.conv(batch=1, channels=1, filters=1, size=1, kernel=1)
    inputs = make_inputs(config, 0)
    expected, _, _ = reference(config, inputs)
    assert np.abs(expected).max() < 1  # cut to whole numbers it is 0: what a layer returning zeros gives too
    zeros = np.zeros_like(expected)
    assert diagnose.forward_hints(zeros, expected, config, inputs) == ["forward returns all zeros"]
    probe = probe_of(causes.ConvIntOutput, config, inputs)
    assert "forward is cut to whole numbers" in diagnose.forward_hints(zeros, expected, config, inputs, probe)[0]
    assert diagnose.forward_hints(zeros, expected, config, inputs, probe_of(causes.ConvForwardRowsFlipped, config,
                                                                             inputs)) == ["forward returns all zeros"]


def test_a_dx_of_zeros_is_said_to_be_zeros_and_not_a_cut_or_a_truncation_that_also_gives_zeros():
    """x of one element and pad 1: cut at rows 3:4 the padded gradient is 0, and so is dX from dout truncated
    where the one output that reaches x has |dout| < 1 (dout's other elements truncate to nonzero values); a
    backward that loses dX (the public layer this came from stopped its loop over windows early) is neither."""
    config = Config.conv(batch=1, channels=1, filters=1, size=1, kernel=1, pad=1)
    inputs = make_inputs(config, 0)
    _, expected, _ = reference(config, inputs)
    assert abs(inputs.dout[0, 0, 1, 1]) < 1 and np.trunc(inputs.dout).any()  # what made both coincide with 0
    result = CheckResult("dX", "fail", "differs", mismatches=np.ones(config.x_shape, bool))
    zeros = np.zeros_like(expected)
    assert diagnose.gradient_hints("dX", zeros, expected, result, config, inputs) == ["dX is all zeros"]


def test_a_gradient_with_a_pad_of_its_own_is_named_with_that_pad():
    config = Config.conv(batch=1, channels=1, filters=1, size=4, kernel=3, pad=0)
    inputs = make_inputs(config, 0)
    dx, dw, _ = causes.conv_backward_same_pad_backward(inputs.dout, (inputs.x, inputs.params["W"], None,
                                                                     {"stride": 1, "pad": 0}))
    result = CheckResult("dX", "fail", "differs", mismatches=np.ones(config.x_shape, bool))
    _, right_dx, right_dw = reference(config, inputs)
    (hint,) = diagnose._padding_hints(dx, result, config, inputs)
    assert hint.startswith("dX is what backward gives with pad 1 where forward pads with 0")
    assert other_pad_dw_hints(dw, config, inputs)[0].startswith(
        "dW is what backward gives with pad 1 where forward pads with 0")
    assert other_pad_dw_hints(right_dw * 2, config, inputs) == []


def test_the_floor_division_hint_needs_forward_s_shape_to_be_wrong():
    condition = ["the stride does not divide the padded input"]
    shape = CheckResult("forward", "fail", "shape", shapes=((1, 1, 2, 2), (1, 1, 1, 1)))
    assert "use floor division" in diagnose.trigger_hints(condition, ["forward"], [shape])[0]
    dx = [CheckResult("forward", "pass"), CheckResult("dX", "fail", "differs")]
    (hint,) = diagnose.trigger_hints(condition, ["dX"], dx)
    assert "floor division" not in hint and hint.startswith("forward's output shape is right here; dX is wrong")
    assert diagnose.trigger_hints(condition) == []  # nothing measured, nothing said


def test_the_empty_slice_hint_needs_an_empty_array():
    empty = CheckResult("dX", "fail", "shape", shapes=((1, 1, 0, 0), (1, 1, 1, 1)))
    assert diagnose.trigger_hints(["pad = 0"], ["dX"], [empty]) == [diagnose.EMPTY_SLICE_HINT]
    assert diagnose.trigger_hints(["pad = 0"], ["dX"], [CheckResult("dX", "fail", "differs")]) == []


def test_a_kernel_right_only_when_square_is_explained_by_the_kernel_forwards_shape_is_made_for():
    config = Config.conv(batch=1, channels=1, filters=1, size=(4, 6), kernel=(1, 3))  # out 4x4; 3x3: 2x4; 3x1: 2x6
    def made(out):
        return [CheckResult("forward", "fail", "shape", shapes=((1, 1) + out, config.out_shape))]
    assert "square 3x3 kernel, KW for both sides" in diagnose.trigger_hints(["the kernel is not square"], ["forward"],
                                                                            made((2, 4)), config)[0]
    assert "height and width are swapped" in diagnose.trigger_hints(["the kernel is not square"], ["forward"],
                                                                    made((2, 6)), config)[0]
    assert diagnose.trigger_hints(["the kernel is not square"], ["forward"], made((3, 3)), config) == [
        "the layer is right on square kernels only: somewhere KH and KW are not kept apart"]
    assert "swapped somewhere in backward" in diagnose.trigger_hints(["the kernel is not square"], ["dX"], [],
                                                                      config)[0]


def test_the_empty_slice_hint_is_for_an_empty_dx_at_pad_0_with_or_without_the_rule():
    config = Config.conv(batch=1, channels=1, filters=1, size=1, kernel=1)
    raised = CheckResult("dX", "fail", "raised", error={"type": "ValueError", "message": "could not broadcast input "
                                                        "array from shape (0,0,1) into shape (1,1,1)"})
    assert diagnose.trigger_hints([], ["dX"], [raised], config) == [diagnose.EMPTY_SLICE_HINT]
    empty_forward = CheckResult("forward", "fail", "shape", shapes=((1, 1, 0, 1), (1, 1, 1, 1)))
    assert diagnose.trigger_hints([], ["forward"], [empty_forward], config) == []
    assert diagnose.trigger_hints([], ["dX"], [raised], config.replace(pad=1)) == []


def test_float_of_an_array_is_explained_with_the_line_and_the_fix():
    try:
        float(np.array([1.0]))
    except TypeError as error:
        message = str(error)
    error = {"stage": "forward", "type": "TypeError", "message": message, "location": "layer.py:7: float(b)"}
    (hint,) = diagnose.error_hints(error)
    assert f"NumPy ({np.__version__}" in hint and "(at layer.py:7: float(b))" in hint and ".item()" in hint
    assert diagnose.error_hints(dict(error, message="unsupported operand")) == []


def test_a_read_past_x_is_measured_in_process_and_skipped_for_copies():
    config = Config.conv(batch=1, channels=1, filters=1, size=4, kernel=3, pad=1)
    inputs = make_inputs(config, 0)
    assert probe_of(standalone.ConvStridedUnpadded, config, inputs).reads_past_x()
    assert not probe_of(standalone.ConvLoops, config, inputs).reads_past_x()

    implementation = implementation_of(standalone.ConvStridedUnpadded, "conv")
    make = implementation.make_subject

    def copies(config, params):  # as the grading sandbox's subjects are: arrays arrive as copies
        subject = make(config, params)
        subject.takes_views = False
        return subject
    implementation.make_subject = copies
    assert not diagnose.Probe(implementation, config, inputs).reads_past_x()


def test_a_rules_hint_that_a_measured_hint_already_says_is_left_out():
    """"Windows overlap" tells to add (+=) rather than overwrite (=): said once when dX was measured to be the
    overwriting one."""
    overlap = ["pooling windows overlap"]
    assert diagnose.trigger_hints(overlap) == [diagnose.TRIGGER_HINTS["pooling windows overlap"]]
    assert diagnose.trigger_hints(overlap, measured=[diagnose.OVERWRITTEN_HINT]) == []
