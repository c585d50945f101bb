"""pytest plugin: a ``gradcheck`` fixture and marker, options, and a CI settings profile for Hypothesis.

Registered through the ``pytest11`` entry point; importing it loads neither
numpy nor Hypothesis (that happens on first use).

    @pytest.mark.gradcheck(stride=2)                   # default options for this test
    def test_conv(gradcheck):
        gradcheck.assert_conv(MyConv2d)                # fails with numpy.testing-style messages

    def test_layers(gradcheck):
        gradcheck.assert_kind("softmax_loss", SoftmaxWithLoss)       # against the catalogue's reference
        gradcheck.assert_function(relu_forward, shapes={"x": "N,D"})  # by finite differences alone

Options: ``--gradcheck-examples N`` and ``--gradcheck-seed N`` override every
check's budget and seed; ``--gradcheck-strict`` makes every conv and pooling
check strict (a configuration the layer refuses fails, even when its refusals
follow rules; ``fn`` and catalogue checks always fail there).  The marker's
options and these are defaults: each check takes those it has (examples and
seed reach every one, strict and the conv and pooling pins only those
checks, dims only ``fn`` and catalogue checks), since a marker on a module
or class covers tests of every kind; an option no check has is an error.
When the CI environment variable is set and no other Hypothesis profile was
chosen, the "gradcheck-ci" profile (derandomized, no deadline, no example
database) is loaded for the whole session.
"""
import inspect
import os

import pytest

CI_PROFILE = "gradcheck-ci"


def pytest_addoption(parser):
    group = parser.getgroup("gradcheck")
    group.addoption("--gradcheck-examples", type=int, default=None, metavar="N",
                    help="configurations each gradcheck check tries (default: gradcheck's own, 30)")
    group.addoption("--gradcheck-seed", type=int, default=None, metavar="N",
                    help="seed for every gradcheck check (default: 0 under CI, else random)")
    group.addoption("--gradcheck-strict", action="store_true", default=None,
                    help="fail every conv and pooling check on a configuration the layer refuses (default: check a "
                         "layer whose refusals follow rules where it accepts; fn and catalogue checks always fail "
                         "there)")


def pytest_configure(config):
    config.addinivalue_line("markers", "gradcheck(**options): default options for the gradcheck fixture's checks")
    if os.environ.get("CI") and not config.getoption("hypothesis_profile", default=None):
        from hypothesis import settings

        settings.register_profile(CI_PROFILE, derandomize=True, deadline=None, database=None)
        settings.load_profile(CI_PROFILE)


class GradcheckFixture:
    """Gradient assertions with the test's defaults (the marker's options, the command line's) applied: each
    check takes the defaults it has an option for, and its own arguments over them."""

    def __init__(self, defaults):
        from .api import check_options
        from .testing import assert_function_gradients, assert_kind_gradients
        self.options = {"layer": check_options(), "function": _parameters(assert_function_gradients)[1:],
                        "kind": _parameters(assert_kind_gradients)[2:]}
        unknown = sorted(set(defaults).difference(*self.options.values()))
        if unknown:
            raise TypeError(f"no gradcheck check takes the option {unknown[0]!r}; they take "
                            f"{', '.join(sorted(set().union(*self.options.values())))}")
        self.defaults = defaults

    def check(self, layer, impl, **options):
        """gradcheck.check with the defaults; returns the Report without asserting."""
        from .api import check
        return check(layer, impl, **self._with_defaults("layer", options))

    def assert_gradients(self, layer, impl, **options):
        __tracebackhide__ = True
        from .testing import assert_gradients
        return assert_gradients(layer, impl, **self._with_defaults("layer", options))

    def assert_conv(self, impl, **options):
        __tracebackhide__ = True
        return self.assert_gradients("conv", impl, **options)

    def assert_maxpool(self, impl, **options):
        __tracebackhide__ = True
        return self.assert_gradients("maxpool", impl, **options)

    def assert_avgpool(self, impl, **options):
        __tracebackhide__ = True
        return self.assert_gradients("avgpool", impl, **options)

    def assert_function(self, forward, backward=None, shapes=None, dims=None, **options):
        """gradcheck.testing.assert_function_gradients with the defaults; an argument left None takes them."""
        __tracebackhide__ = True
        from .testing import assert_function_gradients
        given = {name: value for name, value in (("backward", backward), ("shapes", shapes), ("dims", dims))
                 if value is not None}
        return assert_function_gradients(forward, **self._with_defaults("function", {**given, **options}))

    def assert_kind(self, kind, impl, **options):
        """gradcheck.testing.assert_kind_gradients with the defaults."""
        __tracebackhide__ = True
        from .testing import assert_kind_gradients
        return assert_kind_gradients(kind, impl, **self._with_defaults("kind", options))

    def _with_defaults(self, check, options):
        """``options`` over the defaults that ``check`` ("layer", "function" or "kind") has an option for."""
        taken = {name: value for name, value in self.defaults.items() if name in self.options[check]}
        return {**taken, **options}


def _parameters(function):
    """The names of ``function``'s parameters, in order."""
    return list(inspect.signature(function).parameters)


@pytest.fixture
def gradcheck(request):
    """Assert gradients in a test: gradcheck.assert_conv(MyConv2d, stride=2)."""
    defaults = {}
    for marker in reversed(list(request.node.iter_markers("gradcheck"))):
        defaults.update(marker.kwargs)
    for option, name in (("--gradcheck-examples", "examples"), ("--gradcheck-seed", "seed"),
                         ("--gradcheck-strict", "strict")):
        value = request.config.getoption(option)
        if value is not None:
            defaults[name] = value
    return GradcheckFixture(defaults)
