"""How a user's layer of a catalogue kind is called: a class or cs231n functions, seen as one forward/backward Pair.

A ``Form`` is what a kind says about calling its layers (the shapes of its
inputs, what its class's constructor and a cs231n forward take besides the
arrays, whether it is a loss); ``layer_pair(impl, form)`` makes a ``Pair``
of the user's layer in the form ``gradcheck.generic`` checks.  This module
imports only numpy and gradcheck's other child files, so that ``gradcheck
grade``'s sandboxed child can hold it: there the user's layer is called, and every
check is made in the grading process (``grading.sandbox.Sandbox.pair``).
"""
import copy
import dataclasses
import functools
import inspect
import re
from dataclasses import dataclass, field, fields

import numpy as np

from .holdings import (GRAD_DICTS, GRADIENT_WORDS, Ambiguous, array_places, as_shape, one_of, place_name,
                       place_text, squeezed, value_at)
from .signatures import ROLE_NAMES, Identity, NoUpdate, parameters_of, role_of
from .userfiles import LoadError, Source, find_backward, user_location


@dataclass(frozen=True)
class Pair:
    """A forward and its backward, in the form of ``gradcheck.generic``'s docstring; a reference's ``mistakes``
    (generic.Mistake) name what a wrong gradient computed instead."""

    forward: object
    backward: object
    mistakes: tuple = ()
    note: str = ""  # how the layer is called, when a report should say it (a class making its own weights)
    other: object = None  # a reference's second formulation (a Pair), independent of it: see generic.SPREAD
    said: set = field(default_factory=set)  # what its calls found a report should say (a dx read off the layer)


class UserError(Exception):
    """What the pair raised or returned wrong, said in one sentence; ``details`` as a CheckResult holds errors."""

    def __init__(self, message, details=None):
        super().__init__(message)
        self.details = details


def call(what, function, *args, **keywords):
    """``function(*args, **keywords)``: what it raises becomes a UserError saying ``what`` raised what, and where
    in the user's code; a UserError from a call within (an adapter's) passes as it is, said once."""
    try:
        with np.errstate(all="ignore"):  # exp() overflowing to a right 0 or 1 is no failure; NaN is judged after
            return function(*args, **keywords)
    except UserError:
        raise
    except Exception as error:  # the pair's own failure, reported as its check's
        location = user_location(error)
        raise UserError(f"{what} raised {type(error).__name__}: {error}" + (f", at {location}" if location else ""),
                         {"type": type(error).__name__, "message": str(error), "location": location}) from None


@dataclass(frozen=True)
class Form:
    """How a layer of the kind ``name`` is called (``gradcheck.kinds.Kind.form``)."""

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
        after = [*map(repr, self.made_with.values())]
        told = [f"{name} {value!r}" for name, value in self.made_with.items()]
        told += [f"gates in the order {', '.join(self.gates[1])}"] if self.gates else []
        made = f"NAME({', '.join([*self.parameters, *after])})" + (f" ({', '.join(told)})" if told else "")
        if self.parameters:
            made += f", or NAME({', '.join([*sizes(self), *after])}) making its own {', '.join(self.parameters)},"
        return f"a class {made} with {method}, or {function}" if self.classes else function


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
    making = Making.of(impl, form, options)

    def forward(*arrays):
        given = dict(zip(names, arrays))
        values = [gates_moved(given[name], *form.gates) if form.gates else given[name] for name in form.parameters]
        layer, held = making.build(values)
        if form.state:
            call("set_state", _method(layer, "set_state", form), *(given[name] for name in form.state))
        out = call("forward", layer.forward, *arrays[:form.arguments])
        return (*_outputs(out, form.outputs), (layer, held, values))

    def backward_of(*douts_and_built):
        *douts, (layer, held, values) = douts_and_built
        if form.loss:
            unit = call("backward", _unit_backward(layer.backward))
            dx = douts[0] * np.asarray(unit, dtype=np.float64) if unit is not None else unit
        else:
            dx = call("backward", layer.backward, *douts)
        if dx is None and form.returned and not form.loss:  # the layer keeps what it computed: self.dx = ...
            dx = _kept_input_gradients(layer, form.returned, pair.said)
        gradients = dict(zip(form.returned, _inputs_gradients(dx, form.returned)))
        gradients.update({name: _kept(layer, name, attribute) for name, attribute in form.state.items()})
        gradients.update({name: making.gradient(layer, name, array, value)
                          for name, array, value in zip(form.parameters, held, values) if name in form.real})
        return tuple(gradients[name] for name in form.real)
    pair = Pair(_named(forward, impl.__name__), backward_of, note=making.note)  # backward_of adds to pair.said
    return pair


