"""Render a Report: text for people (rich), JSON for programs, JUnit XML for CI systems.

Also the reports of ``gradcheck grade`` (a GradeResult): text, JSON, CSV, Gradescope and JUnit.
"""
import csv
import io
import json
import math
import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from .adapters import NCHW
from . import api, generic
from .generic import VALUES
from .grading.causes import by_cause
from .grading.course import VISIBILITIES
from .kinds import windowed
from .layout import describe, sentence

MAP_SLICES = 4  # (sample, channel) slices drawn per mismatch map
NARROW = 90  # console columns below which the check table leaves out the error sizes
MAP_ROWS, MAP_COLS = 16, 32  # elements drawn per slice; larger slices are cut with a note
STATUS_STYLES = {"pass": "green", "fail": "bold red", "skip": "yellow"}


def to_json(report):
    return json.dumps(report.to_dict(), allow_nan=False, default=json_number)


def json_number(value):
    """json.dumps' ``default`` for numpy scalars."""
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
    if scope_lines(report) or report.restriction:
        properties = ET.SubElement(suite, "properties")
        for label, text in scope_lines(report):
            ET.SubElement(properties, "property", name=label.rstrip(":"), value=text)
        if report.restriction:
            ET.SubElement(properties, "property", name="restriction",
                          value=report.restriction.summary(report.layout))
    findings = findings_by_check(report)
    for result in report.checks:
        name = f"{result.subject}.{result.name}" if result.subject else result.name
        case = ET.SubElement(suite, "testcase", classname=f"gradcheck.{report.layer}", name=name)
        if result.status == "fail":
            failure = ET.SubElement(case, "failure", message=result.message)
            failure.text = "\n".join(_failure_lines(result, findings.get((result.subject, result.name), []),
                                                     report.layout))
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


def _failure_lines(result, findings, layout):
    """A failed check's message, its worst element, then each of its findings: configuration (its shapes in the
    layer's ``layout``), refusal, facts, hints and reproduction."""
    lines = [result.message]
    if result.worst_index is not None:
        lines.append(f"worst at {list(result.worst_index)}: expected {result.expected:.6g}, "
                     f"got {result.actual:.6g} (against the {result.against})")
    first_with = {}  # each hint once, with the first finding that has it
    for number, finding in enumerate(findings, 1):
        lines.append(configuration_text(finding, layout))
        lines += [finding.refusal] if finding.refusal else []
        lines += [*finding.triggers, *finding.observations]
        lines += [f"hint: {hint}" for hint in _new_hints(finding, number, first_with)]
        lines.append(f"reproduce: {finding.reproduce}")
    return lines


def configuration_text(finding, layout):
    """'smallest failing configuration: ... (data seed 3)': where a finding of either engine fails (a conv or
    pooling layer's, its shapes in the layer's ``layout``; a catalogue kind's, its symbols)."""
    if isinstance(finding, generic.Finding):
        return f"smallest failing configuration: {finding.example.text} (data seed {finding.seed})" \
            if finding.example else "found once, on a probe"
    return f"{smallest_text(finding)}: {describe(finding.config, layout)} (data seed {finding.seed})"


def _layout_of(report):
    """The layout a grade's report gives shapes in: its conv or pooling layer's; NCHW without a report, and for
    catalogue kinds (their shapes are their symbols')."""
    return report.layout if isinstance(report, api.Report) else NCHW


def smallest_text(finding):
    """'smallest failing configuration', 'smallest refused configuration with stride 1', ..."""
    what = "refused" if finding.kind == "refusal" else "failing"
    text = f"smallest {what} configuration" if finding.shrunk else f"{what} configuration"
    return f"{text} {finding_scope(finding)}" if finding.scope else text


def finding_scope(finding):
    return f"with {' and '.join(finding.scope)}"


def scope_lines(report):
    """(label, sentence) for what the reader must know to read the report: the layout the layer reads, when it is
    not NCHW, what its convention keeps the search to, and the bounds the run was given ("stride 1..2")."""
    lines = []
    if report.layout != NCHW:
        lines.append(("layout:", sentence(report.layout, report.layer)))
    if report.options.get("restricted"):
        lines.append(("restricted:", report.options["restricted"]))
    if report.options.get("bounds"):
        lines.append(("within:", ", ".join(f"{name} {low}..{high}"
                                           for name, (low, high) in report.options["bounds"].items())))
    return lines


def render_text(report, console):
    """Print the report: headline, check table, then each finding with its map and reproduction."""
    precision = report.options.get("precision", "float64")
    console.print(Text.assemble("gradcheck ", (report.layer, "bold"), f" · {report.implementation}"))
    console.print(Text.assemble(verdict_text(report), f" · {report.examples} configuration"
                                                      f"{'s' * (report.examples != 1)}, seed {report.seed}, {precision}"))
    for label, text in scope_lines(report):
        _labelled(console, label, text, 0)
    for statement in report.restriction.statements(report.layout) if report.restriction else ():
        _labelled(console, "refused:", statement, 0)
    if report.covered:
        _labelled(console, "covered:", coverage_text(report.covered), 0, "dim")
    if report.classes.get("reached"):
        _labelled(console, "classes:", classes_text(report.classes, bool(report.options.get("bounds"))), 0, "dim")
    if report.methods:
        _labelled(console, "finite differences:", methods_text(report.methods), 0, "dim")
    console.print()
    console.print(_check_table(report, console.width))
    first_with = {}  # hint -> the number of the first finding that printed it
    for number, finding in enumerate(report.findings, 1):
        _render_finding(console, number, finding, first_with, report.layout)
    if report.stopped is not None:
        _render_stop(console, report.stopped, report.layout)
    notes = sorted({note for r in report.checks for note in r.notes} | set(report.notes))
    if notes:
        console.print()
    for note in notes:
        _labelled(console, "note:", note, 0, "dim")
    if report.passed:
        console.print()
        console.print(f"reproduce: {report.reproduce}", soft_wrap=True)


