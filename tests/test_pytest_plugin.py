"""The pytest plugin, through pytest's own pytester: fixture, marker, options and the CI profile."""
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from test_cli import STUDENT_CONV

CORRECT = "from reference_layers import Conv2d as Conv2d\n"
EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.fixture
def user_project(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(student=STUDENT_CONV, correct=CORRECT)
    return pytester


@pytest.fixture
def layers_project(pytester, monkeypatch):
    """The examples' DLFS layers (user_layers) and cs231n functions, right (right_functions) and wrong
    (wrong_functions), in the user's folder."""
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(user_layers=(EXAMPLES / "dlfs_layers.py").read_text(),
                        right_functions=(EXAMPLES / "affine_relu.py").read_text(),
                        wrong_functions=(EXAMPLES / "wrong_affine_relu.py").read_text())
    return pytester


LAYER_TESTS = """
    from user_layers import Affine, SigmoidFromInput
    import right_functions, wrong_functions

    AFFINE = {"x": "N,D", "w": "D,M", "b": "M"}

    def test_right_kind(gradcheck):
        gradcheck.assert_kind("affine", Affine)

    def test_wrong_kind(gradcheck):
        gradcheck.assert_kind("sigmoid", SigmoidFromInput)

    def test_right_function(gradcheck):
        gradcheck.assert_function(right_functions.affine_forward, shapes=AFFINE)

    def test_wrong_function(gradcheck):
        gradcheck.assert_function(wrong_functions.affine_forward, shapes=AFFINE)
"""


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


def test_catalogue_kinds_and_functions_pass_and_fail(layers_project):
    layers_project.makepyfile(test_layers=LAYER_TESTS)
    result = layers_project.runpytest("--gradcheck-seed", "0")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([
        "*_ test_wrong_kind _*",
        "*AssertionError: gradcheck sigmoid · user_layers.py:SigmoidFromInput",
        "*FAILED: 1 of 4 checks · * configurations, seed 0, float64, against its reference",
        "*dx * FAIL *",
        "*Finding 1: dx fails",
        "*hint: dx is dout * x * (1 - x): the derivative is out * (1 - out)*",
        "*reproduce: gradcheck sigmoid --impl user_layers.py:SigmoidFromInput --dim D=* --dim N=* --seed 0",
        "*_ test_wrong_function _*",
        "*AssertionError: gradcheck fn · wrong_functions.py:affine_forward",
        "*FAILED: 1 of 6 checks · * configurations, seed 0, float64, against finite differences alone",
        "*db * FAIL *",
        "*Finding 1: db fails",
        "*fails only when N > 1*",
        "*reproduce: gradcheck fn --impl wrong_functions.py:affine_forward --shape x=N,D --shape w=D,M "
        "--shape b=M --dim D=* --dim M=* --dim N=* --seed 0",
    ])
    assert "gradcheck/testing.py" not in result.stdout.str()  # __tracebackhide__: the user's line is shown


def test_defaults_reach_kinds_and_functions_and_conv_options_are_left_to_conv(layers_project):
    layers_project.makepyfile(test_defaults="""
        import pytest
        from user_layers import Affine
        from right_functions import affine_forward

        pytestmark = pytest.mark.gradcheck(stride=2, examples=3)  # a module's: stride is conv's, left out here

        @pytest.mark.gradcheck(dims={"N": 2})
        def test_kind(gradcheck):
            report = gradcheck.assert_kind("affine", Affine)
            assert report.seed == 7 and report.examples <= 4 and report.signature.bounds["N"] == (2, 2)
            assert report.reproduce.endswith("--dim N=2 --seed 7")

        @pytest.mark.gradcheck(dims={"N": 2})
        def test_function(gradcheck):
            report = gradcheck.assert_function(affine_forward, shapes={"x": "N,D", "w": "D,M", "b": "M"},
                                               dims={"D": 3})
            assert report.seed == 7 and report.examples <= 4
            assert report.signature.bounds["D"] == (3, 3) and report.signature.bounds["N"] == (1, 4)

        def test_an_option_given_is_the_checks_to_take(gradcheck):
            with pytest.raises(TypeError, match="unexpected keyword argument 'stride'"):
                gradcheck.assert_kind("affine", Affine, stride=2)

        @pytest.mark.gradcheck(exmaples=3)
        def test_an_option_of_no_check(gradcheck):
            pass
    """)
    result = layers_project.runpytest("--gradcheck-seed", "7", "--gradcheck-strict")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*TypeError: no gradcheck check takes the option 'exmaples'; they take *"])


def test_an_unknown_kind_and_a_layer_given_by_its_file_are_refused():
    from gradcheck.testing import assert_kind_gradients
    with pytest.raises(ValueError, match=r"kind must be one of affine, .*softmax_loss, .*got 'conv'; conv is "
                                         r"checked with assert_gradients\('conv', impl\)"):
        assert_kind_gradients("conv", object)
    with pytest.raises(TypeError, match="must be a class or a function, got 'layers.py:Affine' "
                                        r"\(a FILE:NAME is for the command line and assert_gradients\)"):
        assert_kind_gradients("affine", "layers.py:Affine")


@pytest.mark.slow
def test_the_reproduce_commands_of_the_failures_reproduce_them(layers_project):
    layers_project.makepyfile(test_layers=LAYER_TESTS)
    result = layers_project.runpytest("--gradcheck-seed", "0", "-k", "wrong")
    commands = [line.split("reproduce: ", 1)[1] for line in result.outlines if "reproduce: gradcheck" in line]
    assert len(commands) == 2
    for command, finding in zip(commands, ["Finding 1: dx fails", "Finding 1: db fails"]):
        run = subprocess.run([sys.executable, "-m", "gradcheck", *shlex.split(command)[1:]],
                             cwd=layers_project.path, capture_output=True, text=True)
        assert run.returncode == 1 and finding in run.stdout, run.stdout + run.stderr


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