def _kept_input_gradients(layer, returned, said):
    """What a backward that returned None left in the layer as the gradients of the ``returned`` inputs, in
    self.dx (any case; a tuple for several), the note that says so added to ``said``; a UserError for each when
    it left one of them out."""
    found = [next((value for attribute, value in vars(layer).items() if attribute.lower() == f"d{name}".lower()),
                  None) for name in returned]
    kept = " and ".join(f"self.d{name}" for name in returned)
    if any(value is None for value in found):
        error = UserError(f"backward returned None: return {', '.join(f'd{name}' for name in returned)}, or "
                          f"leave {kept} in the layer")
        return (error,) * len(returned) if len(returned) > 1 else error
    said.add(f"backward returned None; {kept} {'were' if len(found) > 1 else 'was'} read from the layer, which "
             "it set")
    return tuple(found) if len(found) > 1 else found[0]


@dataclass(frozen=True)
class Making:
    """How a class of a form is built for its parameters' values: given them (the courses' ``Affine(W, b)``),
    or, when ``places`` says where it keeps its own (``Affine(input_size, output_size)``), given their sizes
    (``sizes``), the values then written into its own arrays.  ``options``: keywords for the constructor."""

    impl: type
    form: Form
    options: dict = field(default_factory=dict)
    places: dict = None  # parameter -> where (holdings' place) a class making its own weights keeps it
    tried: str = ""  # why the class could not be built with sizes, where that was tried and failed

    @classmethod
    def of(cls, impl, form, options=None):
        """How ``impl`` is built: with the values, unless its constructor's first parameter names no parameter
        of the form and, built with the sizes on a configuration where no two parameters' shapes agree, it keeps
        one array of each parameter's shape (b as (1, M) too); then with the sizes."""
        making = cls(impl, form, options or {})
        if not form.parameters or _takes_values(impl, form):
            return making
        probe = {symbol: 3 + index for index, symbol in enumerate(sizes(form))}
        try:
            return dataclasses.replace(making, places=making.own_places(probe))
        except (UserError, Ambiguous) as why:
            return dataclasses.replace(making, tried=f"built with sizes ({making.sized()}) = "
                                                     f"({', '.join(map(str, probe.values()))}) instead, {why}")

    def sized(self):
        return ", ".join(sizes(self.form))

    def stand_ins(self):
        """[(parameter, role)] of the constructor's parameters a class making its own weights must be given but
        sizes and ``made_with`` fill no place of: an optimizer (DIVE's FC(n_nodes1, n_nodes2, initializer,
        optimizer)), an initializer, an activation (checked as the identity: the affine part alone), a learning
        rate."""
        filled = len(sizes(self.form)) + len(self.form.made_with)
        parameters = [p for p in parameters_of(self.impl) or [] if p.kind is not p.VAR_POSITIONAL][filled:]
        found = [(p.name, role_of(p.name, STAND_INS)) for p in parameters
                 if p.default is p.empty and p.kind is not p.VAR_KEYWORD and p.name not in self.options]
        return [(name, role) for name, role in found if role]

    def _constructed(self, *arguments, sized=False):
        """The class built with ``arguments`` and ``made_with`` (``sized``: the sizes, then the stand-ins)."""
        keywords = {name: STAND_INS[role][0]() for name, role in self.stand_ins()} if sized else {}
        return call("the constructor", functools.partial(self.impl, **self.options, **keywords), *arguments,
                    *self.form.made_with.values())

    def own_places(self, probe):
        """{parameter: place} of the arrays the class keeps, built with the ``probe`` sizes ({symbol: size})."""
        layer = self._constructed(*probe.values(), sized=True)
        arrays = array_places(layer)
        places = {}
        for name in self.form.parameters:
            shape = _shape(self.form.shapes[name], probe)
            fitting = [(p, a) for p, a in arrays if squeezed(a.shape) == squeezed(shape)]
            place = one_of([(p, a) for p, a in fitting if p[1] not in GRAD_DICTS] or fitting,
                           (_named_as(name), lambda n: n not in GRADIENT_WORDS),
                           lambda found, name=name, shape=shape: f"it keeps {len(found)} arrays of {name}'s shape "
                           f"{shape}: {', '.join(found)}, and their names do not tell which holds {name}")
            if place is None:
                kept = ", ".join(f"{place_text(p)} {a.shape}" for p, a in arrays) or "no array"
                raise UserError(f"it keeps no array of {name}'s shape {shape} (it keeps {kept})")
            places[name] = place
        return places

    @property
    def note(self):
        """What a report says of a class making its own weights; "" for one given them."""
        if self.places is None:
            return ""
        name = self.impl.__name__
        given = "".join(f", {parameter}={STAND_INS[role][1]}" for parameter, role in self.stand_ins())
        return (f"{name} makes its own {', '.join(self.places)}: it is built as {name}({self.sized()}{given}) for "
                f"each configuration, and the configuration's values are written into its "
                f"{', '.join(f'self.{place_text(place)}' for place in self.places.values())}")

    def build(self, values):
        """(the layer, the arrays of its parameters it computes with) for the parameters' ``values``."""
        if self.places is None:
            try:
                return self._constructed(*values), values
            except UserError as error:
                raise UserError(f"{error}; {self.tried}" if self.tried else str(error), error.details) from None
        symbols = _sizes_of(self.form, values)
        layer = self._constructed(*(symbols[symbol] for symbol in sizes(self.form)), sized=True)
        return layer, [_written(layer, name, self.places[name], value)
                       for name, value in zip(self.form.parameters, values)]

    def gradient(self, layer, name, array, value):
        """The layer's gradient of parameter ``name`` (the layer computes with ``array``, given as ``value``),
        in ``value``'s shape; a UserError (that check fails) when it keeps none or several."""
        place = self.places[name] if self.places else None
        found = _gradient_of(layer, name, array, self.form.gates, place)
        return as_shape(found, value.shape) if place and isinstance(found, np.ndarray) else found


