"""Hints name the mistake a mutant really makes, and only when a measurement backs them."""
import numpy as np
import pytest

import gradcheck
from gradcheck import diagnose
from gradcheck.config import Config
from mutants import conv, pool

# mutant -> (the check the hint belongs to, a phrase of the hint that names its cause)
KNOWN_CAUSES = {
    conv.ConvDxIgnoresStride: ("dX", "stepping through the input with the stride"),
    conv.ConvDxKeepsPadding: ("dX", "dX has the shape of the padded input"),
    conv.ConvDxUnpadWrongSide: ("dX", "stripped from the wrong side"),
    conv.ConvDxFlippedKernel: ("dX", "kernel rotated by 180 degrees"),
    conv.ConvForwardFlippedKernel: ("forward", "forward uses the kernel rotated by 180 degrees"),
    conv.ConvDbAveraged: ("dB", "divided by the batch size 2"),
    conv.ConvDWDividedByBatch: ("dW", "divided by the batch size 2"),
    conv.ConvDWReshapeNoTranspose: ("dW", "in the wrong places"),
    conv.ConvDxAssignNotAdd: ("dX", "must add up (+=)"),
    conv.ConvAccumulatesGrads: ("repeatable", "doubles on the second backward"),
    pool.MaxPoolAssignNotAdd: ("dX", "must add up (+=)"),
    pool.MaxPoolZeroPadDLfS: ("forward", "pads with zeros"),
    pool.MaxPoolDxKeepsPadding: ("dX", "dX has the shape of the padded input"),
    pool.AvgPoolNoDivide: ("dX", "the division by the pool area"),
    pool.AvgPoolCountExcludePad: ("forward", "number of unpadded elements"),
    pool.AvgPoolAccumulatesDx: ("repeatable", "doubles on the second backward"),
}
LAYERS = {m.cls: m for m in conv.MUTANTS + pool.MUTANTS}


@pytest.mark.parametrize("cls", KNOWN_CAUSES, ids=lambda cls: cls.__name__)
def test_hint_names_the_cause(cls):
    check, phrase = KNOWN_CAUSES[cls]
    mutant = LAYERS[cls]
    report = gradcheck.check(mutant.layer, cls, seed=0, **mutant.pins)
    finding = next(f for f in report.findings if check in f.names)
    assert any(phrase in hint for hint in finding.hints), finding.hints
    assert report.to_dict()["hints"] == report.findings[0].hints


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
