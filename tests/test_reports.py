"""What a student reads, in every format (text, JSON, JUnit and, through grading, Gradescope): shapes reported as
shapes, refusals as refusals, rules only where they hold, a second bug in the same check, how the layer was
called, return values explained, and each hint once."""
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

import gradcheck
from gradcheck import report as render
from gradcheck.api import Report
from gradcheck.cli import main
from gradcheck.compare import CheckResult
from gradcheck.config import Config
from gradcheck.fuzz import Finding
from gradcheck.grading.grade import grade
from mutants import conv, styles

_reports = {}


def check(layer, impl, **options):
    key = (layer, impl, tuple(sorted(options.items())))
    if key not in _reports:
        _reports[key] = gradcheck.check(layer, impl, seed=0, **options)
    return _reports[key]


def text(rep):
    stream = io.StringIO()
    render.render_text(rep, render.make_console(stream))
    return stream.getvalue()


def junit_failures(rep):
    """check name -> the text of its <failure>."""
    cases = ET.fromstring(render.to_junit(rep).encode()).iter("testcase")
    return {case.get("name"): case.find("failure").text for case in cases if case.find("failure") is not None}


def row(out, name):
    return next(line for line in out.splitlines() if line.startswith(f"{name} "))


# -- shapes ---------------------------------------------------------------------------------------------------
@pytest.mark.slow  # seconds
def test_an_empty_dx_from_a_pad_slice_is_a_shape_with_its_trigger_and_the_fix_in_every_format():
    rep = check("conv", styles.conv_forward_unpad_slice)
    out = text(rep)
    assert "wrong shape" in row(out, "dX") and " of " not in row(out, "dX")
    assert "- fails only when pad = 0 (passes with pad 1, all else equal; no failure in a search of" in out
    assert out.count("dx_pad[:, :, pad:pad + H, pad:pad + W]") == 1  # one hint, printed once
    dx = next(c for c in json.loads(render.to_json(rep))["checks"] if c["name"] == "dX")
    assert dx["shape"] == {"actual": [1, 1, 0, 0], "expected": [1, 1, 1, 1]}
    assert (dx["mismatched"], dx["total"]) == (0, 0)
    failure = junit_failures(rep)["dX"]
    assert "dX has shape (1, 1, 0, 0), expected (1, 1, 1, 1)" in failure
    assert "fails only when pad = 0" in failure and "hint: with pad 0 a slice" in failure


# -- refusals -------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_refusal_is_reported_as_one_with_its_line_and_no_gradient_hint_in_every_format():
    rep = check("conv", styles.conv_forward_strides, strict=True)
    out = text(rep)
    assert "Finding 1: forward refused by the layer" in out
    assert "the layer refuses configurations only where the stride does not divide the padded input: AssertionError: " \
           in out.replace("\n  ", " ")
    assert "floor division" not in out and "indexing dout" not in out
    assert "--divisible" in out
    finding = json.loads(render.to_json(rep))["findings"][0]
    assert finding["kind"] == "refusal" and "standalone.py:" in finding["refusal"]
    assert finding["hints"] == [hint for hint in finding["hints"] if "--divisible" in hint]
    failure = junit_failures(rep)["forward"]
    assert failure.startswith("the layer refused this configuration: forward raised AssertionError")
    assert "the layer refuses configurations only where" in failure


@pytest.mark.slow  # seconds
def test_divisible_checks_such_a_layer_where_it_accepts_and_reproduces_with_divisible():
    rep = check("conv", styles.conv_forward_strides, divisible=True)
    assert rep.passed and rep.options["divisible"] is True
    assert "--divisible" in rep.reproduce


def test_divisible_refuses_a_pinned_configuration_it_does_not_divide():
    with pytest.raises(ValueError, match=r"with --divisible the stride \(2, 2\) must divide"):
        gradcheck.plan("conv", styles.conv_forward_strides, batch=1, channels=1, filters=1, size=4, kernel=1,
                       stride=2, pad=0, divisible=True)


