"""Render a Report: text for people (rich), JSON for programs, JUnit XML for CI systems.

Also the reports of ``gradcheck grade`` (a GradeResult): text, JSON, CSV, Gradescope and JUnit.
"""
import csv
import io
import json
import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

MAP_SLICES = 4  # (sample, channel) slices drawn per mismatch map
MAP_ROWS, MAP_COLS = 16, 32  # elements drawn per slice; larger slices are cut with a note


def to_json(report):
    return json.dumps(report.to_dict(), allow_nan=False, default=_json_number)


def _json_number(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def to_junit(report):
    """One <testsuite> for the run with one <testcase> per check (and per formulation)."""
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", name=f"gradcheck.{report.layer}",
                          tests=str(len(report.checks)),
                          failures=str(sum(r.status == "fail" for r in report.checks)),
                          skipped=str(sum(r.status == "skip" for r in report.checks)))
    findings = findings_by_check(report)
    for result in report.checks:
        name = f"{result.subject}.{result.name}" if result.subject else result.name
        case = ET.SubElement(suite, "testcase", classname=f"gradcheck.{report.layer}", name=name)
        if result.status == "fail":
            failure = ET.SubElement(case, "failure", message=result.message)
            failure.text = "\n".join(_failure_lines(result, findings.get((result.subject, result.name), [])))
        elif result.status == "skip":
            ET.SubElement(case, "skipped", message=result.message)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def findings_by_check(report):
    """(subject, check name) -> the findings that hold that check, in order."""
    found = {}
    for finding in report.findings:
        for result in finding.checks:
            found.setdefault((finding.subject, result.name), []).append(finding)
    return found


def _failure_lines(result, findings):
    """A failed check's message, its worst element, then each of its findings: configuration, refusal, facts,
    hints and reproduction."""
    lines = [result.message]
    if result.worst_index is not None:
        lines.append(f"worst at {list(result.worst_index)}: expected {result.expected:.6g}, "
                     f"got {result.actual:.6g} (against the {result.against})")
    first_with = {}  # each hint once, with the first finding that has it
    for number, finding in enumerate(findings, 1):
        lines.append(f"{smallest_text(finding)}: {finding.config.describe()} (data seed {finding.seed})")
        lines += [finding.refusal] if finding.refusal else []
        lines += finding.triggers + finding.observations
        lines += [f"hint: {hint}" for hint in _new_hints(finding, number, first_with)]
        lines.append(f"reproduce: {finding.reproduce}")
    return lines


def smallest_text(finding):
    """'smallest failing configuration', 'smallest refused configuration with stride 1', ..."""
    what = "refused" if finding.kind == "refusal" else "failing"
    text = f"smallest {what} configuration" if finding.shrunk else f"{what} configuration"
    return f"{text} {finding_scope(finding)}" if finding.scope else text


def finding_scope(finding):
    return f"with {' and '.join(finding.scope)}"


def render_text(report, console):
    """Print the report: headline, check table, then each finding with its map and reproduction."""
    failed = [r for r in report.checks if r.status == "fail"]
    verdict = (Text(f"FAILED: {len(failed)} of {len(report.checks)} checks", style="bold red") if failed
               else Text("PASSED", style="bold green"))
    precision = report.options.get("precision", "float64")
    console.print(Text.assemble("gradcheck ", (report.layer, "bold"), f" · {report.implementation}"))
    console.print(Text.assemble(verdict, f" · {report.examples} configuration{'s' * (report.examples != 1)}, "
                                         f"seed {report.seed}, {precision}"))
    if report.covered:
        _indented(console, f"covered: {coverage_text(report.covered)}", 0, "dim")
    if report.methods:
        _indented(console, f"finite differences: {methods_text(report.methods)}", 0, "dim")
    console.print()
    console.print(_check_table(report))
    first_with = {}  # hint -> the number of the first finding that printed it
    for number, finding in enumerate(report.findings, 1):
        _render_finding(console, number, finding, first_with)
    notes = sorted({note for r in report.checks for note in r.notes} | set(report.notes))
    if notes:
        console.print()
    for note in notes:
        _indented(console, f"note: {note}", 0, "dim")
    if report.passed:
        console.print()
        console.print(f"reproduce: {report.reproduce}", soft_wrap=True)


