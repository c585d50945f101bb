"""How a user's layer of a catalogue kind is called: a class or cs231n functions, seen as one forward/backward Pair.

A ``Form`` is what a kind says about calling its layers (the shapes of its
inputs, what its class's constructor and a cs231n forward take besides the
arrays, whether it is a loss); ``layer_pair(impl, form)`` makes a ``Pair``
of the user's layer in the form ``gradcheck.generic`` checks.  This module
imports only numpy and ``userfiles``, so that ``gradcheck grade``'s
sandboxed child can hold it: there the user's layer is called, and every
check is made in the grading process (``grading.sandbox.SandboxPair``).
"""
import copy
import dataclasses
import functools
import inspect
from dataclasses import dataclass, field, fields

import numpy as np

from .userfiles import LoadError, Source, find_backward, user_location


@dataclass(frozen=True)
class Pair:
    """A forward and its backward, in the form of ``gradcheck.generic``'s docstring; a reference's ``mistakes``
    (generic.Mistake) name what a wrong gradient computed instead."""

    forward: object
    backward: object
    mistakes: tuple = ()


class UserError(Exception):
    """What the pair raised or returned wrong, said in one sentence; ``details`` as a CheckResult holds errors."""

    def __init__(self, message, details=None):
        super().__init__(message)
        self.details = details


def call(what, function, *args):
    """``function(*args)``: what it raises becomes a UserError saying ``what`` raised what, and where in the
    user's code; a UserError from a call within (an adapter's) passes as it is, said once."""
    try:
        with np.errstate(all="ignore"):  # exp() overflowing to a right 0 or 1 is no failure; NaN is judged after
            return function(*args)
    except UserError:
        raise
    except Exception as error:  # the pair's own failure, reported as its check's
        location = user_location(error)
        raise UserError(f"{what} raised {type(error).__name__}: {error}" + (f", at {location}" if location else ""),
                         {"type": type(error).__name__, "message": str(error), "location": location}) from None


@dataclass(frozen=True)
class Form:
    """How a layer of the kind ``name`` is called (see ``gradcheck.kinds.Kind``, which holds these fields)."""

    name: str
    shapes: dict  # input name -> its axes: what forward takes first, then the parameters the class takes, in order
    arguments: int = 1  # how many inputs a class's forward takes (x; x and the labels for a loss)
    integers: dict = field(default_factory=dict)  # inputs holding integers below a bound: {"y": "C"}
    booleans: tuple = ()  # inputs holding True/False (a mask)
    loss: bool = False  # forward returns a scalar loss; see as_pair
    extra: tuple = ()  # what a cs231n forward function takes after the arrays (a bn_param dict), copied each call
    made_with: dict = field(default_factory=dict)  # what a class's constructor takes after the parameters, in
    # order, by what it is ({"dropout_ratio": 0.25}): passed by position
    seeded: bool = False  # numpy's global random state is seeded before each forward: a random mask repeats
    classes: bool = True  # False: cs231n functions only (the courses' classes share no form for the kind)
    function: str = ""  # what cs231n calls its forward, when not NAME_forward (see ``cs231n_name``)
    outputs: int = 1  # how many arrays forward returns (an LSTM step: next_h, next_c), then, from a function, a cache
    gates: tuple = ()  # (the kind's gate order, a class's): a class takes each parameter's last axis as gate blocks
    # in its order (the DLFS 2 book's LSTM: "fgio", where cs231n's functions take "ifog"); see ``gates_moved``
    state: dict = field(default_factory=dict)  # input -> where a class keeps its gradient ({"h0": "dh"}): a class
    # is given these inputs by set_state(...) before forward (the DLFS 2 book's TimeRNN), not by its constructor

    @property
    def parameters(self):
        """What a class's constructor takes, in order: the inputs after forward's arguments but its state."""
        return [name for name in list(self.shapes)[self.arguments:] if name not in self.state]

    @property
    def returned(self):
        """The inputs whose gradients a class's backward returns: those of forward's arguments holding reals."""
        return [name for name in list(self.shapes)[:self.arguments] if name in self.real]

    @property
    def real(self):
        """The inputs holding real numbers: those that get a gradient."""
        return [name for name in self.shapes if name not in self.integers and name not in self.booleans]

    def to_dict(self):
        """The form as JSON, as the grading process sends it to its sandboxed child."""
        return {spec.name: getattr(self, spec.name) for spec in fields(self)}

    @classmethod
    def from_dict(cls, data):
        return cls(**dict(data, extra=tuple(data["extra"]), booleans=tuple(data["booleans"]),
                          gates=tuple(data["gates"])))

    @property
    def cs231n_name(self):
        """What cs231n calls the kind's forward function: ``function``, else NAME_forward (a loss: NAME)."""
        return self.function or (self.name if self.loss else f"{self.name}_forward")

    def _returns(self):
        names = [f"d{name}" for name in self.returned]
        return "" if not names else f" -> {names[0]}" if len(names) == 1 else f" -> ({', '.join(names)})"

    def described(self):
        """The forms a layer may take, said for a user: 'a class NAME(W, b) with ..., or ...'."""
        arguments = ", ".join(list(self.shapes)[:self.arguments])
        kept = "".join(f", d{name} kept in {attribute}" for name, attribute in self.state.items())
        kept += "".join(f", d{name} kept" for name in self.parameters if name in self.real)
        if self.loss:
            function = f"a cs231n function {self.cs231n_name}({arguments}) -> (loss, dx)"
            method = f"forward({arguments}) -> loss and backward(dout=1) -> dx"
        elif self.outputs == 1:
            function = (f"a cs231n forward function ({self.cs231n_name}({', '.join(self.shapes)}) -> (out, cache)) "
                        "whose backward returns every gradient in order")
            method = f"forward({arguments}) and backward(dout){self._returns()}{kept}"
        else:
            function = (f"a cs231n forward function ({self.cs231n_name}({', '.join(self.shapes)}) -> ({self.outputs} "
                        "outputs, cache)) whose backward takes a dout for each and returns every gradient in order")
            method = (f"forward({arguments}) -> its {self.outputs} outputs and backward(a dout for each)"
                      f"{self._returns()}{kept}")
        if self.state:
            method = f"set_state({', '.join(self.state)}), {method}"
        made = ", ".join([*self.parameters, *map(repr, self.made_with.values())])
        told = [f"{name} {value!r}" for name, value in self.made_with.items()]
        told += [f"gates in the order {', '.join(self.gates[1])}"] if self.gates else []
        told = f" ({', '.join(told)})" if told else ""
        return f"a class NAME({made}){told} with {method}, or {function}" if self.classes else function