# -- a second bug in the same check ---------------------------------------------------------------------------
@pytest.mark.slow
def test_a_second_bug_in_the_same_check_is_a_second_finding_in_every_format():
    rep = check("conv", styles.ConvDxTwoBugs)
    out = text(rep)
    findings = json.loads(render.to_json(rep))["findings"]
    assert [f["checks"] for f in findings] == [["dX"], ["dX"]] and len(findings[1]["scope"]) == 1
    scope = findings[1]["scope"][0]  # away from the first finding's fact: either bug can be found first
    other = {"batch 1": "filters > 1", "1 filter": "batch > 1"}[scope]
    assert out.count("Finding ") == 2 and f"Finding 2: dX fails with {scope}" in out
    assert f"at this configuration (all else equal), but fails on other configurations with {scope}" in \
        out.replace("\n    ", " ")
    assert f"- with {scope}, fails only when {other}" in out
    assert findings[0]["observations"] and not findings[0]["triggers"]
    assert junit_failures(rep)["dX"].count("reproduce: ") == 2


@pytest.mark.slow  # seconds
def test_a_false_fact_is_not_printed_as_a_rule():
    """The layer fails with 1 filter too (from batch 4 on): 'fails only when filters > 1' would be false."""
    rep = check("conv", styles.ConvDxTwoBugs)
    assert not any(fact.startswith("fails only when filters > 1") for f in rep.findings for fact in f.triggers)


@pytest.mark.slow
def test_a_dw_reshaped_without_its_transpose_is_not_said_to_pass_with_as_many_filters_as_channels():
    rep = check("conv", conv.ConvDWReshapeNoTranspose)
    facts = [fact for f in rep.findings for fact in f.triggers]
    assert not any("filters != channels" in fact for fact in facts)
    assert not gradcheck.check("conv", conv.ConvDWReshapeNoTranspose, channels=2, filters=2, seed=0).passed


@pytest.mark.slow  # seconds
def test_a_kernel_height_and_width_swap_is_not_called_a_hard_coded_3x3():
    rep = check("conv", styles.ConvCol2imKernelSwapped)
    facts = [fact for f in rep.findings for fact in f.triggers]
    assert any("the kernel is not square" in fact for fact in facts)
    assert not any("3x3" in fact for fact in facts)
    assert not any("hard-coded" in hint for f in rep.findings for hint in f.hints)


# -- how the layer was called, and what it returned -----------------------------------------------------------
def test_how_the_layer_was_called_is_in_the_text_and_the_json():
    rep = check("conv", styles.conv_forward, stride=2)
    note = "called as conv_forward(x, w, b, stride=stride, padding=pad) and conv_backward(dout, cache)"
    assert f"note: {note}" in text(rep)
    assert note in json.loads(render.to_json(rep))["checks"][0]["notes"]


@pytest.mark.parametrize("cls,name,message", [
    (styles.ConvForwardNone, "forward", "forward returned None: return the output array"),
    (styles.ConvBackwardNone, "dX", "backward returned None: return dx (dW and db are read from the layer)"),
])
def test_a_missing_return_is_said_in_every_format(cls, name, message):
    rep = check("conv", cls, examples=3)
    assert message in text(rep)
    assert json.loads(render.to_json(rep))["checks"][[c.name for c in rep.checks].index(name)]["message"] == message
    assert junit_failures(rep)[name].startswith(message)
    assert "raised TypeError" not in text(rep)


# -- each hint once -------------------------------------------------------------------------------------------
def test_a_finding_of_several_checks_is_printed_once_by_the_assertion_message():
    rep = check("conv", conv.ConvTrueConvolution)
    message = render.failure_text(rep)
    assert message.count("Finding 1 (forward, dX, dW):") == 1
    for hint in rep.findings[0].hints:
        assert message.count(hint) == 1


def test_a_hint_shared_by_two_findings_is_printed_once_in_every_format():
    config = Config.conv(batch=2, channels=1, filters=1, size=3, kernel=1)
    hint = "the batch axis is mishandled: a mean where the loss needs a sum, or only sample 0 used"
    findings = [Finding("", config.replace(batch=batch), 0, [CheckResult("dX", "fail", "differs")], hints=[hint],
                        reproduce="gradcheck") for batch in (2, 3)]
    rep = Report("conv", "layer.py:Conv", {}, [CheckResult("dX", "fail", "differs")], findings, 30, 0, "gradcheck")
    out = text(rep)
    assert out.count(hint) == 1 and "hint: as for finding 1" in out
    assert junit_failures(rep)["dX"].count(hint) == 1
    message = render.failure_text(rep)
    assert message.count(hint) == 1 and " Hint: as for finding 1" in message


