"""pytest plugin: a ``gradcheck`` fixture and marker, options, and a CI settings profile for Hypothesis.

Registered through the ``pytest11`` entry point; importing it loads neither
numpy nor Hypothesis (that happens on first use).

    @pytest.mark.gradcheck(stride=2)                   # default options for this test
    def test_conv(gradcheck):
        gradcheck.assert_conv(MyConv2d)                # fails with numpy.testing-style messages

Options: ``--gradcheck-examples N`` and ``--gradcheck-seed N`` override every
check's budget and seed; ``--gradcheck-strict`` makes every check strict (a
configuration the layer refuses fails, even when its refusals follow rules).  When the CI environment variable is set and no
other Hypothesis profile was chosen, the "gradcheck-ci" profile (derandomized,
no deadline, no example database) is loaded for the whole session.
"""
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
                    help="fail every gradcheck check on a configuration the layer refuses (default: check a layer "
                         "whose refusals follow rules where it accepts)")


def pytest_configure(config):
    config.addinivalue_line("markers", "gradcheck(**options): default options for the gradcheck fixture's checks")
    if os.environ.get("CI") and not config.getoption("hypothesis_profile", default=None):
        from hypothesis import settings

        settings.register_profile(CI_PROFILE, derandomize=True, deadline=None, database=None)
        settings.load_profile(CI_PROFILE)


class GradcheckFixture:
    """Gradient assertions with the test's marker options and the command-line overrides applied."""

    def __init__(self, defaults):
        self.defaults = defaults

    def check(self, layer, impl, **options):
        """gradcheck.check with the defaults; returns the Report without asserting."""
        from .api import check
        return check(layer, impl, **{**self.defaults, **options})

    def assert_gradients(self, layer, impl, **options):
        __tracebackhide__ = True
        from .testing import assert_gradients
        return assert_gradients(layer, impl, **{**self.defaults, **options})

    def assert_conv(self, impl, **options):
        __tracebackhide__ = True
        return self.assert_gradients("conv", impl, **options)

    def assert_maxpool(self, impl, **options):
        __tracebackhide__ = True
        return self.assert_gradients("maxpool", impl, **options)

    def assert_avgpool(self, impl, **options):
        __tracebackhide__ = True
        return self.assert_gradients("avgpool", impl, **options)


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