def render_function_text(report, console):
    """Print a ``gradcheck fn`` report (``generic.FunctionReport``): headline, shapes, check table, findings."""
    console.print(Text.assemble("gradcheck ", (report.command, "bold"), f" · {report.spec}"))
    failed = [r for r in report.checks if r.status == "fail"]
    verdict = Text(f"FAILED: {len(failed)} of {len(report.checks)} checks", style="bold red") if failed else \
        Text("PASSED", style="bold green")
    console.print(Text.assemble(verdict, f" · {report.examples} configuration{'s' * (report.examples != 1)}, "
                                         f"seed {report.seed}, float64, against {report.against}"))
    signature = report.signature
    _labelled(console, "shapes:", ", ".join(map(signature.describe, signature.shapes)), 0)
    if signature.bounds:
        _labelled(console, "within:", ", ".join(f"{symbol} {low}" if low == high else f"{symbol} {low}..{high}"
                                                for symbol, (low, high) in signature.bounds.items()), 0)
    if report.values:
        _labelled(console, "values:", ", ".join(VALUES[value] for value in report.values), 0, "dim")
    for note in dict.fromkeys([*report.notes, *(note for result in report.checks for note in result.notes)]):
        _labelled(console, "note:", note, 0, "dim")
    console.print()
    console.print(_check_table(report, console.width))
    for number, finding in enumerate(report.findings, 1):
        console.print()
        console.print(Text(f"Finding {number}: {', '.join(finding.names)} fail{'s' * (len(finding.names) == 1)}",
                           style="bold red"))
        if finding.example:
            _indented(console, f"smallest failing configuration: {finding.example.text} (data seed "
                               f"{finding.example.seed})", 2)
        for result in finding.results:
            if result.error or result.worst_index is None:
                _indented(console, f"{result.name}: {result.message}", 2)
        for fact in finding.facts:
            _labelled(console, "-", fact, 2)
        for hint in dict.fromkeys(hint for result in finding.results for hint in result.hints):
            _labelled(console, "hint:", hint, 2, "cyan")
        for result in finding.results:
            _where_it_differs(console, result)
        console.print(f"  reproduce: {finding.reproduce}", soft_wrap=True)
    if report.passed:
        console.print()
        console.print(f"reproduce: {report.reproduce}", soft_wrap=True)


def _where_it_differs(console, result):
    """'where dx differs: [0, 1], [2, 3] and 5 more': the first MAP_ROWS positions of a check's mismatches."""
    if result.mismatches is None or not result.mismatches.any():
        return
    positions = [list(map(int, index)) for index in np.argwhere(result.mismatches)[:MAP_ROWS]]
    more = result.mismatched - len(positions)
    _labelled(console, f"where {result.name} differs:",
              ", ".join(map(str, positions)) + (f" and {more} more" if more > 0 else ""), 2)


def render_rows(columns, rows, console):
    """A plain table of text ``rows`` under ``columns``."""
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def render_network_text(report, console):
    """Print a ``gradcheck net`` report (``network.NetworkReport``): the verdict naming the first wrong layer, a
    table of every layer's checks, then what failed in each; for a network with ``params``, each parameter's
    gradient against the loss, and what the right and wrong ones say about where the error is."""
    console.print(Text.assemble("gradcheck ", ("net", "bold"), f" · {report.spec}"))
    console.print(Text.assemble(_network_verdict(report), f" · {_network_scope(report)}"))
    if report.built:
        _labelled(console, "built:", report.built, 0)
    if report.layers:
        _render_layers(report, console)
    if report.gradient:
        _render_gradient(report.gradient, console)
    console.print()
    console.print(f"reproduce: {report.reproduce}", soft_wrap=True)


def _network_verdict(report):
    wrong, loss_layer, gradient = report.first_wrong, report.loss_layer, report.gradient
    if wrong:
        return Text(f"FAILED: {wrong.name} is the first layer whose checks fail", style="bold red")
    if loss_layer and not loss_layer.passed:
        return Text(f"FAILED: lastLayer {loss_layer.name} fails its checks as {loss_layer.kind}", style="bold red")
    if gradient and not gradient.checks[0].passed:
        return Text("FAILED: the network's loss cannot be computed", style="bold red")
    if gradient and not gradient.passed:
        names = [name for name, check in gradient.parameters.items() if not check.passed]
        return Text(f"FAILED: the gradient{'s' * (len(names) > 1)} of {', '.join(names)} "
                    f"{'are' if len(names) > 1 else 'is'} wrong", style="bold red")
    unchecked = ", ".join(layer.name for layer in report.unchecked)
    but = ([f"{unchecked}, whose gradients could not be checked"] if unchecked else []) + \
        ([f"lastLayer {loss_layer.name}, which is not checked"] if loss_layer and loss_layer.report is None else []) + \
        (["the network's gradient, which could not be checked"] if gradient and gradient.unrepeatable else [])
    return Text("PASSED" + (f" but for {' and '.join(but)}" if but else ""), style="bold green")