# -- Gradescope, through grading in the sandbox ---------------------------------------------------------------
STANDALONE = Path(__file__).parent / "mutants" / "standalone.py"
GRADING = dict(seed=0, timeout=30, workers=2)


@pytest.fixture(scope="module")
def graded():
    """The cs231n fast-style layer graded as it is and with --divisible, the naive one with [pad:-pad], ...: six
    runs of the sandbox, so the tests using them are marked slow (.ci/run runs them)."""
    def one(name, **options):
        result = grade([STANDALONE], "conv", name, **GRADING, **options)
        return result.submissions[0], result

    return {"fast": one("conv_forward_strides"), "divisible": one("conv_forward_strides", divisible=True),
            "naive": one("conv_forward_unpad_slice"), "args": one("conv_forward"), "two bugs": one("ConvDxTwoBugs"),
            "no return": one("ConvForwardNone")}


def gradescope(graded, name):
    tests = json.loads(render.grade_to_gradescope(*graded[name]))["tests"]
    return {test["name"].split(":")[0]: test for test in tests}


@pytest.mark.slow
def test_gradescope_says_a_refusal_is_one_and_divisible_grades_the_layer_in_full(graded):
    tests = gradescope(graded, "fast")
    # its other checks were not made where it refused: none counts (a refusal must never pay)
    assert graded["fast"][0].score == 0 and {test["status"] for test in tests.values()} == {"failed"}
    assert tests["dX"]["output"].startswith("passed on ")
    output = tests["forward"]["output"]
    assert "the layer refuses configurations only where the stride does not divide the padded input" in output
    assert "--divisible" in output and "floor division" not in output
    assert graded["divisible"][0].passed and graded["divisible"][0].score == 8


@pytest.mark.slow
def test_gradescope_shows_a_wrong_shape_with_its_trigger_and_fix(graded):
    tests = gradescope(graded, "naive")
    assert graded["naive"][0].score == 7
    output = tests["dX"]["output"]
    assert "dX has shape (1, 1, 0, 0)" in output and "0 of" not in output
    assert "fails only when pad = 0" in output and "dx_pad[:, :, pad:pad + H, pad:pad + W]" in output


@pytest.mark.slow
def test_gradescope_shows_two_bugs_in_one_check_as_two_findings(graded):
    output = gradescope(graded, "two bugs")["dX"]["output"]
    assert output.count("reproduce: ") == 2
    assert "smallest failing configuration with batch 1: " in output and "with batch 1, fails only when filters > 1" \
        in output or "smallest failing configuration with 1 filter: " in output and \
        "with 1 filter, fails only when batch > 1" in output


@pytest.mark.slow
def test_gradescope_says_how_a_function_pair_was_called_and_what_a_forward_forgot_to_return(graded):
    assert graded["args"][0].passed
    notes = gradescope(graded, "args")["dX"]["output"]
    assert "note: called as conv_forward(x, w, b, stride=stride, padding=pad) and conv_backward(dout, cache)" in notes
    output = gradescope(graded, "no return")["forward"]["output"]
    assert output.startswith("forward returned None: return the output array")


@pytest.mark.slow  # seconds
def test_the_cli_grades_with_divisible():
    result = CliRunner().invoke(main, ["grade", str(STANDALONE), "--layer", "conv", "--impl", "conv_forward_strides",
                                       "--divisible", "--seed", "0", "--examples", "5", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["submissions"][0]["passed"] is True


def test_a_positional_constructor_is_built_in_the_sandbox_and_gradescope_says_how():
    result = grade([STANDALONE], "maxpool", "MaxPool2dLayer", seed=0, examples=10, timeout=30)
    (submission,) = result.submissions
    assert submission.passed, submission.reason
    outputs = [test["output"] for test in json.loads(render.grade_to_gradescope(submission, result))["tests"]]
    assert all("note: built as MaxPool2dLayer(pool_h, pool_w, PS=stride, PP=pad)" in output for output in outputs)
