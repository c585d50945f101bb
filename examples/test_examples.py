"""The example layers, checked with the gradcheck pytest plugin: every style passes (channels-last ones with no
option: their layout is found by a probe), the wrong one fails; beyond conv and pooling, a layer of the catalogue
against its reference and a pair of functions by finite differences alone."""
from pathlib import Path

import pytest

import affine_relu
import channels_last_style
import cs231n_style
import deeplearning_ai_style
import dive_style
import dlfs_layers
import no_cache
import own_weights
import reference_style
import wrong_conv
from split.conv_forward import conv_forward

PROJECT = Path(__file__).parent / "project"


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


def test_dive_maxpool(gradcheck):
    report = gradcheck.assert_maxpool(dive_style.make_pool)  # it refuses pools that are not square, so it is
    assert report.restriction.accepted == ["a square kernel"]  # checked where it accepts: square pools


def test_deeplearning_ai_conv(gradcheck):
    gradcheck.assert_conv(deeplearning_ai_style.conv_forward)


def test_deeplearning_ai_maxpool(gradcheck):
    gradcheck.assert_maxpool(deeplearning_ai_style.pool_forward)


def test_deeplearning_ai_avgpool(gradcheck):
    gradcheck.assert_avgpool(deeplearning_ai_style.pool_forward)


def test_channels_last_conv(gradcheck):
    report = gradcheck.assert_conv(channels_last_style.Conv2D)
    assert report.layout.name == "nhwc"  # found by a probe: no option given


def test_channels_last_maxpool(gradcheck):
    gradcheck.assert_maxpool(channels_last_style.MaxPool2D)


def test_split_files_conv(gradcheck):  # its backward is in split/conv_backward.py
    gradcheck.assert_conv(conv_forward)


def test_backward_without_a_cache(gradcheck):
    gradcheck.assert_conv(no_cache.conv_forward_windows)
    gradcheck.assert_maxpool(no_cache.max_pool_forward_windows)


def test_layers_making_their_own_weights(gradcheck):
    gradcheck.assert_conv(own_weights.ConvParams)
    gradcheck.assert_conv(own_weights.ConvSGD)


def test_a_package_with_relative_imports(gradcheck):
    gradcheck.assert_conv(f"{PROJECT / 'cnn' / 'conv.py'}:Conv")


def test_a_layer_importing_the_package_from_the_project_folder(gradcheck, monkeypatch):
    monkeypatch.chdir(PROJECT)  # where its author runs it
    gradcheck.assert_maxpool("nets/layers.py:Pooling")


def test_dlfs_softmax_with_loss(gradcheck):  # the book's loss against the catalogue's reference of its kind
    gradcheck.assert_kind("softmax_loss", dlfs_layers.SoftmaxWithLoss)


def test_cs231n_affine_by_finite_differences(gradcheck):  # any pair: its shapes declared, no reference
    gradcheck.assert_function(affine_relu.affine_forward, shapes={"x": "N,D", "w": "D,M", "b": "M"})


@pytest.mark.xfail(raises=AssertionError, strict=True, reason="wrong_conv.py forgets the stride in backward")
def test_wrong_conv_fails(gradcheck):
    gradcheck.assert_conv(wrong_conv.Conv2d)