def layer_pair(impl, form, backward=None, source=None):
    """``as_pair`` for a user's layer; LoadError for a class where the form takes functions only."""
    if inspect.isclass(impl) and not form.classes:
        raise LoadError(f"{form.name} takes {form.described()}; {impl.__name__} is a class, and the courses' "
                        "classes of this kind share no form")
    return as_pair(impl, form, backward, source)


def as_pair(impl, form, backward=None, source=None, **options):
    """A generic Pair for a class of ``form`` or a cs231n function.

    A class is built with its parameters and the form's ``made_with`` (then ``options`` as keywords) and its
    forward takes the form's ``arguments``; its gradients are backward's return (dx, when x holds real
    numbers) and each parameter's d<name> attribute (or its entry in ``grads`` beside ``params``, as "Deep
    Learning from Scratch 2" keeps them).  A cs231n forward function is called with its arrays, then the
    form's ``extra`` arguments, and its backward is found by name (in ``source``, a userfiles.Source: the file
    the user named; default, the function's own module) unless ``backward`` names it; for a loss, the one
    function returns (loss, dx).  A loss's backward is called as a network calls it, with dout 1
    (``backward()``, or ``backward(1.0)`` when it needs the argument), and its gradients are scaled by the
    checks' dout: the same for every layer, right or wrong.  A ``seeded`` form's forward starts from numpy's
    global random state seeded afresh."""
    if form.seeded:
        return _seeded_pair(impl, form, backward, source, options)
    if inspect.isclass(impl):
        return _class_pair(impl, form, options)
    name = getattr(impl, "__name__", "forward")
    if form.loss:
        return Pair(_named(_returning_loss_and_gradient(impl, name, form), name),
                    lambda dout, gradient: dout * gradient)
    partner = find_backward(impl, name, source or Source.of(impl), backward).function
    if not form.extra:
        return Pair(impl, partner)
    return Pair(_named(lambda *arrays: impl(*arrays, *copy.deepcopy(form.extra)), name), partner)


def _seeded_pair(impl, form, backward, source, options):
    """``as_pair`` with numpy's global random state seeded before each forward: the same mask every call."""
    pair = as_pair(impl, dataclasses.replace(form, seeded=False), backward, source, **options)

    def forward(*arrays):
        np.random.seed(0)
        return pair.forward(*arrays)
    return dataclasses.replace(pair, forward=_named(forward, pair.forward.__name__))


def _returning_loss_and_gradient(loss, name, form):
    """cs231n's loss function as a forward returning (loss, dx): dx is the cache its backward scales."""
    def forward(*arrays):
        returned = loss(*arrays, *copy.deepcopy(form.extra))
        if not (isinstance(returned, tuple) and len(returned) == 2):
            raise UserError(f"{name} must return (loss, dx), as cs231n's losses do; it returned "
                            f"{type(returned).__name__}")
        return returned
    return forward


def _named(function, name):
    function.__name__ = name
    return function


