"""Which layout a layer reads, decided by a probe; and a report shown in that layout.

The engine speaks NCHW throughout (x and out (N, C, H, W), W (F, C, KH, KW),
b (F,)); a layer that reads channels-last arrays is wrapped at the boundary
(``adapters.Relaid``, in the sandboxed child too), and only the report is
turned back into the layer's own layout, here, once, for every format.

``choose`` decides the layout in the grading process, never in the child:
it builds the layer in each candidate layout on ``probe_config``, whose N, C,
H, W and F all differ, and calls forward; the first layout whose output has
the expected shape is the one the layer reads.  When none has, a layout in
which forward got past every shape and raised only what it would raise in
any layout (float() of an array on this NumPy) is the one it reads; else the
convention's own, which is tried first (a layer too wrong for either is
checked, and its failures are real ones).  A layout given that the probe
contradicts is refused with one line saying which one the layer reads.
"""
import ast
import re
from dataclasses import replace

import numpy as np

from .adapters import BIAS_FORMS, ENGINE_AXES, LAYOUTS, NCHW, ImplementationError, Layout, natural_layout
from .config import Config
from .diagnose import SCALAR_CONVERSION
from .inputs import make_inputs

KINDS = {"forward": "x", "dX": "x", "dW": "W", "dB": "b", "ties": "x", "weights-live": "x"}  # check -> array kind
SLICE = re.compile(r"\[:, :, ([^,\[\]]+), ([^,\[\]]+)\]")  # a hint's slice of x's height and width, in NCHW
FIRST = re.compile(r"the first at \[[\d, ]+\]")
STACKED = re.compile(r"(a stacked call returned shape )(\([\d, ]*\))(, not )(\([\d, ]*\))")  # evaluate's note
SIDES = {"nchw": "channels-first", "nhwc": "channels-last"}


def candidates(convention, layer):
    """The layouts a layer of ``convention`` may read, its convention's own first: NCHW and NHWC, for a conv
    with W as (KH, KW, C, F) or (F, KH, KW, C), and when channels-last b as (F,) or (1, 1, 1, F)."""
    natural = natural_layout(convention)
    layouts = [Layout("NCHW", "FCHW", natural.b)]
    for w in ("HWCF", "FHWC") if layer == "conv" else ("HWCF",):
        biases = sorted(BIAS_FORMS, key=lambda b: b != natural.b) if layer == "conv" else (natural.b,)
        layouts += [Layout("NHWC", w, b) for b in biases]
    return sorted(layouts, key=lambda layout: layout != natural)


def probe_config(layer, pinned):
    """A small configuration whose N, C, H, W and F all differ, so that an output's shape tells which layout the
    layer read x (and W) in; with what the convention pins."""
    if layer == "conv":
        base = Config.conv(batch=2, channels=3, filters=5, size=(9, 8), kernel=2)
    else:
        base = Config.pool(layer[:3], batch=2, channels=3, size=(9, 8), kernel=2)
    try:
        return base.replace(**pinned)
    except ValueError:
        return base


def choose(implementation, layer, requested="auto", stop_on=()):
    """The Layout to check ``implementation`` in: the first candidate a probe forward agrees with, else the first
    in which forward raised only what it raises in any layout, else the convention's own.  ValueError (one line) when ``requested`` ("nchw" or "nhwc") is not what the probe shows.

    An exception of a type in ``stop_on`` (the sandbox died) ends the probing: the convention's own layout is
    taken, and the run that follows reports the death.
    """
    if requested not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {requested!r}")
    config = probe_config(layer, implementation.pinned)
    inputs = make_inputs(config, 0)
    layouts = candidates(implementation.convention, layer)
    scores = {}
    try:
        for layout in layouts:
            scores[layout] = _agreement(implementation, config, inputs, layout)
            if scores[layout] == AGREES:
                break
    except stop_on:
        pass
    reads = next((layout for layout, score in scores.items() if score == AGREES), None)
    if reads is not None and requested not in ("auto", reads.name):
        raise ValueError(_misread(implementation.name, config, reads, requested))
    allowed = [layout for layout in layouts if requested in ("auto", layout.name)]
    return reads or next((layout for layout in allowed if scores.get(layout) == RAISES_IN_ANY_LAYOUT), allowed[0])


AGREES, RAISES_IN_ANY_LAYOUT = 2, 1  # how well a probe in a layout agrees with it; 0 not at all