def _network_scope(report):
    """'input (4, 6), seed 0, each layer on the activation it receives, by finite differences', and so on."""
    gradient = report.gradient
    labels = f", labels 0..{gradient.classes - 1}" if gradient and gradient.classes else ""
    checked = " and ".join((["each layer on the activation it receives"] if report.layers else []) +
                           (["every parameter's gradient of the loss"] if gradient else []))
    return f"input {report.input_shape}{labels}, seed {report.seed}, {checked}, by finite differences"


def _render_layers(report, console):
    """The table of the layers' checks (the loss layer's last), then what failed in each."""
    console.print()
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("layer", "input", "checks"):
        table.add_column(column, overflow="fold")
    for layer in report.layers:
        table.add_row(layer.name, str(layer.input_shape), _statuses(layer.checks))
    loss_layer = report.loss_layer
    if loss_layer and loss_layer.report:
        table.add_row("lastLayer", ", ".join(loss_layer.report.signature.shapes["x"]),
                      _statuses(loss_layer.report.checks))
    console.print(table)
    if loss_layer:
        _indented(console, loss_layer.message, 0, "dim" if loss_layer.report else "yellow")
    for layer in report.layers:
        failed = [check for check in layer.checks if check.status != "pass"]
        if failed:
            console.print()
            console.print(Text(f"{layer.name}: {', '.join(check.name for check in failed)} " +
                               ("not checked" if layer.passed else f"fail{'s' * (len(failed) == 1)}"),
                               style="bold red" if not layer.passed else "yellow"))
        _render_failed(console, failed)
    if loss_layer and not loss_layer.passed:
        for finding in loss_layer.report.findings:
            console.print()
            console.print(Text(f"lastLayer {loss_layer.name}: {', '.join(finding.names)} "
                               f"fail{'s' * (len(finding.names) == 1)}", style="bold red"))
            if finding.example:
                _labelled(console, "smallest failing configuration:",
                          f"{finding.example.text} (data seed {finding.example.seed})", 2)
            _render_failed(console, finding.results)
            console.print(f"  reproduce: {finding.reproduce}", soft_wrap=True)


def _statuses(checks):
    """'forward PASS  dx FAIL', each status in its colour."""
    cells = Text()
    for number, check in enumerate(checks):
        cells.append(("  " if number else "") + f"{check.name} ")
        cells.append(check.status.upper(), style=STATUS_STYLES[check.status])
    return cells


def _render_failed(console, checks):
    """Each check's worst element (or message), where it differs and its hints."""
    for check in checks:
        _labelled(console, f"{check.name}:", _worst(check) if check.worst_index is not None else check.message, 2)
        _where_it_differs(console, check)
        for hint in check.hints:
            _labelled(console, "hint:", hint, 2, "cyan")


def _render_gradient(gradient, console):
    """The table of the parameters' gradients, then what failed and what that says about where the error is."""
    console.print()
    prerequisites = [check for check in gradient.checks[:2] if check.status != "pass"]
    if not prerequisites:
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        for column in ("gradient", "shape", "check"):
            table.add_column(column, overflow="fold")
        for name, check in gradient.parameters.items():
            table.add_row(check.name, str(gradient.shapes[name]),
                          Text(check.status.upper(), style=STATUS_STYLES[check.status]))
        console.print(table)
    for note in gradient.notes:
        _labelled(console, "note:", note, 0, "dim")
    failed = prerequisites + [check for check in gradient.checks[2:] if not check.passed]
    if failed:
        console.print()
        console.print(Text("the network's gradient: " + ("not checked" if gradient.passed else
                                                          f"{', '.join(check.name for check in failed)} "
                                                          f"fail{'s' * (len(failed) == 1)}"),
                           style="bold red" if not gradient.passed else "yellow"))
        _render_failed(console, failed)
    if gradient.verdict:
        _labelled(console, "verdict:", gradient.verdict, 2)


def _render_stop(console, stop, layout):
    """Where a run that ended early stopped, and the command that runs that configuration alone."""
    console.print()
    console.print(Text(f"Stopped: {stop.reason}", style="bold"))
    if stop.phase == "search":
        _indented(console, where_it_stopped(stop, layout), 2)
    else:
        _indented(console, "after every configuration was checked, while failures were being shrunk and explained: "
                           "the findings are the first failures, unshrunk", 2)
    console.print(f"  reproduce: {stop.reproduce}", soft_wrap=True)


def where_it_stopped(stop, layout):
    """'while dX was being checked on x (...) (data seed N), after M complete configurations'."""
    return (f"while {stop.check} was being checked on {describe(stop.config, layout)} (data seed {stop.seed}), "
            f"after {stop.completed} complete configurations")


def verdict_text(report):
    """'PASSED', 'FAILED: 1 of 8 checks', with the restriction when the layer was checked where it accepts:
    'PASSED only with a square kernel', 'FAILED: 1 of 8 checks, checked only with a square kernel'."""
    failed = [r for r in report.checks if r.status == "fail"]
    restriction = report.restriction.text if report.restriction else ""
    if failed:
        checked = f", checked {restriction}" if restriction else ""
        return Text(f"FAILED: {len(failed)} of {len(report.checks)} checks{checked}", style="bold red")
    return Text(f"PASSED {restriction}".rstrip(), style="bold green")


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


def classes_text(classes, bounded=False):
    """'23 geometry classes: stride == kernel, ...; none with these pins: pad >= kernel' ('pins and bounds' for a
    ``bounded`` run), and the classes a run that stopped early did not reach."""
    text = f"{len(classes['reached'])} geometry classes: {', '.join(classes['reached'])}"
    if classes.get("excluded"):
        text += f"; none with these pins{' and bounds' * bounded}: {', '.join(classes['excluded'])}"
    if classes.get("missed"):
        text += f"; not reached before the run stopped: {', '.join(classes['missed'])}"
    if classes.get("values"):
        text += f"; x's values: {', '.join(classes['values'])}"
    return text