class ZerosInitializer:
    """Stands in for a DIVE initializer: any of its methods (``W(n1, n2)``, ``B(n2)``), or itself called, gives
    zeros of the shape asked for (the configuration's values are written in after)."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __call__(self, *shape):
        return np.zeros(shape[0] if len(shape) == 1 else shape)


def own_weights_note(text, form, name):
    """``text`` when it is the note ``Making.note`` writes for a class ``name`` of ``form``, else "": what the
    grading process takes from its child, where only the names of the class's own attributes may vary."""
    place = r"self\.\w+(?:\['\w+'\]|\[\d+\])?"
    stand_in = "|".join(re.escape(said) for _, said in STAND_INS.values())
    pattern = (rf"{re.escape(name)} makes its own {re.escape(', '.join(form.parameters))}: it is built as "
               rf"{re.escape(name)}\({re.escape(', '.join(sizes(form)))}(?:, \w+=(?:{stand_in}))*\) for each "
               rf"configuration, and the configuration's values are written into its {place}(?:, {place})*")
    return text if re.fullmatch(pattern, text, re.ASCII) else ""


# role -> (what makes what a class making its own weights is given for it, said so)
STAND_INS = {"optimizer": (NoUpdate, "a no-op optimizer"), "initializer": (ZerosInitializer, "an initializer of zeros"),
             "activation": (Identity, "the identity"), "lr": (float, "0")}


def sizes(form):
    """The symbols of the form's parameters' shapes, in the order they first appear: what a class making its
    own weights takes (affine's W (D, M): Affine(D, M); an LSTM's Wx (D, 4H): LSTM(D, H))."""
    return list(dict.fromkeys(symbol for name in form.parameters for _, symbol in _axes(form.shapes[name])
                              if symbol))


