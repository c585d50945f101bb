"""The layer catalogue beyond conv and pooling: one module a kind, found in this package by the KIND it defines.

A Kind says what the layer computes, the shapes of its inputs (x first,
then its parameters in the order its class takes them; symbols as
``gradcheck fn`` declares them) and its reference formulations, classes of
``reference_layers`` written as "Deep Learning from Scratch" writes its
layers.  ``gradcheck KIND --impl FILE:NAME`` checks a user's layer of that
kind, a class like the references (``Affine(W, b)``, ``forward(x)``,
``backward(dout) -> dx``, gradients in ``dW``, ``db``) or a cs231n pair of
functions (``affine_forward(x, w, b) -> (out, cache)``,
``affine_backward(dout, cache) -> (dx, dw, db)``): its forward and every
gradient against the first reference's, over the shapes the search draws
(``generic``: smallest failing configuration, tested facts, reproduce
command).  Adding a kind is adding a module here.
"""
import copy
import dataclasses
import functools
import importlib
import inspect
import pkgutil
from dataclasses import dataclass

import numpy as np

from ..generic import Finding, Mistake, Pair, Signature, UserError, call, check_function, impl_words
from ..userfiles import LoadError, Source, find_backward


__all__ = ["Kind", "Mistake", "as_pair", "catalogue", "check_kind", "symbols"]


@dataclass(frozen=True)
class Kind:
    name: str
    summary: str
    shapes: dict  # input name -> its axes: what forward takes first, then the parameters the class takes, in order
    formulations: tuple  # reference classes, independent of each other
    mistakes: tuple = ()  # generic.Mistake: what students compute instead, and the hint that names it
    extra: tuple = ()  # what a cs231n forward function takes after the arrays (a bn_param dict), copied each call
    options: object = None  # options(pair): (keywords for the reference's constructor, a note), read off the layer
    arguments: int = 1  # how many inputs a class's forward takes (x; x and the labels for a loss)
    integers: dict = dataclasses.field(default_factory=dict)  # inputs holding integers below a bound: {"y": "C"}
    booleans: tuple = ()  # inputs holding True/False (a mask)
    loss: bool = False  # forward returns a scalar loss; see as_pair
    dims: dict = dataclasses.field(default_factory=dict)  # a symbol's range when not 1..4: {"C": "2..4"}
    classes: bool = True  # False: cs231n functions only (the courses' classes share no form for the kind)
    made_with: dict = dataclasses.field(default_factory=dict)  # what a class's constructor takes after the
    # parameters, in order, by what it is ({"dropout_ratio": 0.25}): passed by position
    seeded: bool = False  # numpy's global random state is seeded before each call: a random mask repeats
    by_reference: bool = True  # False: gradients against finite differences of the layer's own forward
    probes: tuple = ()  # probe(impl) -> [CheckResult]: what the search cannot see (a mode, a rate), run once
    outputs: int = 1  # a forward of several returns them, then its cache (an LSTM step: next_h, next_c, cache)
    hints: dict = dataclasses.field(default_factory=dict)  # check name -> the hint its failure gets (any layer's)
    adapt: object = None  # adapt(pair) -> (pair, a note): the user's pair fitted to a course's other input shapes

    @property
    def parameters(self):
        return list(self.shapes)[self.arguments:]


def symbols(kind):
    """{symbol: (lowest, highest)} of the kind's shapes (N, D, M), by default."""
    return Signature.parse(kind.shapes, kind.dims, kind.integers, kind.booleans).bounds


def catalogue():
    """{name: Kind} of every module of this package."""
    kinds = {}
    for module in pkgutil.iter_modules(__path__):
        kind = importlib.import_module(f"{__name__}.{module.name}").KIND
        kinds[kind.name] = kind
    return dict(sorted(kinds.items()))


def forms(kind):
    """The forms a layer of ``kind`` may take, said for a user: 'a class NAME(W, b) with ..., or ...'."""
    arguments = ", ".join(list(kind.shapes)[:kind.arguments])
    real = [name for name in kind.shapes if name not in kind.integers and name not in kind.booleans]
    kept = "".join(f", d{name} kept" for name in kind.parameters if name in real)
    if kind.loss:
        function = f"a cs231n function {kind.name}({arguments}) -> (loss, dx)"
        method = f"forward({arguments}) -> loss and backward(dout=1) -> dx"
    else:
        function = (f"a cs231n forward function ({kind.name}_forward({', '.join(kind.shapes)}) -> (out, cache)) "
                    "whose backward returns every gradient in order")
        method = f"forward({arguments}) and backward(dout){' -> dx' if list(kind.shapes)[0] in real else ''}{kept}"
    made = ", ".join([*kind.parameters, *map(repr, kind.made_with.values())])
    told = f" ({', '.join(f'{name} {value!r}' for name, value in kind.made_with.items())})" if kind.made_with else ""
    return f"a class NAME({made}){told} with {method}, or {function}" if kind.classes else function