def coverage_text(covered):
    """'batch 1-8, size 1-32 x 1-31, ...': the range of every dimension a run covered."""
    def span(low, high):
        return str(low) if low == high else f"{low}-{high}"

    parts = []
    for name, value in covered.items():
        if isinstance(value[0], list):
            spans = [span(*axis) for axis in value]
            parts.append(f"{name} {spans[0] if spans[0] == spans[1] else ' x '.join(spans)}")
        else:
            parts.append(f"{name} {span(*value)}")
    return ", ".join(parts)


def methods_text(methods):
    """'dX by structured (25 configurations, 1,375 forward evaluations), ...': what finite differences ran."""
    return "; ".join(
        f"{name} by " + " and ".join(f"{method} ({count} configuration{'s' * (count != 1)}, "
                                     f"{evaluations:,} forward evaluations)"
                                     for method, (count, evaluations) in by_method.items())
        for name, by_method in methods.items())


def _check_table(report):
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    with_subject = any(r.subject for r in report.checks)
    if with_subject:
        table.add_column("formulation")
    for column in ("check", "result", "max abs err", "max rel err", "mismatched", "worst element / reason"):
        table.add_column(column)
    for result in report.checks:
        style = {"pass": "green", "fail": "bold red", "skip": "yellow"}[result.status]
        row = [result.name, Text(result.status.upper(), style=style), _number(result.max_abs_error),
               _number(result.max_rel_error), _mismatched(result), _worst(result)]
        table.add_row(*([result.subject] if with_subject else []), *row)
    return table


def _mismatched(result):
    if result.status != "fail":
        return ""
    if result.shapes is not None:
        return "wrong shape"
    return f"{result.mismatched} of {result.total}" if result.total else ""


def _worst(result):
    if result.worst_index is not None:
        return f"at {list(result.worst_index)}: expected {result.expected:.6g}, got {result.actual:.6g}"
    return result.message if result.status != "pass" else ""


def _number(value):
    return "" if value is None else f"{value:.2e}"


def _indented(console, text, indent, style=None):
    """Print ``text`` so that wrapped lines keep the indent."""
    console.print(Padding(Text(text, style=style or ""), (0, 0, 0, indent)))


def _render_finding(console, number, finding, first_with):
    """One finding: what fails, where, why (facts, hints: a hint printed for an earlier finding is referred to
    by its number), a map of where, and the command that reproduces it."""
    subject = f" in {finding.subject}" if finding.subject else ""
    scope = f" {finding_scope(finding)}" if finding.scope else ""
    verb = "refused by the layer" if finding.kind == "refusal" else f"fail{'s' * (len(finding.names) == 1)}"
    console.print()
    console.print(Text(f"Finding {number}: {', '.join(finding.names)} {verb}{subject}{scope}", style="bold red"))
    _indented(console, f"{smallest_text(finding)}: {finding.config.describe()} (data seed {finding.seed})", 2)
    if finding.also_failing:
        _indented(console, f"also failing there: {', '.join(finding.also_failing)}", 2)
    if finding.refusal:
        _indented(console, finding.refusal, 2)
    else:
        for result in finding.checks:
            if result.error:
                _indented(console, f"{result.name}: {result.message}", 2)
    for fact in finding.triggers + finding.observations:
        _indented(console, f"- {fact}", 2)
    for hint in _new_hints(finding, number, first_with):
        _indented(console, f"hint: {hint}", 2, "cyan")
    earlier = _earlier_hints(finding, number, first_with)
    if earlier:
        _indented(console, f"hint: as for finding {', '.join(map(str, earlier))}", 2, "cyan")
    for result in finding.checks:
        if result.mismatches is not None and result.mismatches.ndim == 4:
            _render_map(console, result)
    console.print(f"  reproduce: {finding.reproduce}", soft_wrap=True)


