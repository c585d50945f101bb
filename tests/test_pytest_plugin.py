"""The pytest plugin, through pytest's own pytester: fixture, marker, options and the CI profile."""
import subprocess
import sys
import textwrap

import pytest

from test_cli import STUDENT_CONV

CORRECT = "from reference_layers import Conv2d as Conv2d\n"


@pytest.fixture
def user_project(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(student=STUDENT_CONV, correct=CORRECT)
    return pytester


def test_plugin_import_loads_neither_numpy_nor_hypothesis():
    code = "import sys, gradcheck.pytest_plugin; print('numpy' in sys.modules, 'hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_passing_and_failing_user_tests(user_project):
    user_project.makepyfile(test_layers="""
        from correct import Conv2d as Correct
        from student import Conv2d as Student

        def test_correct(gradcheck):
            gradcheck.assert_conv(Correct, examples=5)

        def test_student(gradcheck):
            gradcheck.assert_conv(Student)
    """)
    result = user_project.runpytest("--gradcheck-seed", "3")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*Gradients not right: conv, *student.py:Conv2d (1 of 8 checks failed; seed 3, 3? configurations)*",
        "*dX: differs from the reference*",
        "*Mismatched elements: */*",
        "*Worst element*expected*actual*",
        "*Trigger: fails only when stride > 1*",
        "*Reproduce: gradcheck conv *--stride 2*",
    ])
    assert "gradcheck/testing.py" not in result.stdout.str()  # __tracebackhide__: the user's line is shown


def test_examples_option_and_marker_defaults(user_project):
    user_project.makepyfile(test_options="""
        import pytest
        from correct import Conv2d

        @pytest.mark.gradcheck(stride=2, pad=1)
        def test_marker(gradcheck):
            report = gradcheck.check("conv", Conv2d)
            assert report.options["pinned"]["stride"] == 2 and report.options["pinned"]["pad"] == 1
            assert report.examples >= 4 and report.seed == 9 and not report.classes["missed"]
    """)
    user_project.runpytest("--gradcheck-examples", "4", "--gradcheck-seed", "9").assert_outcomes(passed=1)


@pytest.mark.parametrize("ci,expected", [("true", "gradcheck-ci"), (None, "default")])
def test_ci_profile_is_selected_when_ci_is_set(pytester, monkeypatch, ci, expected):
    if ci:
        monkeypatch.setenv("CI", ci)
    else:
        monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(test_profile=f"""
        from hypothesis import settings

        def test_profile():
            assert settings._current_profile == {expected!r}
            assert settings().derandomize is {expected == 'gradcheck-ci'}
    """)
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_an_explicit_hypothesis_profile_wins_over_ci(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    pytester.makeconftest(textwrap.dedent("""
        from hypothesis import settings
        settings.register_profile("mine", max_examples=7)
    """))
    pytester.makepyfile(test_profile="""
        from hypothesis import settings

        def test_profile():
            assert settings().max_examples == 7
    """)
    pytester.runpytest_subprocess("--hypothesis-profile", "mine").assert_outcomes(passed=1)