def check_kind(kind, impl, *, backward=None, source=None, dims=None, examples=None, seed=None, words=()):
    """Check ``impl`` (a class or a forward function of ``kind``) against the kind's reference; a
    generic.FunctionReport.  ``backward`` names a forward function's partner when it is not found by its name in
    ``source`` (a userfiles.Source: the file the user named; default, the function's own module).  LoadError for
    a layer this kind cannot take."""
    if inspect.isclass(impl) and not kind.classes:
        raise LoadError(f"{kind.name} takes {forms(kind)}; {impl.__name__} is a class, and the courses' classes of "
                        "this kind share no form")
    pair, adapted = kind.adapt(as_pair(impl, kind, backward, source)) if kind.adapt else \
        (as_pair(impl, kind, backward, source), "")
    options, note = kind.options(pair) if kind.options else ({}, "")
    reference = dataclasses.replace(as_pair(kind.formulations[0], kind, **options), mistakes=kind.mistakes) \
        if kind.by_reference else None
    report = check_function(pair.forward, pair.backward, kind.shapes, {**kind.dims, **(dims or {})},
                            integers=kind.integers, booleans=kind.booleans, outputs=kind.outputs,
                            examples=examples, seed=seed,
                            words=tuple(words) or (kind.name, *impl_words(impl, backward)), reference=reference,
                            notes=[text for text in (adapted, note) if text])
    if not kind.by_reference:
        report.against = "finite differences of its own forward"
    for result in report.checks:
        if not result.passed and result.name in kind.hints:
            result.hints.append(kind.hints[result.name])
    for probe in kind.probes:
        for result in probe(impl):
            report.checks.append(result)
            report.notes += [note for note in result.notes if note not in report.notes]
            if not result.passed:
                report.findings.append(Finding([result.name], None, [result], reproduce=report.reproduce))
    return report


def as_pair(impl, kind, backward=None, source=None, **options):
    """A generic Pair for a class of ``kind`` or a cs231n function.

    A class is built with its parameters and the kind's ``made_with`` (then ``options`` as keywords) and its
    forward takes the kind's ``arguments``; its gradients are backward's return (dx, when x holds real
    numbers) and each parameter's d<name> attribute (or its entry in ``grads`` beside ``params``, as "Deep
    Learning from Scratch 2" keeps them).  A cs231n forward function is called with its arrays, then the
    kind's ``extra`` arguments, and its backward is found by name; for a loss, the one function returns
    (loss, dx).  A loss's backward is called as a network calls it, with dout 1 (``backward()``, or
    ``backward(1.0)`` when it needs the argument), and its gradients are scaled by the checks' dout: the same
    for every layer, right or wrong.  A ``seeded`` kind's forward starts from numpy's global random state
    seeded afresh."""
    if kind.seeded:
        return _seeded_pair(impl, kind, backward, source, options)
    if inspect.isclass(impl):
        return _class_pair(impl, kind, options)
    name = getattr(impl, "__name__", "forward")
    if kind.loss:
        return Pair(_named(_returning_loss_and_gradient(impl, name, kind), name),
                    lambda dout, gradient: dout * gradient)
    partner = find_backward(impl, name, source or Source.of(impl), backward).function
    if not kind.extra:
        return Pair(impl, partner)
    return Pair(_named(lambda *arrays: impl(*arrays, *copy.deepcopy(kind.extra)), name), partner)


def _seeded_pair(impl, kind, backward, source, options):
    """``as_pair`` with numpy's global random state seeded before each forward: the same mask every call."""
    pair = as_pair(impl, dataclasses.replace(kind, seeded=False), backward, source, **options)

    def forward(*arrays):
        np.random.seed(0)
        return pair.forward(*arrays)
    return dataclasses.replace(pair, forward=_named(forward, pair.forward.__name__))


def _returning_loss_and_gradient(loss, name, kind):
    """cs231n's loss function as a forward returning (loss, dx): dx is the cache its backward scales."""
    def forward(*arrays):
        returned = loss(*arrays, *copy.deepcopy(kind.extra))
        if not (isinstance(returned, tuple) and len(returned) == 2):
            raise UserError(f"{name} must return (loss, dx), as cs231n's losses do; it returned "
                            f"{type(returned).__name__}")
        return returned
    return forward


def _named(function, name):
    function.__name__ = name
    return function


def _class_pair(impl, kind, options):
    real = [name for name in kind.shapes if name not in kind.integers and name not in kind.booleans]
    takes_real = real[0] in list(kind.shapes)[:kind.arguments]  # the first input is x, or word indices

    def forward(*arrays):
        values = arrays[kind.arguments:]
        layer = call("the constructor", functools.partial(impl, **options), *values, *kind.made_with.values())
        return call("forward", layer.forward, *arrays[:kind.arguments]), (layer, values)

    def backward_of(dout, built):
        layer, values = built
        if kind.loss:
            unit = call("backward", _unit_backward(layer.backward))
            dx = dout * np.asarray(unit, dtype=np.float64) if unit is not None else unit
        else:
            dx = call("backward", layer.backward, dout)
        gradients = [_gradient_of(layer, name, value) for name, value in zip(kind.parameters, values)
                     if name in real]
        return (dx, *gradients) if takes_real else tuple(gradients)
    return Pair(_named(forward, impl.__name__), backward_of)


def _unit_backward(backward):
    """``backward`` called with dout 1, as a network calls a loss's: without the argument when it may."""
    try:
        needs_dout = any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                         for p in inspect.signature(backward).parameters.values())
    except (TypeError, ValueError):
        needs_dout = True
    return functools.partial(backward, 1.0) if needs_dout else backward


def _gradient_of(layer, name, value):
    """The layer's gradient of parameter ``name`` (given as ``value``): its attribute d<name> (any case: dW or
    dw), or the entry of ``grads`` where ``params`` holds ``value``; a UserError (that check fails) when there
    is none or several."""
    wanted = f"d{name}".lower()
    found = [found for attribute, found in vars(layer).items() if attribute.lower() == wanted]
    params, grads = getattr(layer, "params", None), getattr(layer, "grads", None)
    if not found and isinstance(params, list) and isinstance(grads, list) and len(params) == len(grads):
        found = [grad for param, grad in zip(params, grads) if param is value]
    if len(found) != 1:
        return UserError(f"backward must leave the gradient of {name} in self.d{name} (or in self.grads, beside "
                         f"{name} in self.params); {type(layer).__name__} has {'none' if not found else 'several'}")
    return found[0]
