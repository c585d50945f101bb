"""Gradient checks as assertions, for users' own test suites.

    from gradcheck.testing import assert_conv_gradients

    def test_my_conv():
        assert_conv_gradients(MyConv2d, stride=2)          # fuzz the rest
        assert_conv_gradients(MyConv2d, config=Config.conv(batch=2, channels=3, filters=4,
                                                           size=6, kernel=3, stride=2, pad=1))

    def test_my_affine():                                  # any pair, by finite differences alone
        assert_function_gradients(affine_forward, affine_backward, {"x": "N,D", "w": "D,M", "b": "M"})

On failure the AssertionError reads like numpy.testing's: the failing checks,
mismatched count, max absolute and relative differences, the worst element
with expected and actual values, the smallest failing configuration, trigger
facts, hints and a command that reproduces it.
"""
import io

from .api import check
from .generic import check_function
from .report import failure_text, make_console, render_function_text


def assert_gradients(layer, impl, **options):
    """Check ``impl`` for ``layer`` ("conv", "maxpool", "avgpool"); raise AssertionError on any failure.

    ``options`` are those of ``gradcheck.check`` (pins, examples, seed, fast,
    config for one deterministic check, convention).  Returns the Report.
    """
    __tracebackhide__ = True
    report = check(layer, impl, **options)
    if not report.passed:
        raise AssertionError(failure_text(report))
    return report


def assert_conv_gradients(impl, **options):
    """``assert_gradients("conv", impl, **options)``."""
    __tracebackhide__ = True
    return assert_gradients("conv", impl, **options)


def assert_maxpool_gradients(impl, **options):
    """``assert_gradients("maxpool", impl, **options)``."""
    __tracebackhide__ = True
    return assert_gradients("maxpool", impl, **options)


def assert_avgpool_gradients(impl, **options):
    """``assert_gradients("avgpool", impl, **options)``."""
    __tracebackhide__ = True
    return assert_gradients("avgpool", impl, **options)


def assert_function_gradients(forward, backward=None, shapes=None, dims=None, **options):
    """``gradcheck.check_function(forward, backward, shapes, dims, **options)``; AssertionError with the
    report's text on any failure.  Returns the FunctionReport."""
    __tracebackhide__ = True
    report = check_function(forward, backward, shapes, dims, **options)
    if not report.passed:
        text = io.StringIO()
        render_function_text(report, make_console(text))
        raise AssertionError(text.getvalue())
    return report