def _render_map(console, result):
    axes = ("filter", "channel") if result.name == "dW" else ("sample", "channel")
    console.print(f"  where {result.name} differs (X mismatch, . match):")
    for (a, b), rows, cut in mismatch_maps(result.mismatches):
        console.print(f"    {axes[0]} {a}, {axes[1]} {b}" + (" (top-left corner)" if cut else ""))
        for row in rows:
            console.print(Text("      " + " ".join(row), style="red" if "X" in row else "dim"))


def mismatch_maps(mask, limit=MAP_SLICES):
    """The first ``limit`` (i, j) slices of a 4-D mismatch mask that have mismatches, as rows of 'X'/'.'.

    Returns [((i, j), rows, cut)] where ``cut`` says the slice was larger than
    MAP_ROWS x MAP_COLS and only its top-left corner is drawn.
    """
    maps = []
    for i, j in zip(*np.nonzero(mask.any(axis=(2, 3)))):
        plane = mask[i, j]
        shown = plane[:MAP_ROWS, :MAP_COLS]
        rows = ["".join("X" if bad else "." for bad in row) for row in shown]
        maps.append(((int(i), int(j)), rows, shown.shape != plane.shape))
        if len(maps) == limit:
            break
    return maps


def make_console(file=None):
    """A rich console for ``file`` (stdout by default): colour and the terminal's width on a terminal,
    plain text 100 columns wide elsewhere, so files and pipes read the same everywhere.  Markup is off:
    text from user code (messages, paths) is printed as it is; no line ends in spaces."""
    console = Console(file=_NoTrailingSpaces(file or sys.stdout), highlight=False, soft_wrap=False, markup=False)
    if not console.is_terminal:
        console.width = 100
    return console


class _NoTrailingSpaces:
    """A text stream that writes each line without the spaces rich pads table cells with."""

    def __init__(self, stream):
        self.stream = stream
        self.pending = ""

    def write(self, text):
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        for line in lines:
            self.stream.write(line.rstrip(" ") + "\n")
        return len(text)

    def flush(self):
        if self.pending:
            self.stream.write(self.pending.rstrip(" "))
            self.pending = ""
        self.stream.flush()

    def isatty(self):
        return self.stream.isatty()

    def fileno(self):
        return self.stream.fileno()

    @property
    def encoding(self):
        return getattr(self.stream, "encoding", "utf-8")


def failure_text(report):
    """A numpy.testing-style assertion message: header, then per failing check its numbers and finding."""
    failed = [r for r in report.checks if r.status == "fail"]
    lines = [f"Gradients not right: {report.layer}, {report.implementation} "
             f"({len(failed)} of {len(report.checks)} checks failed; seed {report.seed}, "
             f"{report.examples} configuration{'s' * (report.examples != 1)})"]
    numbers = {id(finding): number for number, finding in enumerate(report.findings, 1)}
    findings = findings_by_check(report)
    for result in failed:
        subject = f"{result.subject} " if result.subject else ""
        headline = f"differs from the {result.against}" if result.against else result.message
        lines += ["", f"{subject}{result.name}: {headline}"]
        if result.total:
            lines.append(f" Mismatched elements: {result.mismatched} / {result.total} ({100 * result.fraction:.3g}%)")
        if result.max_abs_error is not None and result.worst_index is not None:
            lines.append(f" Max absolute difference: {result.max_abs_error:.6g}")
            lines.append(f" Max relative difference: {result.max_rel_error:.6g}")
            lines.append(f" Worst element {list(result.worst_index)}: expected {result.expected:.6g}, "
                         f"actual {result.actual:.6g} (against the {result.against})")
        shown = [numbers[id(f)] for f in findings.get((result.subject, result.name), [])]
        if shown:
            lines.append(f" See finding {', '.join(map(str, shown))}")
    first_with = {}
    for number, finding in enumerate(report.findings, 1):
        lines += ["", f"Finding {number} ({', '.join(finding.names)}):",
                  f" {smallest_text(finding).capitalize()}: {finding.config.describe()} (data seed {finding.seed})"]
        lines += [f" {finding.refusal[0].upper()}{finding.refusal[1:]}"] if finding.refusal else []
        lines += [f" Trigger: {fact}" for fact in finding.triggers]
        lines += [f" Observed: {fact}" for fact in finding.observations]
        lines += [f" Hint: {hint}" for hint in _new_hints(finding, number, first_with)]
        lines += [f" Hint: as for finding {', '.join(map(str, earlier))}"
                  for earlier in [_earlier_hints(finding, number, first_with)] if earlier]
        lines.append(f" Reproduce: {finding.reproduce}")
    return "\n".join(lines)


