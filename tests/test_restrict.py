"""A layer written for part of the space: checked where it accepts when its refusals follow rules, and said so in
every format; a failure there is still a failure; --strict, grading and a refusal no rule covers fail as before.

The layers are ours, in the styles public code refuses in (tests/mutants/standalone.py: an assert of a square
kernel, a constructor raising for a stride other than 1, a cs231n pair raising NotImplementedError for padding,
cs231n's fast layer asserting that the stride divides the input, a constructor asserting a valid convolution with
stride 1); tests/test_mutants.py sweeps them on more seeds.
"""
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

import gradcheck
from gradcheck import report as render
from gradcheck.api import Report
from gradcheck.cli import main
from gradcheck.config import Config
from gradcheck.fuzz import REFUSAL, Space, run_search
from gradcheck.adapters import implementation_of
from gradcheck.grading.grade import grade
from gradcheck.grading.sandbox import sandbox_problem
from gradcheck.restrict import accepted_space
from gradcheck.testing import assert_conv_gradients
from mutants import standalone

pytestmark = pytest.mark.slow  # a restricted search costs seconds: the slow suite runs them all

STANDALONE = Path(__file__).parent / "mutants" / "standalone.py"
SPEC = f"{STANDALONE}:ConvSquareKernels"
SQUARE_ASSERT = next(number for number, line in enumerate(STANDALONE.read_text().splitlines(), 1)
                     if line.strip() == 'assert FH == FW, "square kernels only"')  # ConvSquareKernels' own line
REFUSED_HERE = "the layer refuses x (1, 1, 1, 2), W (1, 1, 1, 2), kernel 1x2, stride 1, pad 0 (AssertionError: " \
               "square kernels only, at "

_reports = {}


def check(layer, impl, **options):
    key = (layer, impl, tuple(sorted(options.items())))
    if key not in _reports:
        _reports[key] = gradcheck.check(layer, impl, seed=0, **options)
    return _reports[key]


def cli(*args):
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def one_line(text):
    return " ".join(text.split())


# -- the command line -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_square_kernel_layer_passes_restricted_through_the_cli_and_says_so():
    code, out, err = cli("conv", "--impl", SPEC, "--seed", "0")
    assert code == 0, out + err
    assert re.fullmatch(r"PASSED only with a square kernel · \d+ configurations, seed 0, float64", out.splitlines()[1])
    assert f"refused: {REFUSED_HERE}" in one_line(out)
    assert f"standalone.py:{SQUARE_ASSERT}: assert FH == FW" in one_line(out)
    assert ("refuses only when the kernel is not square (accepted with a square kernel, all else equal; "
            "no refusal in") in one_line(out)
    assert "Finding" not in out


@pytest.mark.slow
def test_strict_fails_it_with_the_refusal_as_its_finding():
    code, out, _ = cli("conv", "--impl", SPEC, "--seed", "0", "--strict")
    assert code == 1
    assert re.search(r"FAILED: 1 of 8 checks · \d+ configurations", out) and "only with" not in out
    assert "Finding 1: forward refused by the layer" in out


@pytest.mark.slow
def test_the_restriction_is_in_the_json_and_the_junit_report(tmp_path):
    code, out, _ = cli("conv", "--impl", SPEC, "--seed", "0", "--examples", "10", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["passed"] is True and data["config"]["strict"] is False
    restriction = data["restriction"]
    assert restriction["accepted"] == ["a square kernel"] and restriction["text"] == "only with a square kernel"
    (refusal,) = restriction["refusals"]
    assert refusal["kind"] == "refusal" and refusal["config"]["kernel"] == [1, 2]
    assert data["findings"] == []
    code, out, _ = cli("conv", "--impl", SPEC, "--seed", "0", "--examples", "10", "--format", "junit")
    properties = {p.get("name"): p.get("value") for p in ET.fromstring(out.encode()).iter("property")}
    assert code == 0 and properties["restriction"].startswith(f"only with a square kernel: {REFUSED_HERE}")
    assert json.loads(cli("conv", "--impl", SPEC, "--seed", "0", "--examples", "10", "--strict", "--format",
                          "json")[1])["restriction"] is None


def test_strict_is_in_the_command_that_repeats_the_run_not_in_one_that_checks_one_configuration():
    rep = check("conv", standalone.ConvStrideOne, examples=10, strict=True)
    assert rep.reproduce.endswith("--strict --seed 0") and "--examples 10" in rep.reproduce
    assert rep.findings[0].kind == "refusal" and "--strict" not in rep.findings[0].reproduce  # never narrowed


# -- the Python API -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer,impl,accepted", [
    ("conv", standalone.ConvStrideOne, ["stride 1"]),
    ("conv", standalone.conv_forward_no_pad, ["pad 0"]),
    ("conv", standalone.conv_forward_strides, ["an input the stride divides"]),
])
@pytest.mark.slow
def test_layers_refusing_in_each_style_pass_where_they_accept(layer, impl, accepted):
    rep = check(layer, impl, examples=10)
    assert rep.passed and rep.restriction.accepted == accepted
    assert not rep.findings and all(result.status == "pass" for result in rep.checks)
    assert not check(layer, impl, examples=10, strict=True).passed