def methods_text(methods):
    """'dX by structured (25 configurations, 1,375 forward evaluations), ...': what finite differences ran."""
    return "; ".join(
        f"{name} by " + " and ".join(f"{method} ({count} configuration{'s' * (count != 1)}, "
                                     f"{evaluations:,} forward evaluations)"
                                     for method, (count, evaluations) in by_method.items())
        for name, by_method in methods.items())


def _check_table(report, width):
    """One row per check.  Below NARROW columns the error sizes are left out, so that the worst element or
    the reason (wrapped) keeps its room."""
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    with_subject = any(r.subject for r in report.checks)
    numbers = width >= NARROW
    if with_subject:
        table.add_column("formulation", no_wrap=True)
    for column in ("check", "result") + (("max abs err", "max rel err") if numbers else ()) + ("mismatched",):
        table.add_column(column, no_wrap=True)  # short: never cut
    table.add_column("worst element / reason", overflow="fold", ratio=1)
    for result in report.checks:
        style = {"pass": "green", "fail": "bold red", "skip": "yellow"}[result.status]
        errors = (_number(result.max_abs_error), _number(result.max_rel_error)) if numbers else ()
        row = [result.name, Text(result.status.upper(), style=style), *errors, _mismatched(result), _worst(result)]
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


def _labelled(console, label, text, indent, style=None):
    """Print ``label`` then ``text``, wrapped lines aligned under the text (a hanging indent)."""
    grid = Table.grid(padding=(0, 1, 0, 0))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold", ratio=1)
    grid.add_row(Text(label, style=style or ""), Text(text, style=style or ""))
    console.print(Padding(grid, (0, 0, 0, indent)))


def _render_finding(console, number, finding, first_with, layout):
    """One finding: what fails, where (shapes in the layer's ``layout``), why (facts, hints: a hint printed for an
    earlier finding is referred to by its number), a map of where, and the command that reproduces it."""
    subject = f" in {finding.subject}" if finding.subject else ""
    scope = f" {finding_scope(finding)}" if finding.scope else ""
    verb = "refused by the layer" if finding.kind == "refusal" else f"fail{'s' * (len(finding.names) == 1)}"
    console.print()
    console.print(Text(f"Finding {number}: {', '.join(finding.names)} {verb}{subject}{scope}", style="bold red"))
    _indented(console, f"{smallest_text(finding)}: {describe(finding.config, layout)} (data seed {finding.seed})", 2)
    if finding.also_failing:
        _indented(console, f"also failing there: {', '.join(finding.also_failing)}", 2)
    if finding.refusal:
        _indented(console, finding.refusal, 2)
    else:
        for result in finding.checks:
            if result.error:
                _indented(console, f"{result.name}: {result.message}", 2)
    for fact in finding.triggers + finding.observations:
        _labelled(console, "-", fact, 2)
    for hint in _new_hints(finding, number, first_with):
        _labelled(console, "hint:", hint, 2, "cyan")
    earlier = _earlier_hints(finding, number, first_with)
    if earlier:
        _labelled(console, "hint:", f"as for finding {', '.join(map(str, earlier))}", 2, "cyan")
    for result in finding.checks:
        if result.mismatches is not None and result.mismatches.ndim == 4:
            _render_map(console, result, layout)
    console.print(f"  reproduce: {finding.reproduce}", soft_wrap=True)


def _render_map(console, result, layout):
    """Where a 4-D array differs, one (H, W) plane per (sample, channel) or (filter, channel); a layer that does
    not read NCHW is shown each plane's slice in its own layout, e.g. dx[0, :, :, 1]."""
    kind, axes = ("W", ("filter", "channel")) if result.name == "dW" else ("x", ("sample", "channel"))
    array = {"dW": "dW", "dX": "dx", "forward": "out"}.get(result.name, result.name)
    console.print(f"  where {result.name} differs (X mismatch, . match):")
    for (a, b), rows, cut in mismatch_maps(layout.from_layer(kind, result.mismatches)):
        where = "" if layout == NCHW else f": {array}[{', '.join(map(str, layout.index(kind, (a, b, ':', ':'))))}]"
        console.print(f"    {axes[0]} {a}, {axes[1]} {b}{where}" + (" (top-left corner)" if cut else ""))
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
    lines += [f" {label.rstrip(':').capitalize()}: {text}" for label, text in scope_lines(report)]
    if report.restriction:
        lines.append(f"Checked {report.restriction.text}, where the layer accepts:")
        lines += [f" {statement[0].upper()}{statement[1:]}"
                  for statement in report.restriction.statements(report.layout)]
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
                  f" {smallest_text(finding).capitalize()}: {describe(finding.config, report.layout)} "
                  f"(data seed {finding.seed})"]
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
FUNCTION_TITLES = {
    "forward": "forward: output shape and values against the reference",
    "repeatable": "repeatable: a second forward gives the same output",
    "no-mutation": "no-mutation: forward and backward leave their inputs alone",
}


def check_title(name, layer):
    """A graded check's title: its name and what it checks (of several kinds graded together, its kind's first)."""
    kind, joined, check = name.rpartition(".")
    if joined:
        return f"{kind} {check_title(check, kind)}"
    if layer in windowed():
        return CHECK_TITLES.get(name, name)
    return FUNCTION_TITLES.get(name, f"{name}: gradient of {name[1:]}")


