"""Gradient checks as assertions, for users' own test suites.

    from gradcheck.testing import assert_conv_gradients

    def test_my_conv():
        assert_conv_gradients(MyConv2d, stride=2)          # fuzz the rest
        assert_conv_gradients(MyConv2d, config=Config.conv(batch=2, channels=3, filters=4,
                                                           size=6, kernel=3, stride=2, pad=1))

    def test_my_affine():                                  # any pair, by finite differences alone
        assert_function_gradients(affine_forward, affine_backward, {"x": "N,D", "w": "D,M", "b": "M"})

    def test_my_softmax_loss():                            # a layer of the catalogue, against its reference
        assert_kind_gradients("softmax_loss", SoftmaxWithLoss)

On failure the AssertionError reads like numpy.testing's: the failing checks,
mismatched count, max absolute and relative differences, the worst element
with expected and actual values, the smallest failing configuration, trigger
facts, hints and a command that reproduces it (``--impl FILE:NAME``: the file
that defines the layer, relative to the current directory).
"""
import io

from .api import check
from .generic import check_function
from .kinds import Kind, catalogue, check_kind, windowed
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


def assert_function_gradients(forward, backward=None, shapes=None, dims=None, *, integers=None, booleans=(),
                              outputs=1, examples=None, seed=None):
    """``gradcheck.check_function(forward, backward, shapes, dims, ...)``: ``backward`` by finite differences of
    ``forward``; AssertionError with the report's text on any failure.  Returns the FunctionReport."""
    __tracebackhide__ = True
    _require_callable(forward)
    return _require_passed(check_function(forward, backward, shapes, dims, integers=integers, booleans=booleans,
                                          outputs=outputs, examples=examples, seed=seed))


def assert_kind_gradients(kind, impl, *, backward=None, dims=None, examples=None, seed=None):
    """``impl`` (a class or a cs231n forward function) against the reference of ``kind``, a name of
    ``gradcheck.kinds.catalogue()`` ("affine", "batchnorm", "softmax_loss", ...), as ``gradcheck KIND`` checks
    it; AssertionError with the report's text on any failure.  ``backward``: a forward function's, when its
    name does not find it; ``dims``: a symbol's value or range ({"N": range(1, 9)}).  Returns the
    FunctionReport."""
    __tracebackhide__ = True
    _require_callable(impl)
    return _require_passed(check_kind(_kind_named(kind), impl, backward=backward, dims=dims, examples=examples,
                                      seed=seed))


def _kind_named(name):
    """The catalogue's Kind called ``name``; ValueError naming the kinds."""
    kinds = {name: kind for name, kind in catalogue().items() if isinstance(kind, Kind)}
    if isinstance(name, str) and name in kinds:
        return kinds[name]
    elsewhere = f"; {name} is checked with assert_gradients({name!r}, impl)" if name in windowed() else ""
    raise ValueError(f"kind must be one of {', '.join(kinds)}, got {name!r}{elsewhere}")


def _require_callable(impl):
    """TypeError for a layer that is no class or function."""
    if not callable(impl):
        loaders = " (a FILE:NAME is for the command line and assert_gradients)" if isinstance(impl, str) else ""
        raise TypeError(f"the layer must be a class or a function, got {impl!r}{loaders}")


def _require_passed(report):
    """``report`` (a FunctionReport) when it passed; else AssertionError with its text."""
    __tracebackhide__ = True
    if not report.passed:
        text = io.StringIO()
        render_function_text(report, make_console(text))
        raise AssertionError(text.getvalue())
    return report