def test_the_restricted_run_draws_only_what_the_layer_accepts():
    rep = check("conv", standalone.ConvStrideOne, examples=10)
    assert rep.covered["stride"] == [[1, 1], [1, 1]]
    assert check("conv", standalone.conv_forward_no_pad, examples=10).covered["pad"] == [[0, 0], [0, 0]]


def test_two_refusals_give_two_restrictions():
    """A valid convolution with stride 1: refused for pad > 0 and for stride > 1, whichever is found first."""
    rep = check("conv", standalone.ConvValidStrideOne)
    assert rep.passed and set(rep.restriction.accepted) == {"pad 0", "stride 1"}
    assert rep.covered["pad"] == [[0, 0], [0, 0]] and rep.covered["stride"] == [[1, 1], [1, 1]]


@pytest.mark.slow
def test_a_refusal_that_follows_no_rule_still_fails():
    rep = check("conv", standalone.ConvRefusesAtRandom, examples=10)
    assert not rep.passed and rep.restriction is None
    assert {finding.kind for finding in rep.findings} == {REFUSAL}


@pytest.mark.slow
def test_a_bug_where_the_layer_accepts_fails_with_the_restriction_stated():
    rep = check("conv", standalone.ConvSquareKernelsDxBug, examples=10)
    assert not rep.passed and [r.name for r in rep.checks if r.status == "fail"] == ["dX"]
    assert rep.restriction.accepted == ["a square kernel"]
    (finding,) = rep.findings
    assert finding.kind == "failure" and finding.config.kernel[0] == finding.config.kernel[1]
    out = render.failure_text(rep)
    assert "Checked only with a square kernel, where the layer accepts:" in out
    assert one_line(f"The{REFUSED_HERE[3:]}") in one_line(out)


@pytest.mark.slow
def test_the_report_keeps_its_restriction_through_json():
    rep = check("conv", standalone.ConvSquareKernelsDxBug, examples=10)
    again = Report.from_dict(json.loads(render.to_json(rep)))
    assert again.restriction.accepted == rep.restriction.accepted
    assert again.restriction.statements() == rep.restriction.statements()


@pytest.mark.slow
def test_the_testing_helpers_pass_a_restricted_layer_and_return_its_report():
    rep = assert_conv_gradients(standalone.ConvStrideOne, seed=0, examples=10)
    assert rep.restriction.accepted == ["stride 1"]


# -- what is narrowed, and when -------------------------------------------------------------------------------
def finding_at(kind, config, rules=(), scope=()):
    finding = gradcheck.fuzz.Finding("", config, 0, [], kind=kind, scope=tuple(scope))
    finding.rules = list(rules)
    return finding


SQUARE = Config.conv(batch=1, channels=1, filters=1, size=4, kernel=2)
NOT_SQUARE = Config.conv(batch=1, channels=1, filters=1, size=4, kernel=(1, 2))


def test_the_accepted_space_is_narrowed_by_every_rule_and_scope():
    space = Space("conv", {}, per_axis=False)
    accepted = accepted_space(space, [finding_at("refusal", NOT_SQUARE, ["the kernel is not square"], ["pad 0"])])
    assert accepted.pins == {"pad": 0} and accepted.restrict == {"square": ("kernel",)}
    assert accepted.contains(SQUARE) and not accepted.contains(NOT_SQUARE)