STOPPED_RULE = ("The checks it finished on the configuration where it stopped keep their points; the check running "
                "then, every check left unfinished there and any never reached score 0.")
VISIBLE, AFTER_DUE = VISIBILITIES[:2]  # after the due date: what --hide-hints-until-due withholds


def not_isolated(result):
    """The warning every grading report gives when the submissions ran without isolation (--sandbox none)."""
    return ("not isolated: the submissions ran without the bwrap sandbox (--sandbox none), as plain child processes "
            "that could read and change the grader's files, their classmates' and each other's")


def as_users(result):
    """What every grading report says when the submissions ran as users of their own (--sandbox user), and why
    not under bwrap."""
    return (f"isolated without the bwrap sandbox ({result.sandbox_problem or '--sandbox user'}): each submission ran "
            "as an unprivileged user of its own, which could read none of the grader's files and signal none of its "
            "processes")


def grade_to_json(result):
    """``{"sandbox": "bwrap" | "user" | "none", "sandbox_problem": null | why, "submissions": [{name, passed, score,
    max_score, checks, earned, error, duration_s, layout}, ...], "causes": [{kind, checks, label, students, hints,
    reproduce}, ...]}``; sandbox "user" means each submission ran as an unprivileged user of its own
    (sandbox_problem says why not under bwrap), "none" that they were not isolated; ``earned`` the points each
    check earned; ``causes`` the class's failures by cause (``grading.causes``)."""
    data = dict(result.to_dict(), causes=[cause.to_dict() for cause in by_cause(result)])
    return json.dumps(_finite(data), allow_nan=False, default=json_number)


def grade_to_csv(result):
    """One row per submission: name, passed, score, max_score, duration_s, sandbox (bwrap, user, or none: not
    isolated), error, then each check's status: pass, fail, skip, or error when no check ran (the error says
    why)."""
    names = _check_names(result)
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["name", "passed", "score", "max_score", "duration_s", "sandbox", "error", *names])
    for submission in result.submissions:
        status = {check.name: check.status for check in submission.checks}
        writer.writerow([_cell(submission.name), str(submission.passed).lower(), submission.score,
                         submission.max_score, f"{submission.duration_s:.3f}", result.sandbox,
                         _cell(submission.error or ""), *(status.get(name, "error") for name in names)])
    return stream.getvalue()


def _graded_text(result, separator):
    """What ``result`` graded: the layer and NAME ("conv · Conv2d"), or each kind with its NAME ("affine
    (affine_forward), relu (relu_forward)")."""
    if "," not in result.layer:
        return f"{result.layer}{separator}{result.implementation}"
    return ", ".join(f"{kind} ({name})" for kind, name in zip(result.layer.split(","),
                                                                result.implementation.split(",")))


def _check_names(result):
    from .checks import check_names

    return list(check_names(result.layer))


def _points(result):
    """Check name -> what passing it is worth, for every check of the result's layer."""
    return result.points or dict.fromkeys(_check_names(result), 1)


def _scoring(result):
    """How the checks are scored, in a few words."""
    scoring = "one point per check passed" if set(_points(result).values()) == {1} else \
        "points per check passed as the course sets them"
    return scoring + (", a failed check's times the share of configurations it passed on" if result.partial else "")