def _new_hints(finding, number, first_with):
    """The finding's hints no earlier finding printed; ``first_with`` (hint -> finding number) learns them."""
    return [hint for hint in finding.hints if first_with.setdefault(hint, number) == number]


def _earlier_hints(finding, number, first_with):
    """The numbers of the earlier findings that printed some of this finding's hints."""
    return sorted({first_with[hint] for hint in finding.hints if first_with[hint] != number})


# -- grading reports (gradcheck grade) ---------------------------------------------------------------------------

CHECK_TITLES = {
    "forward": "forward: output shape and values",
    "dX": "dX: gradient of the input",
    "dW": "dW: gradient of the weights",
    "dB": "dB: gradient of the bias",
    "repeatable": "repeatable: a second backward gives the same gradients",
    "no-mutation": "no-mutation: forward and backward leave their inputs alone",
    "weights-live": "weights-live: forward uses in-place updates of W and b",
    "fresh-cache": "fresh-cache: no state left over from earlier calls",
    "ties": "ties: on tied maxima, each window's gradient goes to them and sums to dout",
}


def grade_to_json(result):
    """``{"submissions": [{name, passed, score, max_score, checks, error, duration_s}, ...]}``."""
    return json.dumps(_finite(result.to_dict()), allow_nan=False, default=_json_number)


def grade_to_csv(result):
    """One row per submission: name, passed, score, max_score, duration_s, error, then each check's status."""
    from .checks import check_names

    names = list(check_names(result.layer))
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["name", "passed", "score", "max_score", "duration_s", "error", *names])
    for submission in result.submissions:
        status = {check.name: check.status for check in submission.checks}
        writer.writerow([_cell(submission.name), str(submission.passed).lower(), submission.score,
                         submission.max_score, f"{submission.duration_s:.3f}", _cell(submission.error or ""),
                         *(status.get(name, "") for name in names)])
    return stream.getvalue()