def _agreement(implementation, config, inputs, layout):
    """AGREES when forward, given x in ``layout``, returns an output of the expected shape;
    RAISES_IN_ANY_LAYOUT when it raised only an error that says nothing of the layout; else 0."""
    try:
        subject = implementation.make(config, {name: value.copy() for name, value in inputs.params.items()}, layout)
        return AGREES if subject.forward(inputs.x.copy()).shape == config.out_shape else 0
    except ImplementationError as error:
        return RAISES_IN_ANY_LAYOUT if error.kind == "TypeError" and SCALAR_CONVERSION in error.detail else 0


def _misread(name, config, reads, requested):
    return (f"{name} reads {SIDES[reads.name]} input: forward of x {reads.shape('x', config.x_shape)} as "
            f"{reads.text('x')} returned the expected {reads.shape('x', config.out_shape)}; pass --layout "
            f"{reads.name} (or leave --layout auto), not --layout {requested}")


def sentence(layout, layer):
    """What the header says of a layer that does not read NCHW."""
    arrays = f"x {layout.text('x')}" + (f", W {layout.text('W')}, b {layout.text('b')}" if layer == "conv" else "")
    return f"{SIDES[layout.name]}, {arrays}: shapes and indices below are in the layer's layout"


def describe(config, layout):
    """``config.describe()`` with x's and W's shapes in ``layout``."""
    text = config.describe()
    shapes = [("x", config.x_shape)] + ([("W", config.param_shapes["W"])] if config.is_conv else [])
    for kind, shape in shapes:
        text = text.replace(f"{kind} {shape}", f"{kind} {layout.shape(kind, shape, expected=True)}", 1)
    return text


def relaid(report, layout):
    """``report`` with every index, shape, mismatch map and hint in ``layout``, the layout it is in recorded.

    A check result shared by the summary and a finding is converted once.
    """
    if layout == NCHW:
        return report
    converted = {}

    def convert(result):
        if id(result) not in converted:
            converted[id(result)] = _result(result, layout)
        return converted[id(result)]

    findings = [replace(finding, checks=[convert(result) for result in finding.checks],
                        hints=[_hint(hint, layout) for hint in finding.hints]) for finding in report.findings]
    return replace(report, checks=[convert(result) for result in report.checks], findings=findings, layout=layout)


def _kind(result):
    """What array a check result's indices and shapes are of: "x" (x, out and their gradients), "W" or "b"."""
    if result.name in ("repeatable", "fresh-cache"):
        what = (result.against or result.message).removeprefix("first ").split(" ")[0]
        return KINDS.get(what)
    return KINDS.get(result.name)


def _result(result, layout):
    kind = _kind(result)
    changes = {"hints": [_hint(hint, layout) for hint in result.hints],
               "notes": [STACKED.sub(lambda match: _stacked(match, layout), note) for note in result.notes]}
    if kind is None:
        return replace(result, **changes)
    if result.worst_index is not None:
        changes["worst_index"] = layout.index(kind, result.worst_index)
    if result.mismatches is not None and result.mismatches.ndim == len(ENGINE_AXES[kind]):
        changes["mismatches"] = layout.to_layer(kind, result.mismatches)
        first = [int(i) for i in np.argwhere(changes["mismatches"])[0]] if changes["mismatches"].any() else None
        changes["message"] = FIRST.sub(f"the first at {first}", result.message)
    if result.shapes is not None:
        actual, expected = layout.shape(kind, result.shapes[0]), layout.shape(kind, result.shapes[1], expected=True)
        words = {str(tuple(result.shapes[0])): str(actual), str(tuple(result.shapes[1])): str(expected)}
        pattern = "|".join(re.escape(text) for text in words)
        message = changes.get("message", result.message)
        changes["message"] = re.sub(pattern, lambda match: words[match.group(0)], message)
        changes["shapes"] = (actual, expected)
    return replace(result, **changes)


def _stacked(match, layout):
    """A stacked call's output shape and the expected one, as the layer made them."""
    made, expected = (ast.literal_eval(match.group(n)) for n in (2, 4))
    return f"{match.group(1)}{layout.shape('x', made)}{match.group(3)}{layout.shape('x', expected, expected=True)}"


def _hint(text, layout):
    """A hint's slices of x and its W shape in ``layout``: dx[:, :, 1:5, 1:5] becomes dx[:, 1:5, 1:5, :]."""
    def slice_in_layout(match):
        parts = {"N": ":", "C": ":", "H": match.group(1), "W": match.group(2)}
        return "[" + ", ".join(parts[axis] for axis in layout.x) + "]"

    text = SLICE.sub(slice_in_layout, text)
    return text.replace("W's shape (F, C, KH, KW)", f"W's shape {layout.text('W')}")