def _cell(text):
    """Spreadsheets run cells that start with = + - @ as formulas: quote them."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def grade_check_lines(check, report):
    """(verdict, details) of a graded check that did not pass: its one-line message, and the lines behind it
    (worst element, smallest failing configuration, trigger facts, hints, reproduction command; for the check
    that was running when the submission stopped, where that was)."""
    findings = findings_by_check(report).get((check.subject, check.name), []) if report else []
    stopped = report.stopped if report else None
    if not findings and stopped is not None and stopped.phase == "search" and stopped.check == check.name:
        return check.message, [f"it stopped {where_it_stopped(stopped, report.layout)}",
                               f"reproduce: {stopped.reproduce}"]
    lines = _failure_lines(check, findings, _layout_of(report))
    return lines[0], lines[1:]


def grade_to_gradescope(submission, result, hide_hints=False, visibility=None, show_one=False):
    """Gradescope's results.json for one submission: one test per check, worth its points (``result.points``).

    See https://gradescope-autograders.readthedocs.io/en/latest/specs/.  A
    failed check's output holds its message, then where it fails (worst
    element, smallest failing configuration, trigger facts), the hints and
    the command that reproduces it.  ``visibility`` maps check names to
    Gradescope's visibility of their tests (a check left out: visible).  With
    ``hide_hints`` only the message stays in a visible check's test; the rest
    goes into a test worth no points shown after the due date (visibility
    "after_due_date").  With ``hide_hints`` or any check not visible, so do
    the top-level reproduction command, the run's seed (with it, the student
    could rerun the whole search and read every hint) and what the student's
    code printed (it could print the configurations it was given), in a test
    no more visible than the least visible check.  Gradescope hides a
    student's total while any test is hidden, so the top-level output, always
    visible, states the score of the checks shown.  With ``show_one`` (and
    ``hide_hints``) it also shows one place where the layer fails before the
    due date: the smallest failing configuration of the first finding of
    visible checks, and the command that reproduces that configuration alone
    (its data seed, never the run's seed).
    """
    visibility = visibility or {}
    checks = {check.name: check for check in submission.checks}
    points = _points(result)
    tests = [test for number, name in enumerate(points, 1)
             for test in _gradescope_tests(number, name, result.layer, checks.get(name), submission, points[name],
                                           visibility.get(name, VISIBLE), hide_hints)]
    withheld = hide_hints or any(shown != VISIBLE for shown in visibility.values())
    if withheld:
        tests.append({"name": "How this was graded", "number": str(len(points) + 1), "score": 0.0,
                      "max_score": 0.0, "visibility": _least_visible(AFTER_DUE, *visibility.values()),
                      "output": _seed_text(submission, result)})
    data = {"score": float(submission.score), "execution_time": int(round(submission.duration_s)),
            "output": "\n".join(_gradescope_summary(submission, result, withheld, visibility, show_one)),
            "tests": tests,
            "extra_data": {"sandbox": result.sandbox, "sandbox_problem": result.sandbox_problem}}
    return json.dumps(_finite(data), allow_nan=False, default=json_number, indent=2) + "\n"


def _least_visible(*visibilities):
    """The visibility that shows least of ``visibilities`` (Gradescope's, from visible to hidden)."""
    return max(visibilities, key=VISIBILITIES.index)


def graded_check_text(check, submission):
    """(message, details) a student reads of one graded check (None: it never ran); details only for a failure."""
    if check is None:
        return (f"not run: {submission.error}" if submission.error else "not run"), []
    if check.status == "fail":
        return grade_check_lines(check, submission.report)
    if check.status == "skip":
        return f"skipped: {check.message}", []
    return check.message or "passed", []


def grade_to_classroom(submission, result):
    """GitHub Classroom's autograding result for one submission, as its grading reporter
    (classroom-resources/autograding-grading-reporter) reads it from a runner step's ``result`` output (base64):
    ``{"version": 1, "status": "pass" | "fail" | "error", "max_score": points, "tests": [{"name", "status",
    "score", "message"}]}``, one test per check worth its points (``result.points``).  The reporter sums the
    tests' scores into the points Classroom's gradebook shows, and fails the workflow run unless status is
    "pass"."""
    checks = {check.name: check for check in submission.checks}
    points = _points(result)
    tests = []
    for name in points:
        check = checks.get(name)
        message, details = graded_check_text(check, submission)
        status = "pass" if check is not None and check.status == "pass" else "error" if check is None else "fail"
        notes = [f"note: {note}" for note in check.notes] if check is not None else []
        tests.append({"name": check_title(name, result.layer), "status": status,
                      "score": submission.earned_by(name), "message": "\n".join([message, *details, *notes])})
    status = "pass" if submission.passed else "error" if submission.error else "fail"
    data = {"version": 1, "status": status, "max_score": sum(points.values()), "tests": tests}
    return json.dumps(_finite(data), allow_nan=False, default=json_number) + "\n"


def _gradescope_tests(number, name, layer, check, submission, points, shown, hide_hints):
    """The test scoring check ``name`` (None: it never ran) with ``points``, visibility ``shown``, followed when
    it is visible and ``hide_hints`` by the test that holds, after the due date, what its failure shows beyond
    its message."""
    passed = check is not None and check.status == "pass"
    output, details = graded_check_text(check, submission)
    withheld = details if hide_hints and shown == VISIBLE else []
    if withheld:
        output += "\nWhere it fails, hints and a command that reproduces it: shown after the due date."
    else:
        output = "\n".join([output, *details])
    if check is not None and check.notes:
        output += "".join(f"\nnote: {note}" for note in check.notes)
    tests = [{"name": check_title(name, layer), "number": str(number),
              "score": float(submission.earned_by(name)), "max_score": float(points),
              "status": "passed" if passed else "failed", "visibility": shown, "output": output}]
    if withheld:
        tests.append({"name": f"{name}: where it fails, hints and how to reproduce it", "number": f"{number}.1",
                      "score": 0.0, "max_score": 0.0, "visibility": AFTER_DUE, "output": "\n".join(withheld)})
    return tests


def _seed_text(submission, result):
    """What --hide-hints-until-due withholds about the whole run: its seed, the command that reruns it, and what
    the student's code printed while it ran."""
    lines = [f"{result.examples} configurations drawn with seed {result.seed}."]
    if submission.report is not None:
        lines.append(f"The whole search, on your machine: {submission.report.reproduce}")
    return "\n".join(lines + _printed_lines(submission))


def _gradescope_summary(submission, result, withheld, visibility, show_one=False):
    """The lines of results.json's top-level output: the score of the checks shown, isolation, why grading
    stopped, what was printed (unless ``withheld``; then with ``show_one``, one place where it fails)."""
    report = submission.report
    seed = "" if withheld else f", seed {result.seed}"
    lines = [f"gradcheck {_graded_text(result, ', ')}: {_shown_score(submission, result, visibility)}, "
             f"{_scoring(result)} ({result.examples} configurations{seed})."]
    lines += [f"{label.rstrip(':').capitalize()}: {text}." for label, text in scope_lines(report)] \
        if isinstance(report, api.Report) else []
    if result.sandbox == "none":
        lines.append("Not isolated: your code ran without the bwrap sandbox (--sandbox none), as a plain process of "
                     "the grader's user, which it could interfere with.")
    elif result.sandbox == "user":
        text = as_users(result)
        lines.append(text[0].upper() + text[1:] + ".")
    lines += _gradescope_refusals(report)
    if submission.error:
        lines.append(f"Not graded fully: {submission.error}")
        if report is not None and report.stopped is not None:
            lines.append(STOPPED_RULE)
    if report is not None and report.counterexample is not None and not withheld:
        lines.append(f"Reproduce on your machine: {report.counterexample.reproduce}")
    if report is not None and withheld and show_one:
        lines += _one_failure(report, visibility)
    lines += [f"Note: {note}" for note in (report.notes if report is not None else ())]
    if withheld and (submission.stdout or submission.stderr):
        lines.append("What your code printed while it was graded: shown after the due date (it could show the "
                     "configurations it was checked on).")
    elif not withheld:
        lines += _printed_lines(submission)
    return lines


def _one_failure(report, visibility):
    """The lines showing the first finding whose checks are all visible: its configuration and the command that
    checks that configuration alone, on its data seed."""
    shown = [finding for finding in report.findings
             if all(visibility.get(check.name, VISIBLE) == VISIBLE for check in finding.checks)]
    if not shown:
        return []
    finding = shown[0]
    names = " and ".join(check.name for check in finding.checks)
    return [f"One place where {names} fails (where else, why and the hints: after the due date): "
            f"{configuration_text(finding, _layout_of(report))}.",
            f"Reproduce it on your machine: {finding.reproduce}"]


def _shown_score(submission, result, visibility):
    """"score S of M", of the visible checks only when some are not (saying how many points the others hold)."""
    points = _points(result)
    unseen = [name for name in points if visibility.get(name, VISIBLE) != VISIBLE]
    if not unseen:
        return f"score {submission.score} of {submission.max_score}"
    score = round(sum(submission.earned_by(name) for name in points if name not in unseen), 2)
    held = sum(points[name] for name in unseen)
    return (f"score {score} of {submission.max_score - held} on the checks shown now (the score of "
            f"{', '.join(unseen)}, worth {held} more, is not shown now)")


def _printed_lines(submission):
    lines = []
    for title, text in (("Your code printed", submission.stdout), ("Your code printed on stderr", submission.stderr)):
        if text:
            lines += ["", f"{title} (the start of it):", text]
    return lines


def _gradescope_refusals(report):
    """What the submission refuses on purpose, and that grading, which is strict, fails every check there."""
    if report is None:
        return []
    refusals = [finding.refusal for finding in report.findings if finding.kind == "refusal"]
    if not refusals:
        return []
    return [f"Your code refuses some configurations on purpose ({'; '.join(refusals)}). Grading is strict: no check "
            "can be made on a configuration your code refuses, so every check fails."]


def grade_to_junit(result):
    """One <testsuite> per submission, with the same <testcase>s for every submission: one per check, and
    "submission", which errs when the submission could not be graded fully; a check that never ran because
    of that error errs with it."""
    names = _check_names(result)
    suites = ET.Element("testsuites", name=f"gradcheck.grade.{result.layer}")
    for submission in result.submissions:
        checks = {check.name: check for check in submission.checks}
        failures = sum(check.status == "fail" for check in submission.checks)
        skipped = sum(check.status == "skip" for check in submission.checks)
        errors = (len(names) - len(checks) + 1) if submission.error else 0
        suite = ET.SubElement(suites, "testsuite", name=_xml(submission.name), tests=str(len(names) + 1),
                              failures=str(failures), errors=str(errors), skipped=str(skipped),
                              time=f"{submission.duration_s:.3f}")
        properties = ET.SubElement(suite, "properties")
        for key, value in (("score", submission.score), ("max_score", submission.max_score),
                           ("passed", str(submission.passed).lower()), ("path", submission.path),
                           ("sandbox", result.sandbox), ("sandbox_problem", result.sandbox_problem)):
            if value is not None:
                ET.SubElement(properties, "property", name=key, value=_xml(value))
        classname = f"gradcheck.grade.{_xml(submission.name)}"
        for name in names:
            case = ET.SubElement(suite, "testcase", classname=classname, name=name)
            check = checks.get(name)
            if check is None:
                ET.SubElement(case, "error", message=_xml(f"not run: {submission.error or 'no result'}"))
            elif check.status == "fail":
                verdict, details = grade_check_lines(check, submission.report)
                failure = ET.SubElement(case, "failure", message=_xml(verdict))
                failure.text = _xml("\n".join([verdict, *details]))
            elif check.status == "skip":
                ET.SubElement(case, "skipped", message=_xml(check.message))
        case = ET.SubElement(suite, "testcase", classname=classname, name="submission")
        if submission.error:
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
        verdict = Text(grade_verdict(submission), style="bold green" if submission.passed else "bold red")
        table.add_row(Text(submission.name), verdict, f"{submission.score}/{submission.max_score}",
                      f"{submission.duration_s:.1f} s", Text(submission.reason))
    console.print(table)
    verdict, settings = grade_summary(result)
    console.print(Text.assemble((verdict, "bold green" if result.passed == len(result.submissions) else "bold red"),
                                settings))
    if result.sandbox == "none":
        console.print(Text(f"warning: {not_isolated(result)}", style="bold red"))
    elif result.sandbox == "user":
        console.print(Text(as_users(result), style="dim"))
    _render_causes(by_cause(result), console)


def grade_verdict(submission):
    """PASSED, FAILED, or ERROR: it could not be graded fully."""
    return "PASSED" if submission.passed else "ERROR" if submission.error else "FAILED"


def grade_summary(result):
    """('1 of 3 passed', ' (1 could not be graded fully) · conv · Conv2d · seed 0 · ...'): how many passed, and
    what they were graded with."""
    errors = sum(bool(submission.error) for submission in result.submissions)
    limits = result.limits
    return (f"{result.passed} of {len(result.submissions)} passed",
            (f" ({errors} could not be graded fully)" if errors else "") +
            f" · {_graded_text(result, ' · ')} · seed {result.seed} · {result.examples} configurations "
            f"each · limits {limits.timeout:g} s, {limits.memory} MB · {result.duration_s:.1f} s")


def _render_causes(causes, console):
    """The class's failures by cause: each with its students, its hints and a command that shows it."""
    if not causes:
        return
    console.print(Text("\nFailures by cause", style="bold"))
    for cause in causes:
        console.print(Padding(Text.assemble((cause.label, "bold"), f" · {students_text(cause.students)}"),
                              (0, 0, 0, 2)))
        for hint in cause.hints:
            console.print(Padding(Text(f"hint: {hint}"), (0, 0, 0, 4)))
        if cause.reproduce:
            console.print(Padding(Text(f"reproduce ({reproduce_whose(cause)}): {cause.reproduce}", style="dim"),
                                  (0, 0, 0, 4)))


def students_text(names):
    """'2 students: bob, erin'."""
    return f"{len(names)} student{'s' if len(names) != 1 else ''}: {', '.join(names)}"


def reproduce_whose(cause):
    """Whose code a cause's reproduction command runs, and how: outside the sandbox."""
    return f"runs {cause.students[0]}'s code on this machine, outside any sandbox"


HTML_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; padding: 0 1em; color: #222; }
code, pre { font-family: ui-monospace, monospace; font-size: 0.9em; }
pre { background: #f4f4f4; padding: 0.5em; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; } td, th { padding: 0.2em 0.8em; text-align: left; vertical-align: top; }
tr:nth-child(even) { background: #f7f7f7; } .passed { color: #1a7f37; } .failed { color: #c62828; }
.warning { color: #c62828; font-weight: bold; } svg text { font-size: 12px; }
"""
BAR_WIDTH, BAR_GAP, CHART_HEIGHT = 36, 8, 160  # pixels of the score chart


def grade_to_html(result):
    """A static page for the instructor: the summary, the distribution of scores (an inline SVG bar chart), the
    failures by cause with their students, hints and a command for each, and every submission's grade."""
    page = ET.Element("html", lang="en")
    head = ET.SubElement(page, "head")
    ET.SubElement(head, "meta", charset="utf-8")
    title = f"gradcheck grade: {_graded_text(result, ' · ')}"
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "style").text = HTML_STYLE
    body = ET.SubElement(page, "body")
    ET.SubElement(body, "h1").text = title
    verdict, settings = grade_summary(result)
    _html_text(body, "p", verdict + settings, "summary")
    if result.sandbox == "none":
        _html_text(body, "p", f"warning: {not_isolated(result)}", "warning")
    elif result.sandbox == "user":
        _html_text(body, "p", as_users(result))
    ET.SubElement(body, "h2").text = "Scores"
    body.append(_score_chart(result))
    causes = by_cause(result)
    ET.SubElement(body, "h2").text = f"Failures by cause ({len(causes)})"
    for cause in causes:
        section = ET.SubElement(body, "section", {"class": "cause", "data-kind": cause.kind})
        _html_text(section, "h3", cause.label)
        _html_text(section, "p", students_text(cause.students), "students")
        if cause.hints:
            hints = ET.SubElement(section, "ul", {"class": "hints"})
            for hint in cause.hints:
                _html_text(hints, "li", hint)
        if cause.reproduce:
            _html_text(section, "p", f"reproduce ({reproduce_whose(cause)}):")
            _html_text(section, "pre", cause.reproduce, "reproduce")
    ET.SubElement(body, "h2").text = "Submissions"
    body.append(_submission_table(result))
    return "<!DOCTYPE html>\n" + ET.tostring(page, encoding="unicode", method="html") + "\n"


def _html_text(parent, tag, text, css_class=None):
    element = ET.SubElement(parent, tag, {"class": css_class} if css_class else {})
    element.text = _xml(text)
    return element


def _score_chart(result):
    """An SVG bar per score from 0 to the maximum: how many submissions scored it (a partial score with the
    whole number below it)."""
    top = max((submission.max_score for submission in result.submissions), default=0)
    counts = [sum(math.floor(submission.score) == score for submission in result.submissions)
              for score in range(top + 1)]
    most = max(counts, default=0) or 1
    svg = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "role": "img", "class": "scores",
                             "width": str((top + 1) * (BAR_WIDTH + BAR_GAP)), "height": str(CHART_HEIGHT + 40)})
    ET.SubElement(svg, "title").text = "submissions per score"
    for score, count in enumerate(counts):
        height = round(CHART_HEIGHT * count / most)
        x = score * (BAR_WIDTH + BAR_GAP)
        ET.SubElement(svg, "rect", {"x": str(x), "y": str(20 + CHART_HEIGHT - height), "width": str(BAR_WIDTH),
                                    "height": str(height), "fill": "#4a78c2", "data-score": str(score),
                                    "data-count": str(count)})
        for y, text in ((14 + CHART_HEIGHT - height, count), (CHART_HEIGHT + 36, f"{score}/{top}")):
            ET.SubElement(svg, "text", {"x": str(x + BAR_WIDTH // 2), "y": str(y),
                                        "text-anchor": "middle"}).text = str(text)
    return svg


def _submission_table(result):
    table = ET.Element("table", {"class": "submissions"})
    header = ET.SubElement(table, "tr")
    for column in ("submission", "verdict", "score", "time", "reason"):
        ET.SubElement(header, "th").text = column
    for submission in result.submissions:
        row = ET.SubElement(table, "tr")
        cells = (submission.name, grade_verdict(submission), f"{submission.score}/{submission.max_score}",
                 f"{submission.duration_s:.1f} s", submission.reason)
        for column, text in enumerate(cells):
            cell = _html_text(row, "td", text)
            if column == 1:
                cell.set("class", "passed" if submission.passed else "failed")
    return table


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
