"""The example layers, checked with the gradcheck pytest plugin: every style passes, the wrong one fails."""
import pytest

import cs231n_style
import dive_style
import reference_style
import wrong_conv


def test_reference_style_conv(gradcheck):
    gradcheck.assert_conv(reference_style.Convolution)


def test_reference_style_maxpool(gradcheck):
    gradcheck.assert_maxpool(reference_style.Pooling)


def test_cs231n_conv(gradcheck):
    gradcheck.assert_conv(cs231n_style.conv_forward_naive)


def test_cs231n_maxpool(gradcheck):
    gradcheck.assert_maxpool(cs231n_style.max_pool_forward_naive)


def test_dive_conv(gradcheck):
    gradcheck.assert_conv(dive_style.make_conv)


@pytest.mark.gradcheck(kernel=2)  # square pools only: pin a square window, the rest is fuzzed
def test_dive_maxpool(gradcheck):
    gradcheck.assert_maxpool(dive_style.make_pool)


@pytest.mark.xfail(raises=AssertionError, strict=True, reason="wrong_conv.py forgets the stride in backward")
def test_wrong_conv_fails(gradcheck):
    gradcheck.assert_conv(wrong_conv.Conv2d)