def _cell(text):
    """Spreadsheets run cells that start with = + - @ as formulas: quote them."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def grade_to_gradescope(submission, result):
    """Gradescope's results.json for one submission: one test per check, a point per check passed.

    See https://gradescope-autograders.readthedocs.io/en/latest/specs/.  A
    failed check's output holds its message, the smallest failing
    configuration, the trigger facts, hints and the command that reproduces
    it; a submission that could not be graded fully (``error``) scores 0.
    """
    from .checks import check_names

    report = submission.report
    findings = findings_by_check(report) if report else {}
    checks = {check.name: check for check in submission.checks}
    tests = []
    for number, name in enumerate(check_names(result.layer), 1):
        check = checks.get(name)
        passed = check is not None and check.status == "pass" and not submission.error
        if check is None:
            output = f"not run: {submission.error}" if submission.error else "not run"
        elif check.status == "fail":
            output = "\n".join(_failure_lines(check, findings.get((check.subject, name), [])))
        elif check.status == "skip":
            output = f"skipped: {check.message}"
        else:
            output = "passed" + (f" (no point: the submission {submission.error})" if submission.error else "")
        if check is not None and check.notes:
            output += "".join(f"\nnote: {note}" for note in check.notes)
        tests.append({"name": CHECK_TITLES.get(name, name), "number": str(number),
                      "score": 1.0 if passed else 0.0, "max_score": 1.0,
                      "status": "passed" if passed else "failed", "output": output})
    lines = [f"gradcheck {result.layer}, {result.implementation}: {submission.score} of {submission.max_score} "
             f"checks passed ({result.examples} configurations, seed {result.seed})."]
    if submission.error:
        lines.append(f"Not graded fully: {submission.error}")
    elif report is not None and report.counterexample is not None:
        lines.append(f"Reproduce on your machine: {report.counterexample.reproduce}")
    for title, text in (("Your code printed", submission.stdout), ("Your code printed on stderr", submission.stderr)):
        if text:
            lines += ["", f"{title} (the start of it):", text]
    data = {"score": float(submission.score), "execution_time": int(round(submission.duration_s)),
            "output": "\n".join(lines), "tests": tests}
    return json.dumps(_finite(data), allow_nan=False, default=_json_number, indent=2) + "\n"


def grade_to_junit(result):
    """One <testsuite> per submission, one <testcase> per check; an error becomes an <error> testcase."""
    from .checks import check_names

    names = list(check_names(result.layer))
    suites = ET.Element("testsuites", name=f"gradcheck.grade.{result.layer}")
    for submission in result.submissions:
        checks = {check.name: check for check in submission.checks}
        failures = sum(check.status == "fail" for check in submission.checks)
        skipped = sum(check.status == "skip" for check in submission.checks)
        suite = ET.SubElement(suites, "testsuite", name=_xml(submission.name),
                              tests=str(len(names) + bool(submission.error)), failures=str(failures),
                              errors=str(int(bool(submission.error))), skipped=str(skipped),
                              time=f"{submission.duration_s:.3f}")
        properties = ET.SubElement(suite, "properties")
        for key, value in (("score", submission.score), ("max_score", submission.max_score),
                           ("passed", str(submission.passed).lower()), ("path", submission.path)):
            ET.SubElement(properties, "property", name=key, value=_xml(value))
        report = submission.report
        findings = findings_by_check(report) if report else {}
        classname = f"gradcheck.grade.{_xml(submission.name)}"
        for name in names:
            case = ET.SubElement(suite, "testcase", classname=classname, name=name)
            check = checks.get(name)
            if check is None:
                ET.SubElement(case, "skipped", message=_xml(f"not run: {submission.error or 'no result'}"))
            elif check.status == "fail":
                failure = ET.SubElement(case, "failure", message=_xml(check.message))
                failure.text = _xml("\n".join(_failure_lines(check, findings.get((check.subject, name), []))))
            elif check.status == "skip":
                ET.SubElement(case, "skipped", message=_xml(check.message))
        if submission.error:
            case = ET.SubElement(suite, "testcase", classname=classname, name="submission")
            ET.SubElement(case, "error", message=_xml(submission.error))
        for tag, text in (("system-out", submission.stdout), ("system-err", submission.stderr)):
            if text:
                ET.SubElement(suite, tag).text = _xml(text)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def render_grade_text(result, console):
    """A table of verdicts (submission, verdict, score, time, reason) and a summary line."""
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("submission", "verdict", "score", "time", "reason"):
        table.add_column(column, overflow="fold")
    for submission in result.submissions:
        if submission.passed:
            verdict = Text("PASSED", style="bold green")
        else:
            verdict = Text("ERROR" if submission.error else "FAILED", style="bold red")
        table.add_row(Text(submission.name), verdict, f"{submission.score}/{submission.max_score}",
                      f"{submission.duration_s:.1f} s", Text(submission.reason))
    console.print(table)
    total = len(result.submissions)
    errors = sum(bool(submission.error) for submission in result.submissions)
    limits = result.limits
    console.print(Text.assemble(
        (f"{result.passed} of {total} passed", "bold green" if result.passed == total else "bold red"),
        f" ({errors} could not be graded fully)" if errors else "",
        f" · {result.layer} · {result.implementation} · seed {result.seed} · {result.examples} configurations "
        f"each · limits {limits.timeout:g} s, {limits.memory} MB · {result.duration_s:.1f} s"))


def _finite(value):
    """JSON has no NaN or infinity: such floats (from untrusted arrays) become null."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(value):
    return _XML_INVALID.sub("\N{REPLACEMENT CHARACTER}", str(value))
