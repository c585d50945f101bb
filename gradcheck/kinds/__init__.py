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

from ..generic import Mistake, Pair, Signature, UserError, call, check_function
from ..userfiles import Source, find_backward


__all__ = ["Kind", "Mistake", "as_pair", "catalogue", "check_kind", "symbols"]


@dataclass(frozen=True)
class Kind:
    name: str
    summary: str
    shapes: dict  # input name -> its axes: x first, then the parameters the class takes, in order
    formulations: tuple  # reference classes, independent of each other
    mistakes: tuple = ()  # generic.Mistake: what students compute instead, and the hint that names it
    extra: tuple = ()  # what a cs231n forward function takes after the arrays (a bn_param dict), copied each call
    options: object = None  # options(pair): (keywords for the reference's constructor, a note), read off the layer

    @property
    def parameters(self):
        return list(self.shapes)[1:]


def symbols(kind):
    """The symbols of the kind's shapes (N, D, M)."""
    return set(Signature.parse(kind.shapes).bounds)


def catalogue():
    """{name: Kind} of every module of this package."""
    kinds = {}
    for module in pkgutil.iter_modules(__path__):
        kind = importlib.import_module(f"{__name__}.{module.name}").KIND
        kinds[kind.name] = kind
    return dict(sorted(kinds.items()))


def check_kind(kind, impl, *, backward=None, dims=None, examples=None, seed=None, words=()):
    """Check ``impl`` (a class or a forward function of ``kind``) against the kind's reference; a
    generic.FunctionReport.  ``backward`` names a forward function's partner when it is not found by its name."""
    pair = as_pair(impl, kind, backward)
    options, note = kind.options(pair) if kind.options else ({}, "")
    reference = dataclasses.replace(as_pair(kind.formulations[0], kind, **options), mistakes=kind.mistakes)
    return check_function(pair.forward, pair.backward, kind.shapes, dims, examples=examples, seed=seed,
                          words=words, reference=reference, notes=[note] if note else [])


def as_pair(impl, kind, backward=None, **options):
    """A generic Pair for a class of ``kind`` (built with its parameters, then ``options`` as keywords) or a
    cs231n forward function (called with its arrays, then the kind's ``extra`` arguments)."""
    if not inspect.isclass(impl):
        name = getattr(impl, "__name__", "forward")
        partner = find_backward(impl, name, Source.of(impl), backward).function
        if not kind.extra:
            return Pair(impl, partner)

        def with_extra(*arrays):
            return impl(*arrays, *copy.deepcopy(kind.extra))
        with_extra.__name__ = name
        return Pair(with_extra, partner)
    parameters = kind.parameters

    def forward(x, *values):
        layer = call("the constructor", functools.partial(impl, **options), *values)
        return call("forward", layer.forward, x), layer

    def backward_of(dout, layer):
        dx = call("backward", layer.backward, dout)
        return (dx, *(_gradient_of(layer, name) for name in parameters))
    forward.__name__ = impl.__name__
    return Pair(forward, backward_of)


def _gradient_of(layer, name):
    """The layer's gradient of parameter ``name``: its attribute d<name> (any case: dW or dw); a UserError (that
    check fails) when there is none or several."""
    wanted = f"d{name}".lower()
    found = [value for attribute, value in vars(layer).items() if attribute.lower() == wanted]
    if len(found) != 1:
        return UserError(f"backward must leave the gradient of {name} in self.d{name}; "
                         f"{type(layer).__name__} has {'none' if not found else 'several'}")
    return found[0]
