"""The layer catalogue: one module a kind, found in this package by the KIND it defines.

Conv and the pools (``conv``, ``maxpool``, ``avgpool``) are ``WindowedKind``s:
a window slides over x (N, C, H, W), and ``gradcheck conv`` and ``gradcheck
pool`` check them on the windowed engine (``gradcheck.api``: geometry strata,
structured finite differences, ties, their own hints).  Every other kind is a
``Kind``: it says what the layer computes, how its layers are called (its
``forms.Form``: the shapes of its inputs, x first, then its parameters in
the order its class takes them, symbols as ``gradcheck fn`` declares them;
what its classes and cs231n functions take besides) and its reference
formulations, classes of ``reference_layers`` written as "Deep Learning
from Scratch" writes its layers.  ``gradcheck KIND --impl FILE:NAME`` checks a user's layer of that
kind, a class like the references (``Affine(W, b)``, ``forward(x)``,
``backward(dout) -> dx``, gradients in ``dW``, ``db``) or a cs231n pair of
functions (``affine_forward(x, w, b) -> (out, cache)``,
``affine_backward(dout, cache) -> (dx, dw, db)``): its forward and every
gradient against the first reference's, over the shapes the search draws
(``generic``: smallest failing configuration, tested facts, reproduce
command).  Adding a kind is adding a module here.
"""
import dataclasses
import functools
import importlib
import inspect
import pkgutil
from dataclasses import dataclass

from ..forms import Form, as_pair, layer_pair
from ..generic import CHECKS, Finding, Mistake, Signature, check_function, impl_words
from ..modes import modes_layer


__all__ = ["Kind", "Mistake", "WindowedKind", "catalogue", "check_kind", "symbols", "windowed"]


@dataclass(frozen=True)
class Kind:
    summary: str
    form: Form  # how its layers are called: its name, its inputs' shapes (x first, then the parameters in the
    # order its class takes them; symbols as ``gradcheck fn`` declares them), what its class and functions take
    formulations: tuple  # reference classes, independent of each other
    mistakes: tuple = ()  # generic.Mistake: what students compute instead, and the hint that names it
    options: object = None  # options(pair): (keywords for the reference's constructor, a note), read off the layer
    dims: dict = dataclasses.field(default_factory=dict)  # a symbol's range when not 1..4: {"C": "2..4"}
    by_reference: bool = True  # False: gradients against finite differences of the layer's own forward
    probes: tuple = ()  # probe(make) -> [CheckResult]: what the search cannot see (a mode, a rate), run once on
    # the layer ``make(*parameters)`` builds as a modes.ModesLayer (see ``modes``)
    probed: tuple = ()  # the names of the checks the probes report, in order
    hints: dict = dataclasses.field(default_factory=dict)  # check name -> the hint its failure gets (any layer's)
    adapt: object = None  # adapt(pair) -> (pair, a note): the user's pair fitted to a course's other input shapes

    @property
    def name(self):
        return self.form.name

    @property
    def cs231n_name(self):
        return self.form.cs231n_name

    @property
    def checks(self):
        """The checks of a report on the kind, in order: its search's, then its probes' (``probed``)."""
        return [*CHECKS, *(f"d{name}" for name in self.form.real), *self.probed]

    def modes(self, impl):
        """make(*parameters) -> ``impl`` built as a modes.ModesLayer, in this process: what the probes call."""
        return functools.partial(modes_layer, impl, self.form)


@dataclass(frozen=True)
class WindowedKind:
    """A layer whose window slides over x (N, C, H, W): conv and the pools, checked on the windowed engine."""

    name: str
    summary: str
    command: tuple  # the gradcheck command that checks it, before its pins: ("pool", "--mode", "max")
    formulations: tuple  # reference classes of reference_layers, independent of each other; the first is used
    checks: tuple  # the names of its checks (``gradcheck.checks``), in order
    calls: int  # output-sized evaluations one configuration's checks make: the search's budget (``strategies``)
    weights: bool = False  # it takes W (F, C, KH, KW) and b (F): filters and dilation are dimensions of it
    cs231n_name: str = ""  # what cs231n's assignment calls its forward, when it has one
    pad_fill: float = 0.0  # what its padding holds (-inf: max pooling's, which no window takes)
    window_gradient: object = None  # window_gradient(config, inputs, dout, patch): what one window's output
    # sends back to its taps, (N, C, KH, KW) (``diagnose``: a backward assigning windows instead of adding them)
    # its own named mistakes, measured before those every windowed kind gets (``gradcheck.diagnose``):
    forward_hints: object = None  # forward_hints(actual, expected, config, inputs, probe) -> [hint]
    gradient_hints: object = None  # gradient_hints(name, actual, expected, config, inputs, probe) -> [hint]
    factors: object = None  # factors(name, config) -> [(factor, hint)]: a gradient off by a factor it names


