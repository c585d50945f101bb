"""Hints name the mistake a mutant really makes, and only when a measurement backs them."""
import numpy as np

import gradcheck
from gradcheck import diagnose
from gradcheck.config import Config
from mutants import conv


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