@pytest.mark.parametrize("findings", [
    [],  # nothing refused
    [finding_at("refusal", NOT_SQUARE)],  # a refusal no rule covers
    [finding_at("refusal", NOT_SQUARE, ["the kernel is not square"]), finding_at("refusal", SQUARE)],
    [finding_at("refusal", NOT_SQUARE, ["the kernel is not square"]), finding_at("failure", NOT_SQUARE)],
], ids=["no refusal", "no rule", "a refusal left inside", "a failure left outside"])
def test_no_narrowing_that_would_hide_a_refusal_or_a_failure(findings):
    assert accepted_space(Space("conv", {}, per_axis=False), findings) is None


def test_a_narrowing_the_pins_leave_no_room_for_is_none():
    space = Space("conv", {"kernel": (1, 2)}, per_axis=False)
    assert accepted_space(space, [finding_at("refusal", NOT_SQUARE, ["the kernel is not square"])]) is None


@pytest.mark.slow
def test_a_failure_carried_into_a_search_is_checked_whatever_the_search_draws():
    """The restricted run checks the first run's failures again first: even a search of one example meets it."""
    implementation = implementation_of(standalone.ConvSquareKernelsDxBug, "conv")
    failing = (Config.conv(batch=1, channels=1, filters=1, size=(1, 3), kernel=1, stride=2), 0)
    space = Space("conv", {"dilation": 1}, per_axis=False, restrict={"square": ("kernel",)})
    search = run_search("conv", {"": implementation}, space, examples=1, carry=[failing])
    assert [f.names for f in search.findings] == [["dX"]]


# -- pools ----------------------------------------------------------------------------------------------------
def test_a_pinned_pool_kernel_leaves_the_stride_free():
    rep = check("maxpool", None, kernel=2, examples=10)
    assert "stride" not in rep.options["pinned"]
    assert rep.covered["kernel"] == [[2, 2], [2, 2]] and rep.covered["stride"] != [[2, 2], [2, 2]]


def test_a_square_only_pool_passes_restricted_without_pins():
    rep = check("maxpool", "examples/dive_style.py:make_pool")
    assert rep.passed and rep.restriction.accepted == ["a square kernel"]


# -- the pytest plugin ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_plugin_passes_a_restricted_layer_unless_strict(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(stride_one=STANDALONE.read_text(), test_layers="""
        import pytest
        from stride_one import ConvStrideOne

        def test_default(gradcheck):
            report = gradcheck.assert_conv(ConvStrideOne, examples=10)
            assert report.restriction.accepted == ["stride 1"]

        @pytest.mark.gradcheck(strict=True)
        def test_strict_marker(gradcheck):
            gradcheck.assert_conv(ConvStrideOne, examples=10)
    """)
    result = pytester.runpytest("--gradcheck-seed", "0")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*The layer refuses configurations only where stride > 1*"])
    pytester.runpytest("--gradcheck-seed", "0", "--gradcheck-strict", "-k", "default").assert_outcomes(failed=1)


# -- grading: strict, under the real sandbox ------------------------------------------------------------------
needs_bwrap = pytest.mark.skipif(sandbox_problem() is not None, reason=f"no bwrap sandbox here: {sandbox_problem()}")


@needs_bwrap
@pytest.mark.slow
def test_grading_is_strict_unless_the_instructor_pins_the_geometry():
    result = grade([STANDALONE], "conv", "ConvSquareKernels", seed=0, examples=10, timeout=30, workers=1)
    (submission,) = result.submissions
    assert result.sandbox == "bwrap"
    # forward refused the non-square kernels, and every other check was not made there
    assert submission.score == 0 and all(check.status == "fail" for check in submission.checks)
    output = json.loads(render.grade_to_gradescope(submission, result))["output"]
    assert "Your code refuses some configurations on purpose (the layer refuses configurations only where the " \
           "kernel is not square" in output and "Grading is strict: no check can be made on a configuration your " \
           "code refuses, so every check fails." in output
    pinned = grade([STANDALONE], "conv", "ConvSquareKernels", seed=0, examples=10, timeout=30, workers=1, kernel=3)
    assert pinned.submissions[0].passed and pinned.submissions[0].score == 8