def _axes(spec):
    """[(coefficient, symbol)] of a shape spec: "D,4H" -> [(1, "D"), (4, "H")]; a length alone has no symbol."""
    axes = []
    for term in spec.split(","):
        digits = len(term) - len(term.lstrip("0123456789"))
        axes.append((int(term[:digits] or 1), term[digits:]))
    return axes


def _shape(spec, symbols):
    return tuple(coefficient * symbols[symbol] if symbol else coefficient for coefficient, symbol in _axes(spec))


def _sizes_of(form, values):
    """{symbol: size} read off the parameters' ``values``."""
    found = {}
    for name, value in zip(form.parameters, values):
        for (coefficient, symbol), length in zip(_axes(form.shapes[name]), np.shape(value)):
            if symbol:
                found.setdefault(symbol, length // coefficient)
    return found


def _takes_values(impl, form):
    """Whether ``impl``'s constructor takes the parameters' values: its first parameter is named as one of them
    (W, w, weights, gamma, Wx, ...), or its parameters cannot be read or say nothing."""
    parameters = [p for p in parameters_of(impl) or [] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return not parameters or any(_named_as(name)(parameters[0].name) for name in form.parameters)


def _named_as(name):
    """Whether a name says it holds parameter ``name``: the name itself, any case; W's and b's usual names for
    the weights (W, gamma) and the bias (b, beta)."""
    role = "W" if name.lower() in ("w", "gamma") else "b" if name.lower() in ("b", "beta") else None
    return lambda other: other.lower() == name.lower() or (role is not None and other in ROLE_NAMES[role])


def _written(layer, name, place, value):
    """The array at ``place`` of a class that made its own weights, holding ``value`` (written in place, so that
    every name the layer keeps it by sees it); a UserError when the array there is not of the value's shape."""
    array = value_at(layer, place)
    if not isinstance(array, np.ndarray) or squeezed(array.shape) != squeezed(value.shape):
        kept = f"shape {array.shape}" if isinstance(array, np.ndarray) else type(array).__name__
        raise UserError(f"{type(layer).__name__} was built for {name} of shape {value.shape}, but its "
                        f"self.{place_text(place)} holds {kept}")
    call(f"writing {name} into self.{place_text(place)}", array.__setitem__, Ellipsis, value.reshape(array.shape))
    return array


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


def _gradient_of(layer, name, value, gates=(), place=None):
    """The layer's gradient of parameter ``name`` (the layer computes with ``value``): its attribute d<name> (any
    case: dW or dw; d<what it keeps it in> for a class keeping its own at ``place``: dweights), or the entry of
    ``grads`` where ``params`` (a list or a dict) holds ``value``, its gate blocks put back in the kind's order
    (``gates``: the kind's order, the class's); a UserError (that check fails) when there is none or several."""
    wanted = {f"d{name}".lower()} | ({f"d{place_name(place)}".lower()} if place else set())
    found = [found for attribute, found in vars(layer).items() if attribute.lower() in wanted]
    if not found:
        found = _paired_gradients(layer, value)
    if len(found) != 1:
        kept = f"self.d{name}" + (f" or self.d{place_name(place)}" if place and place_name(place) != name else "")
        return UserError(f"backward must leave the gradient of {name} in {kept} (or in self.grads, beside {name} "
                         f"in self.params); {type(layer).__name__} has {'none' if not found else 'several'}")
    return gates_moved(found[0], *reversed(gates)) if gates else found[0]


def _paired_gradients(layer, value):
    """The entries of the layer's ``grads`` beside ``value`` in its ``params``: both lists ("Deep Learning from
    Scratch 2"), or both dicts (by key)."""
    params, grads = getattr(layer, "params", None), getattr(layer, "grads", None)
    if isinstance(params, list) and isinstance(grads, list) and len(params) == len(grads):
        return [grad for param, grad in zip(params, grads) if param is value]
    if isinstance(params, dict) and isinstance(grads, dict):
        return [grads[key] for key, param in params.items() if param is value and key in grads]
    return []