def symbols(kind):
    """{symbol: (lowest, highest)} of the kind's shapes (N, D, M), by default."""
    return Signature.parse(kind.form.shapes, kind.dims, kind.form.integers, kind.form.booleans).bounds


@functools.cache
def catalogue():
    """{name: Kind or WindowedKind} of every module of this package, by name."""
    kinds = {}
    for module in pkgutil.iter_modules(__path__):
        kind = importlib.import_module(f"{__name__}.{module.name}").KIND
        kinds[kind.name] = kind
    return dict(sorted(kinds.items()))


@functools.cache
def windowed():
    """{name: WindowedKind} of the catalogue: conv and the pools."""
    return {name: kind for name, kind in catalogue().items() if isinstance(kind, WindowedKind)}


def check_kind(kind, impl, *, backward=None, source=None, dims=None, examples=None, seed=None, words=()):
    """Check ``impl`` (a class or a forward function of ``kind``) against the kind's reference; a
    generic.FunctionReport.  ``backward`` names a forward function's partner when it is not found by its name in
    ``source`` (a userfiles.Source: the file the user named; default, the function's own module).  LoadError for
    a layer this kind cannot take."""
    return check_pair(kind, layer_pair(impl, kind.form, backward, source), kind.modes(impl), dims=dims,
                      examples=examples, seed=seed, words=tuple(words) or (kind.name, *impl_words(impl, backward)))


def _given(mistake, options):
    """``mistake`` computed with the options read off the layer that its ``computes`` takes (eps)."""
    taken = {name: value for name, value in options.items()
             if name in inspect.signature(mistake.computes).parameters}
    return dataclasses.replace(mistake, computes=functools.partial(mistake.computes, **taken)) if taken else mistake


def check_pair(kind, pair, make, *, words, dims=None, examples=None, seed=None):
    """``check_kind`` of a layer already made a forms.Pair, and ``make(*parameters)``, what builds it as a
    modes.ModesLayer for the kind's probes (``gradcheck grade``'s run in its sandbox); ``words`` are the command
    line that reproduces it, after "gradcheck"."""
    pair, adapted = kind.adapt(pair) if kind.adapt else (pair, "")
    options, note = kind.options(pair) if kind.options else ({}, "")
    reference = dataclasses.replace(as_pair(kind.formulations[0], kind.form, **options),
                                    mistakes=tuple(_given(mistake, options) for mistake in kind.mistakes),
                                    other=as_pair(kind.formulations[1], kind.form, **options)) \
        if kind.by_reference else None
    report = check_function(pair.forward, pair.backward, kind.form.shapes, {**kind.dims, **(dims or {})},
                            integers=kind.form.integers, booleans=kind.form.booleans, outputs=kind.form.outputs,
                            examples=examples, seed=seed, words=words, reference=reference,
                            notes=[text for text in (pair.note, adapted, note) if text])
    report.notes += sorted(pair.said - set(report.notes))
    if not kind.by_reference:
        report.against = "finite differences of its own forward"
    for result in report.checks:
        if not result.passed and result.name in kind.hints:
            result.hints.append(kind.hints[result.name])
    gated = [f"d{name}" for name in kind.form.parameters]
    if kind.form.gates and any(not result.passed and result.name in gated for result in report.checks):
        report.notes.append(f"{', '.join(gated)}: positions are in the gate order {', '.join(kind.form.gates[0])}; a "
                            f"class's gradients (its gates {', '.join(kind.form.gates[1])}) are moved to that order "
                            "before they are compared")
    for result in (result for probe in kind.probes for result in probe(make)):
        report.checks.append(result)
        report.notes += [note for note in result.notes if note not in report.notes]
        if not result.passed:
            report.findings.append(Finding([result.name], None, [result], reproduce=report.reproduce))
    return report