def _class_pair(impl, form, options):
    names = list(form.shapes)

    def forward(*arrays):
        given = dict(zip(names, arrays))
        values = [gates_moved(given[name], *form.gates) if form.gates else given[name] for name in form.parameters]
        layer = call("the constructor", functools.partial(impl, **options), *values, *form.made_with.values())
        if form.state:
            call("set_state", _method(layer, "set_state", form), *(given[name] for name in form.state))
        out = call("forward", layer.forward, *arrays[:form.arguments])
        return (*_outputs(out, form.outputs), (layer, values))

    def backward_of(*douts_and_built):
        *douts, (layer, values) = douts_and_built
        if form.loss:
            unit = call("backward", _unit_backward(layer.backward))
            dx = douts[0] * np.asarray(unit, dtype=np.float64) if unit is not None else unit
        else:
            dx = call("backward", layer.backward, *douts)
        gradients = dict(zip(form.returned, _inputs_gradients(dx, form.returned)))
        gradients.update({name: _kept(layer, name, attribute) for name, attribute in form.state.items()})
        gradients.update({name: _gradient_of(layer, name, value, form.gates)
                          for name, value in zip(form.parameters, values) if name in form.real})
        return tuple(gradients[name] for name in form.real)
    return Pair(_named(forward, impl.__name__), backward_of)


def _method(layer, name, form):
    """The layer's method ``name``; a UserError saying what the form needs of it when it has none."""
    method = call(f"reading {name}", getattr, layer, name, None)
    if not callable(method):
        raise UserError(f"{type(layer).__name__} has no {name}() method: {form.name} takes {form.described()}")
    return method


def _kept(layer, name, attribute):
    """The gradient of the state input ``name`` the layer keeps in ``attribute`` after backward (a UserError, that
    check failing, when it keeps none)."""
    value = call(f"reading {attribute}", getattr, layer, attribute, None)
    if value is None:
        return UserError(f"backward must leave the gradient of {name} in self.{attribute}; "
                         f"{type(layer).__name__} has none")
    return value


def gates_moved(array, source, target):
    """``array`` with the blocks of its last axis, the gates in the order ``source`` names ("ifog": i, f, o, g),
    laid out in the order ``target`` names; as it is when its last axis does not split so."""
    if not isinstance(array, np.ndarray) or array.ndim == 0 or array.shape[-1] % len(source):
        return array
    blocks = dict(zip(source, np.split(array, len(source), axis=-1)))
    return np.concatenate([blocks[gate] for gate in target], axis=-1)


def _outputs(out, count):
    """What a class's forward returned as its ``count`` outputs (a UserError when it returned else)."""
    if count == 1:
        return (out,)
    if isinstance(out, tuple) and len(out) == count:
        return out
    raise UserError(f"forward must return its {count} outputs as a tuple; it returned {type(out).__name__}"
                    + (f" of {len(out)}" if isinstance(out, tuple) else ""))


def _inputs_gradients(value, returned):
    """What a class's backward returned as the gradients of the ``returned`` inputs: one array, or a tuple of
    one for each when there are several (each a UserError, failing its check, when backward returned else)."""
    if len(returned) < 2:
        return [value] * len(returned)
    if isinstance(value, tuple) and len(value) == len(returned):
        return list(value)
    error = UserError(f"backward must return ({', '.join(f'd{name}' for name in returned)}); it returned "
                      f"{type(value).__name__}" + (f" of {len(value)}" if isinstance(value, tuple) else ""))
    return [error] * len(returned)


def _unit_backward(backward):
    """``backward`` called with dout 1, as a network calls a loss's: without the argument when it may."""
    try:
        needs_dout = any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                         for p in inspect.signature(backward).parameters.values())
    except (TypeError, ValueError):
        needs_dout = True
    return functools.partial(backward, 1.0) if needs_dout else backward


def _gradient_of(layer, name, value, gates=()):
    """The layer's gradient of parameter ``name`` (given as ``value``): its attribute d<name> (any case: dW or
    dw), or the entry of ``grads`` where ``params`` holds ``value``, its gate blocks put back in the kind's order
    (``gates``: the kind's order, the class's); a UserError (that check fails) when there is none or several."""
    wanted = f"d{name}".lower()
    found = [found for attribute, found in vars(layer).items() if attribute.lower() == wanted]
    params, grads = getattr(layer, "params", None), getattr(layer, "grads", None)
    if not found and isinstance(params, list) and isinstance(grads, list) and len(params) == len(grads):
        found = [grad for param, grad in zip(params, grads) if param is value]
    if len(found) != 1:
        return UserError(f"backward must leave the gradient of {name} in self.d{name} (or in self.grads, beside "
                         f"{name} in self.params); {type(layer).__name__} has {'none' if not found else 'several'}")
    return gates_moved(found[0], *reversed(gates)) if gates else found[0]
