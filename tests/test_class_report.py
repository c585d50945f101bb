"""The class report by cause: examples/class graded under real bwrap, its failures grouped by diagnosis in the text
report, JSON and the HTML page, and each group's reproduction command run to show it is true."""
import dataclasses
import io
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcheck import report
from gradcheck.cli import main
from gradcheck.grading.causes import by_cause
from gradcheck.grading.grade import grade
from gradcheck.grading.sandbox import sandbox_problem

CLASS = Path(__file__).resolve().parents[1] / "examples" / "class"
STUDENTS = ("alice", "bob", "carol", "dave", "erin")
OPTIONS = dict(seed=0, timeout=20, workers=2)  # rule searches need the time: a submission's limit bounds them

# Grading the class with its rule searches under bwrap takes half a minute for each of two fixtures: slow.
pytestmark = [pytest.mark.skipif(sandbox_problem() is not None, reason=f"no bwrap sandbox here: {sandbox_problem()}"),
              pytest.mark.slow]


@pytest.fixture(scope="module")
def graded():
    """alice is right; bob and erin average dB over the batch (written differently); carol loops once the stride
    exceeds 1; dave adds dX's windows at (i, j) for (i*stride, j*stride)."""
    return grade([CLASS / f"{name}.py" for name in STUDENTS], "conv", "Conv2d", **OPTIONS)


@pytest.fixture(scope="module")
def causes(graded):
    return {cause.label: cause for cause in by_cause(graded)}


def test_the_same_mistake_written_two_ways_is_one_cause(causes):
    cause = causes["dB fails only when batch > 1"]
    assert cause.students == ["bob", "erin"] and cause.kind == "failure" and cause.checks == ["dB"]
    assert cause.hints[0].startswith("dB is the expected value divided by the batch size 2: ")


def test_each_failing_student_is_in_a_cause_and_a_passing_one_in_none(graded, causes):
    assert list(causes)[0] == "dB fails only when batch > 1"  # the most common first
    assert causes["dX fails only when stride > 1"].students == ["dave"]
    (stopped,) = [cause for cause in causes.values() if cause.kind == "error"]
    assert stopped.students == ["carol"] and stopped.label.startswith("could not be graded fully (timed out: ")
    assert sorted(name for cause in causes.values() for name in cause.students) == ["bob", "carol", "dave", "erin"]
    assert [s.name for s in graded.submissions if s.passed] == ["alice"]


def test_numbers_that_differ_within_a_cause_are_not_shown(graded):
    """A classmate whose minimal configuration had batch 3 shares bob's cause; the group names no batch size."""
    bob = next(s for s in graded.submissions if s.name == "bob")
    finding = bob.report.findings[0]
    hints = [hint.replace("batch size 2", "batch size 3") for hint in finding.hints]
    frank = dataclasses.replace(bob, name="frank", report=dataclasses.replace(
        bob.report, findings=[dataclasses.replace(finding, hints=hints)]))
    (cause,) = [c for c in by_cause(dataclasses.replace(graded, submissions=[bob, frank])) if "dB" in c.checks]
    assert cause.students == ["bob", "frank"]
    assert cause.hints[0].startswith("dB is the expected value divided by the batch size …: the loss sums")
    assert cause.hints[1] == finding.hints[1]


def test_a_causes_reproduction_command_shows_it(causes):
    cause = causes["dX fails only when stride > 1"]
    assert cause.reproduce.startswith(f"cd {CLASS} && gradcheck conv ") and "--impl dave.py:Conv2d" in cause.reproduce
    command = cause.reproduce.replace("gradcheck conv", f"{sys.executable} -m gradcheck conv", 1)
    run = subprocess.run(command + " --format json", shell=True, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    shown = json.loads(run.stdout)
    assert [check["name"] for check in shown["checks"] if check["status"] == "fail"] == ["dX"]
    assert shown["counterexample"]["config"]["stride"] == [2, 2]


def test_text_json_and_html_show_the_same_causes(graded):
    expected = [cause.to_dict() for cause in by_cause(graded)]
    assert json.loads(report.grade_to_json(graded))["causes"] == expected
    stream = io.StringIO()
    report.render_grade_text(graded, report.make_console(stream))
    text = " ".join(stream.getvalue().split())
    assert text.index("Failures by cause") > text.index("1 of 5 passed")
    for cause in expected:
        assert f"{cause['label']} · {len(cause['students'])} student" in text
    page = Page(report.grade_to_html(graded))
    assert page.causes == [(cause["label"], f"{len(cause['students'])} student"
                            f"{'s' if len(cause['students']) > 1 else ''}: {', '.join(cause['students'])}")
                           for cause in expected]
    assert page.reproduce == [cause["reproduce"] for cause in expected if cause["reproduce"]]


def test_the_html_chart_counts_every_score(graded):
    page = Page(report.grade_to_html(graded))
    scores = [submission.score for submission in graded.submissions]
    assert page.bars == {score: scores.count(score) for score in range(9)}
    rows = [row for row in page.rows if row]  # the header's cells are <th>
    assert [row[0] for row in rows] == list(STUDENTS) and rows[0][1:3] == ["PASSED", "8/8"]


def test_a_class_that_all_passed_has_no_causes(graded):
    alice = dataclasses.replace(graded, submissions=graded.submissions[:1])
    assert by_cause(alice) == [] and "Failures by cause (0)" in report.grade_to_html(alice)


def test_cli_writes_the_html_page(tmp_path):
    output = tmp_path / "class.html"
    result = CliRunner().invoke(main, ["grade", str(CLASS / "bob.py"), str(CLASS / "erin.py"), "--layer", "conv",
                                       "--impl", "Conv2d", "--seed", "0", "--format", "html", "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert Page(output.read_text(encoding="utf-8")).causes == [("dB fails only when batch > 1", "2 students: bob, erin")]


class Page(HTMLParser):
    """What an instructor reads on the page: the causes (label, students), the reproduction commands, the chart's
    bars (score -> count) and the table's rows."""

    def __init__(self, html):
        super().__init__()
        self.causes, self.reproduce, self.bars, self.rows = [], [], {}, []
        self._in, self._text = None, ""
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "rect":
            self.bars[int(attrs["data-score"])] = int(attrs["data-count"])
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("h3", "pre", "td") or attrs.get("class") == "students":
            self._in, self._text = (tag, attrs.get("class")), ""

    def handle_data(self, data):
        self._text += data if self._in else ""

    def handle_endtag(self, tag):
        if self._in is None or tag != self._in[0]:
            return
        if tag == "h3":
            self.causes.append((self._text, None))
        elif self._in[1] == "students":
            self.causes[-1] = (self.causes[-1][0], self._text)
        elif tag == "pre":
            self.reproduce.append(self._text)
        elif tag == "td":
            self.rows[-1].append(self._text)
        self._in = None
