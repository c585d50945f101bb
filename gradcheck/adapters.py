"""The narrow interface between the engine and an implementation under test, and the conventions it speaks.

The engine never touches user code directly.  It asks an ``Implementation``
for a fresh ``Subject`` (one live layer) and then only

    subject.forward(x) -> out           subject.backward(dout) -> dx
    subject.read(name) -> array         subject.write(name, array, rebind=False)   (in place)
    subject.evaluate(plans) -> outs     many forwards in one call

with plain float arrays going in and out, names among W, b, dW, db.  That is
all a child process has to offer for the engine to check code it does not
trust (see ``gradcheck.grading.sandbox``).  Every exception from user code
reaches the engine as an ``ImplementationError`` saying where it was raised.

This file is bound read-only into the grading sandbox, where only numpy and
the standard library exist: it must import nothing else, gradcheck's own
modules included.  The sandboxed child (``gradcheck.grading.child``) relies on
exactly this contract:

    implementation = load_implementation("FILE:NAME", layer, convention)
    subject = implementation.make(hyperparameters, {"W": ..., "b": ...})
    subject.forward / backward / read / write / evaluate

where ``hyperparameters`` is anything with the fields of ``Hyperparameters``
(a ``gradcheck.Config`` has them too), ``implementation.convention``,
``.pinned``, ``.name`` and the Subject's ``notes`` and ``updates`` are sent
back to the engine, and errors are ``LoadError`` and ``ImplementationError``
(``to_dict``).

Four conventions are understood, detected from what ``--impl FILE:NAME`` names:

reference  (Deep Learning from Scratch) a class NAME(W, b, stride=1, pad=0) or
           NAME(pool_h, pool_w, stride=1, pad=0) with forward(x),
           backward(dout) -> dx and gradients in dW/db (or dw, dB, d_w,
           grad_W, grads["W"], ...); or a factory function NAME(W, b, stride,
           pad) returning such an object.  The constructor's signature says
           how to pass stride and pad: by keyword when it names them (also
           as S/P, padding, PS/PP, stride_h/stride_w, ...), else by position;
           a constructor that takes no pad (or no stride) is checked with pad
           0 (stride 1).  The report notes any way other than stride=, pad=.
function   (cs231n) NAME is conv_forward_naive(x, w, b, conv_param) ->
           (out, cache), its partner conv_backward_naive(dout, cache) ->
           (dx, dw, db) is found by name; pools max_pool_forward_naive(x,
           pool_param) and max_pool_backward_naive(dout, cache) -> dx.
args       a forward function taking the geometry as arguments of its own:
           conv_forward(x, w, b, stride, pad) (or padding, S, P, ...), pools
           pool_forward(x, pool_h, pool_w, stride, pad); the backward partner,
           found by name as for cs231n, takes (dout, cache).
dive       (DIVE INTO CODE) weights W and B, gradients dW and dB, and a
           backward that calls self.optimizer.update(self): the optimizer (and
           any activation) is replaced by a no-op, so gradients are taken at
           the weights before any update.

A forward function is read as cs231n's or as taking arguments from its
signature.  Whatever cannot be called raises LoadError with a factory to add.
"""
import importlib.util
import inspect
import os
import sys
import sysconfig
import traceback
from dataclasses import dataclass, fields

import numpy as np

CONVENTIONS = ("auto", "reference", "function", "args", "dive")
GRAD_ALIASES = {
    "dW": ("dW", "dw", "d_W", "d_w", "grad_W", "grad_w", "gW", "dweight", "dweights", "grad_weight"),
    "db": ("db", "dB", "d_b", "d_B", "grad_b", "grad_B", "gb", "dbias", "grad_bias"),
}
GRAD_DICTS = ("grads", "gradients", "grad")  # dict attributes holding {"W": ..., "b": ...}
BAD_RETURN = "BadReturn"  # the kind of an ImplementationError for a value user code returned, not raised
REFUSALS = ("AssertionError", "ValueError", "NotImplementedError")  # what a layer raises to refuse on purpose


@dataclass(frozen=True)
class Hyperparameters:
    """What building a layer needs from a configuration: the layer and its window, as (h, w) pairs.

    A ``gradcheck.Config`` has these fields too; this stand-in is what the
    sandboxed child gets, where Config (which needs the reference layers) does
    not exist.
    """

    layer: str
    kernel: tuple
    stride: tuple = (1, 1)
    pad: tuple = (0, 0)
    dilation: tuple = (1, 1)

    @classmethod
    def names(cls):
        return [field.name for field in fields(cls)]

    @classmethod
    def from_dict(cls, data):
        """From JSON, where pairs arrive as lists."""
        return cls(**{name: tuple(data[name]) if name != "layer" else data[name] for name in cls.names()})

    @property
    def is_conv(self):
        return self.layer == "conv"


class ImplementationError(Exception):
    """User code raised (or returned something unusable) during ``stage``.

    Its four fields are all a sandbox child sends back, so everything about
    the error is derived from them: for kind BAD_RETURN the message is the
    whole sentence ("forward returned None: return the output array").
    """

    def __init__(self, stage, kind, message, location=""):
        text = message if kind == BAD_RETURN else f"{stage} raised {kind}" + (f": {message}" if message else "")
        super().__init__(text + (f" ({location})" if location else ""))
        self.stage = stage
        self.kind = kind
        self.detail = message
        self.location = location

    @classmethod
    def from_exception(cls, stage, exc):
        return cls(stage, type(exc).__name__, str(exc), _user_location(exc))

    @classmethod
    def returned(cls, stage, text):
        """A return value the engine cannot use; ``text`` says what came back and what to return instead."""
        return cls(stage, BAD_RETURN, text)

    def to_dict(self):
        return {"stage": self.stage, "type": self.kind, "message": self.detail, "location": self.location}


def is_refusal(error):
    """Whether ``error`` (an ImplementationError's dict) is the layer refusing on purpose: an ``assert``, or a
    ``raise`` of ValueError or NotImplementedError, in a line of the user's own code."""
    code = error.get("location", "").partition(": ")[2] if error else ""
    return bool(error) and error.get("type") in REFUSALS and code.startswith(("assert ", "assert(", "raise "))


class LoadError(Exception):
    """User code could not be loaded or understood; the message says what was wrong and how to fix it."""


def as_float_array(value, what):
    """Convert what user code returned into a plain float ndarray, or raise ImplementationError.

    Lists and integer arrays are converted (the caller notes it); float32 is
    kept so the engine can pick float32 tolerances.  Subclasses of ndarray
    become plain arrays, so they cannot change how they compare.
    """
    try:
        array = np.array(value)  # a copy, and a plain ndarray: later changes by the layer cannot reach it
    except Exception as exc:  # noqa: BLE001 - anything user objects raise
        raise ImplementationError.returned(what, f"{what} returned {type(value).__name__}, which could not be "
                                                 f"read as an array: {exc}") from None
    if array.dtype.kind not in "fiub":
        raise ImplementationError.returned(what, f"{what} returned {type(value).__name__} of dtype {array.dtype}, "
                                                 "expected a float array")
    return array if array.dtype.kind == "f" else array.astype(np.float64)


def call(stage, function, *args, **keywords):
    """Call user code; any exception, sys.exit() included, becomes an ImplementationError for ``stage``.

    KeyboardInterrupt still stops the run: in process it is the user's Ctrl-C.
    """
    try:
        return function(*args, **keywords)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code may raise anything
        raise ImplementationError.from_exception(stage, exc) from exc


IN_PLACE, REBINDING = ("in place",), ("rebinding",)
RETURN_INSTEAD = {"forward": "return the output array", "backward": "return dx (dW and db are read from the layer)"}


class Subject:
    """One live layer.  Subclasses provide forward, backward, read, write and collect ``notes``.

    ``updates`` names how the convention's optimizer changes the weights:
    "in place" (``write(name, value)``) and, for some, "rebinding"
    (``write(name, value, rebind=True)``: a new array in the layer's attribute).
    """

    updates = IN_PLACE

    def __init__(self):
        self.notes = set()

    def evaluate(self, plans):
        """Run ``(writes, x)`` plans in order: write each array in place, then forward(x)."""
        outputs = []
        for writes, x in plans:
            for name, value in writes.items():
                self.write(name, value)
            outputs.append(self.forward(x))
        return outputs

    def _returned(self, value, what):
        if value is None:
            instead = RETURN_INSTEAD.get(what, "return an array")
            raise ImplementationError.returned(what, f"{what} returned None: {instead}")
        if isinstance(value, tuple) and what == "forward":
            raise ImplementationError.returned(what, f"forward returned a tuple of {len(value)}: return the output "
                                                     "array alone")
        array = as_float_array(value, what)
        if not isinstance(value, np.ndarray):
            self.notes.add(f"{what} returned {type(value).__name__}; converted to an array for comparison")
        elif value.dtype != array.dtype:
            self.notes.add(f"{what} returned dtype {value.dtype}; converted to float64 for comparison")
        return array


class ObjectStyle(Subject):
    """A layer object: forward(x), backward(dout) -> dx, gradients as attributes.

    A backward that returns a tuple is read as (dx, ...); when the layer keeps
    no dW or db attribute and the tuple is (dx, dW, db), they are read from it.

    W and b are where the convention's optimizer updates them.  In the
    reference convention that is the arrays the layer was given (a DLfS
    optimizer updates the network's parameter arrays in place), so a layer
    that copied them at construction never sees an update.  In the dive
    convention it is the layer's own ``W`` and ``B`` (or ``b``), updated in
    place or rebound (``layer.W -= ...`` or ``layer.W = layer.W - ...``); its
    optimizer and activation are replaced by no-ops, and weights that
    backward changes anyway are put back.
    """

    def __init__(self, layer, params, dive=False):
        super().__init__()
        self.layer = layer
        self.params = params
        self.dive_mode = dive
        self.returned = {}  # dW and db from a backward that returned (dx, dW, db)
        if dive:
            self.updates = IN_PLACE + REBINDING
            self._neutralize()

    def forward(self, x):
        return self._returned(call("forward", self.layer.forward, x), "forward")

    def backward(self, dout):
        before = {name: self.read(name) for name in self.params} if self.dive_mode else {}
        dx = call("backward", self.layer.backward, dout)
        if isinstance(dx, tuple) and dx:
            self.notes.add(f"backward returned a tuple of {len(dx)}; its first element was taken as dx (dW and db "
                           "are read from the layer's attributes)")
            self.returned = dict(zip(("dW", "db"), dx[1:])) if len(dx) == 3 else {}
            dx = dx[0]
        dx = self._returned(dx, "backward")
        for name, value in before.items():
            if not np.array_equal(self.read(name), value):
                self.write(name, value)
                self.notes.add(f"backward changed {name} itself (an optimizer step); it was put back "
                               "so that every gradient is taken at the same weights")
        return dx

    def read(self, name):
        if name in self.params:
            return np.array(self._weight(name), dtype=self.params[name].dtype)
        place = _find_gradient(self.layer, name)
        if place is None and self.returned.get(name) is not None:
            self.notes.add("the layer keeps no dW or db: they were read from backward's tuple as (dx, dW, db)")
            return self._returned(self.returned[name], name)
        if place is None:
            raise ImplementationError("read", "AttributeError",
                                      f"the layer has no {name}: looked for the attributes "
                                      f"{', '.join(GRAD_ALIASES[name])} and {', '.join(GRAD_DICTS)}"
                                      f"[{name[1:]!r}]")
        return self._returned(_get(self.layer, place), name)

    def write(self, name, value, rebind=False):
        if rebind:
            setattr(self.layer, self._dive_attribute(name), np.array(value))
        else:
            self._weight(name)[...] = value

    def _weight(self, name):
        """The array the convention's optimizer updates for parameter ``name``."""
        if self.dive_mode:
            return getattr(self.layer, self._dive_attribute(name))
        return self.params[name]

    def _dive_attribute(self, name):
        return "B" if name == "b" and hasattr(self.layer, "B") else name

    def _neutralize(self):
        if hasattr(self.layer, "optimizer"):
            self.layer.optimizer = _NoUpdate()
            self.notes.add("the layer's optimizer was replaced by a no-op: gradients are taken at the weights "
                           "before any update")
        if hasattr(getattr(self.layer, "activation", None), "forward"):
            self.layer.activation = _Identity()
            self.notes.add("the layer's activation was replaced by the identity: the convolution alone is checked")


class FunctionPair(Subject):
    """A forward/backward function pair: forward(x, [w, b,] ...) -> (out, cache), backward(dout, cache) -> grads.

    ``arguments(config)`` gives what follows x (and w, b) in the forward call,
    as (positional, keywords): cs231n's conv_param / pool_param dict, or the
    stride and pad by name.  The subject owns W and b (so in-place updates
    always reach forward); square strides and pads only.
    """

    def __init__(self, forward, backward, config, params, arguments):
        super().__init__()
        self.functions = (forward, backward)
        self.params = {name: value.copy() for name, value in params.items()}
        self.is_conv = config.is_conv
        self.extra, self.keywords = arguments(config)
        self.grads = {}
        self.cache = None

    def forward(self, x):
        weights = (self.params["W"], self.params["b"]) if self.is_conv else ()
        result = call("forward", self.functions[0], x, *weights, *self.extra, **self.keywords)
        out, self.cache = self._pair(result, "forward", 2, "(out, cache)")
        return self._returned(out, "forward")

    def backward(self, dout):
        result = call("backward", self.functions[1], dout, self.cache)
        if not self.is_conv:
            if result is None:
                raise ImplementationError.returned("backward", f"{self.functions[1].__name__} returned None: "
                                                               "return dx")
            return self._returned(result, "backward")
        dx, dw, db = self._pair(result, "backward", 3, "(dx, dw, db)")
        self.grads = {"dW": dw, "db": db}
        return self._returned(dx, "backward")

    def read(self, name):
        if name in self.params:
            return self.params[name].copy()
        if name not in self.grads:
            raise ImplementationError("read", "AttributeError", f"no {name}: backward has not run")
        return self._returned(self.grads[name], name)

    def write(self, name, value, rebind=False):
        self.params[name][...] = value

    def _pair(self, value, stage, length, shape):
        if not isinstance(value, tuple) or len(value) != length:
            got = "None" if value is None else (f"a tuple of {len(value)}" if isinstance(value, tuple)
                                                else type(value).__name__)
            raise ImplementationError.returned(stage, f"{self.functions[stage == 'backward'].__name__} returned "
                                                      f"{got}: return {shape}")
        return value


class Implementation:
    """Makes fresh subjects of one implementation for a configuration.

    ``make_subject(config, params)`` builds one Subject.  ``pinned`` holds the
    dimensions the convention cannot vary (e.g. dilation 1 for a layer that
    takes no dilation); ``per_axis`` says whether stride/pad may differ
    between the axes.  ``convention`` names what was detected.
    ``references`` (reference layer classes) replace the default oracle, the
    fastest reference formulation, when a reference formulation is checked.
    """

    references = None

    def __init__(self, name, make_subject, convention, pinned=None, per_axis=False, spec=""):
        self.name = name
        self.spec = spec  # FILE:NAME, for reproduction commands
        self.make_subject = make_subject
        self.convention = convention
        self.pinned = pinned or {}
        self.per_axis = per_axis

    def make(self, config, params):
        return self.make_subject(config, params)


def implementation_of(obj, layer, convention="auto", name=None):
    """Wrap ``obj`` (a class, a factory or a forward function) for ``layer``, detecting the convention.

    Raises LoadError saying what was looked for when nothing fits.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    name = name or getattr(obj, "__name__", repr(obj))
    if not callable(obj):
        raise LoadError(f"{name} is a {type(obj).__name__}, not a class or a function")
    is_class = inspect.isclass(obj)
    if convention in ("function", "args") or (convention == "auto" and not is_class and "forward" in name):
        return _function_pair(obj, layer, name, convention)
    way = _constructor(obj, name, layer)

    def make_subject(config, params):
        layer_object = call("construction", way.build, config, params)
        dive = convention == "dive" or (convention == "auto" and hasattr(layer_object, "optimizer"))
        subject = ObjectStyle(layer_object, params, dive=dive)
        if way.note:
            subject.notes.add(way.note)
        return subject

    return Implementation(name, make_subject, "dive" if convention == "dive" else "reference", dict(way.how.pinned))


def reference_style(cls, layer, references=None):
    """An Implementation for a trusted class in the reference convention (the reference layers themselves).

    Unlike user code, it may take stride and pad as (h, w) pairs.  ``references``
    are the reference classes it is checked against (default: the fastest).
    """
    implementation = implementation_of(cls, layer, "reference")
    implementation.per_axis = True
    implementation.references = references
    return implementation


# -- how to call a constructor or a forward function: read from its signature -------------------------------------

GEOMETRY_NAMES = {
    "stride": ("stride", "strides", "S", "s", "PS", "ps", "stride_size"),
    "pad": ("pad", "padding", "P", "p", "PP", "pp", "pad_size", "pads"),
    "dilation": ("dilation", "dilations", "dilation_rate"),
}
PER_AXIS_NAMES = {  # (h, w) spelled as two arguments
    "stride": (("stride_h", "SH", "sh", "stride_height"), ("stride_w", "SW", "sw", "stride_width")),
    "pad": (("pad_h", "pad_height", "padding_h"), ("pad_w", "pad_width", "padding_w")),
}
DEFAULTS = {"stride": 1, "pad": 0, "dilation": 1}  # what a layer that takes no such argument is checked with


class _Call:
    """One way to pass a configuration's geometry: after the leading arguments, by keyword or by position.

    ``names`` maps "stride", "pad" (and "dilation") to the parameter names
    that receive them (a pair of names for h and w); ``positional`` passes
    stride and pad by position instead.  Geometry a callee takes no argument
    for is ``pinned`` to its default.
    """

    def __init__(self, names, positional=False, pinned=None):
        self.names = names
        self.positional = positional
        self.pinned = pinned or {}

    def arguments(self, config):
        """(positional, keywords) for ``config``: stride and pad as ints (a pair per axis where named so)."""
        if self.positional:
            return (_compact(config.stride), _compact(config.pad)), {}
        keywords = {}
        for role, name in self.names.items():
            value = getattr(config, role)
            if role == "dilation" and value == (1, 1):
                continue  # passed only when needed: a layer may accept it in **kwargs and ignore it
            if isinstance(name, tuple):
                keywords.update(zip(name, value))
            else:
                keywords[name] = _compact(value)
        return (), keywords

    def describe(self, callee, leading):
        """e.g. 'Pool(pool_h, pool_w, PS=stride, PP=pad)' or 'Conv(W, b, stride, pad), by position'."""
        if self.positional:
            return f"{callee}({', '.join(leading)}, stride, pad), by position"
        passed = [f"{name}={role}" if not isinstance(name, tuple) else f"{name[0]}={role}_h, {name[1]}={role}_w"
                  for role, name in self.names.items()]
        return f"{callee}({', '.join([*leading, *passed])})"

    @property
    def standard(self):
        """Passed the way the convention documents: stride=, pad= (and dilation=) by keyword."""
        return not self.positional and all(self.names.get(role) == role for role in ("stride", "pad"))


class _Way:
    """How to build a layer object: ``build(config, params)``, and a note saying how (None for the usual way)."""

    def __init__(self, obj, how, note):
        self.obj, self.how, self.note = obj, how, note

    def build(self, config, params):
        leading = (params["W"], params["b"]) if config.is_conv else config.kernel
        args, keywords = self.how.arguments(config)
        return self.obj(*leading, *args, **keywords)


def _parameters(function):
    """The parameters of ``function`` (a class: of its constructor), or None when they cannot be read."""
    try:
        return list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return None


def _geometry_names(parameters, skip):
    """role -> the parameter name receiving it, for the parameters after the first ``skip`` ones.  A role with
    no parameter of its own is absent (or given its usual name when the callee takes **kwargs)."""
    rest = {p.name for p in parameters[skip:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    names = {}
    for role, spellings in GEOMETRY_NAMES.items():
        found = next((spelling for spelling in spellings if spelling in rest), None)
        pair = tuple(next((s for s in axis if s in rest), None) for axis in PER_AXIS_NAMES.get(role, ()))
        if found:
            names[role] = found
        elif pair and None not in pair:
            names[role] = pair
        elif any(p.kind is p.VAR_KEYWORD for p in parameters):
            names[role] = role
    return names


def _takes(function, count):
    """Whether ``function`` can be called with ``count`` positional arguments (True when that cannot be read)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


def _positional_room(parameters):
    """How many arguments ``parameters`` take by position (a large number for *args)."""
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return 99
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)


def _calls(parameters, layer, leading):
    """The ways to pass stride and pad to a callee with these ``parameters`` (after ``leading`` arguments), to
    try in order: by the keywords it names, else by position when it takes enough arguments; with no
    readable signature, by the usual keywords, then by position."""
    usual = _named_call({"stride": "stride", "pad": "pad"}, layer)
    by_position = _Call({}, positional=True, pinned={"dilation": 1} if layer == "conv" else {})
    if parameters is None:
        return [usual, by_position]
    names = _geometry_names(parameters, leading)
    if layer != "conv":
        names.pop("dilation", None)
    if {"stride", "pad"} & set(names):
        return [_named_call(names, layer)]
    if _positional_room(parameters) >= leading + 2:
        return [by_position]
    return [usual]  # it will fail, and the LoadError says what was tried


def _named_call(names, layer):
    """Geometry passed by the parameter names found; what the callee has no parameter for is pinned."""
    pinned = {role: DEFAULTS[role] for role in ("stride", "pad", "dilation")
              if role not in names and (role != "dilation" or layer == "conv")}
    return _Call(names, pinned=pinned)


def _constructor(obj, name, layer):
    """The first way to build ``obj`` that works on a small configuration; else LoadError with a factory to add."""
    leading = ("W", "b") if layer == "conv" else ("pool_h", "pool_w")
    probe = Hyperparameters(layer, (2, 2)) if layer == "conv" else Hyperparameters(layer, (2, 2), stride=(2, 2))
    params = {"W": np.ones((1, 1, 2, 2)), "b": np.zeros(1)} if layer == "conv" else {}
    failures = []
    for how in _calls(_parameters(obj), layer, len(leading)):
        note = None if how.standard else f"built as {how.describe(name, leading)}"
        way = _Way(obj, how, note)
        try:
            built = way.build(probe, params)
        except Exception as exc:  # noqa: BLE001 - user code may raise anything
            failures.append((how, exc))
            continue
        _require_methods(built, name)
        return way
    raise LoadError(_unbuildable(name, layer, failures, inspect.isclass(obj)))


def _require_methods(layer_object, name):
    """Refuse a layer whose forward or backward cannot be called with one array, saying how to adapt it (one
    without a backward yet still gets its forward checked)."""
    for method, argument in (("forward", "x"), ("backward", "dout")):
        function = getattr(layer_object, method, None)
        parameters = _parameters(function) if callable(function) else None
        if parameters is None or _takes(function, 1):
            continue
        shown = f"its {method}({', '.join(p.name for p in parameters)})"
        raise LoadError(f"{name} cannot be checked: gradcheck calls {method}({argument}), but {shown}. Adapt it in "
                        f"a subclass in your file and pass --impl FILE:Layer:\n\n"
                        f"    class Layer({type(layer_object).__name__}):\n"
                        f"        def {method}(self, {argument}):\n"
                        f"            return super().{method}({argument}, ...)   # call it your way\n")


def _unbuildable(name, layer, failures, is_class):
    """What was tried to build NAME, what it raised, and the factory to add."""
    tried = []
    for how, exc in failures:
        shown = (f"{name}(W, b, stride=1, pad=0)" if layer == "conv" else f"{name}(2, 2, stride=2, pad=0)") \
            if how.standard else how.describe(name, ("W", "b") if layer == "conv" else ("2", "2"))
        tried.append(f"{shown} raised {type(exc).__name__}: {exc}")
    positional = "W, b, stride, pad" if layer == "conv" else "pool_h, pool_w, stride, pad"
    weights = "layer.W, layer.b = W, b   # or layer.W, layer.B = W, b\n        " if layer == "conv" else ""
    return (f"{'; '.join(tried)}. gradcheck looks for a class or factory taking ({positional}), or a cs231n "
            f"forward function (a name with 'forward' and a matching 'backward' function). If {name} is built "
            f"differently, add a factory to your file and pass --impl FILE:make_layer:\n\n"
            f"    def make_layer({positional}):\n"
            f"        layer = {name if is_class else 'YourLayer'}(...)   # build it your way\n"
            f"        {weights}return layer\n")


def _function_pair(forward, layer, name, convention):
    """A forward function and its backward partner, called as cs231n's pair or with arguments of their own."""
    module = sys.modules.get(getattr(forward, "__module__", None))
    backward_name = name.replace("forward", "backward")
    backward = getattr(module, backward_name, None)
    if not callable(backward):
        raise LoadError(f"{name} looks like a forward function, but its module has no {backward_name}; "
                        "define it (returning dx, or (dx, dw, db) for conv) or name a class instead")
    parameters = _parameters(forward)
    if not _takes(backward, 2):
        raise LoadError(_uncallable(name, backward_name, layer, parameters))
    style = convention if convention != "auto" else _function_style(parameters, layer)
    if style == "function":
        return _cs231n_pair(forward, backward, layer, name)
    leading = ("x", "w", "b") if layer == "conv" else ("x", "pool_h", "pool_w")
    names = _geometry_names(parameters, len(leading)) if parameters is not None else {}
    if not ({"stride", "pad"} & set(names)) or _positional_room(parameters) < len(leading) or \
            _geometry_names(parameters[:len(leading)], 0):  # e.g. a pool taking one pool_size, then stride
        raise LoadError(_uncallable(name, backward_name, layer, parameters))
    how = _named_call(names, layer)
    note = f"called as {how.describe(name, leading)} and {backward_name}(dout, cache)"

    def make_subject(config, params):
        subject = FunctionPair(forward, backward, config, params, lambda c: _with_window(c, how))
        subject.notes.add(note)
        return subject

    return Implementation(name, make_subject, "args", dict(how.pinned))


def _with_window(config, how):
    """What a function pair's forward takes after x (and w, b): a pool's window (pool_h, pool_w) by position,
    then the geometry by name."""
    args, keywords = how.arguments(config)
    return (() if config.is_conv else tuple(config.kernel)) + args, keywords


def _function_style(parameters, layer):
    """"function" (cs231n: one dict of settings after x, w, b) or "args" (stride and pad named), from the
    forward function's parameters; cs231n's when they cannot be read."""
    if parameters is None:
        return "function"
    after = 3 if layer == "conv" else 1
    named = _geometry_names([p for p in parameters if p.kind is not p.VAR_KEYWORD], after)
    return "args" if named else "function"


def _cs231n_pair(forward, backward, layer, name):
    pinned = {"dilation": 1} if layer == "conv" else {"pad": 0}
    if not _takes(forward, 4 if layer == "conv" else 2):
        raise LoadError(_uncallable(name, name.replace("forward", "backward"), layer, _parameters(forward)))

    def settings(config):
        if config.is_conv:
            return ({"stride": config.stride[0], "pad": config.pad[0]},), {}
        return ({"pool_height": config.kernel[0], "pool_width": config.kernel[1], "stride": config.stride[0]},), {}

    def make_subject(config, params):
        return FunctionPair(forward, backward, config, params, settings)

    return Implementation(name, make_subject, "function", pinned)


def _uncallable(name, backward_name, layer, parameters):
    """Why forward function NAME cannot be called, and the class to add around it."""
    signature = f"({', '.join(p.name for p in parameters)})" if parameters is not None else ""
    if layer == "conv":
        expected = "(x, w, b, conv_param) as in cs231n, or (x, w, b, stride, pad)"
        init, inputs, grads = "W, b, stride, pad", "x, self.W, self.b", "dx, self.dW, self.db"
    else:
        expected = ("(x, pool_param) as in cs231n, or (x, pool_h, pool_w, stride, pad) (a pool taking one window "
                    "size pools square windows only: its class can raise ValueError for others, which gradcheck "
                    "reports as refused)")
        init, inputs, grads = "pool_h, pool_w, stride, pad", "x", "dx"
    return (f"{name}{signature} cannot be called the way gradcheck knows: it looks for a forward function taking "
            f"{expected}, and a {backward_name}(dout, cache). Wrap the pair in a class in your file and pass "
            f"--impl FILE:Layer:\n\n"
            f"    class Layer:\n"
            f"        def __init__(self, {init}):\n"
            f"            ...   # keep what {name} needs\n"
            f"        def forward(self, x):\n"
            f"            out, self.cache = {name}({inputs}, ...)   # call it your way\n"
            f"            return out\n"
            f"        def backward(self, dout):\n"
            f"            {grads} = {backward_name}(dout, self.cache)\n"
            f"            return dx\n")


class _NoUpdate:
    """Stands in for a DIVE optimizer: update(layer) changes nothing and returns the layer."""

    def update(self, layer):
        return layer


class _Identity:
    """Stands in for a DIVE activation."""

    def forward(self, a):
        return a

    def backward(self, da):
        return da


def _find_gradient(layer, name):
    """Where ``layer`` keeps gradient ``name`` ("dW" or "db"): ("attr", alias) or ("dict", attr, key), or None."""
    key = name[1:]
    places = [("attr", alias) for alias in GRAD_ALIASES[name]]
    places += [("dict", d, k) for d in GRAD_DICTS for k in (key, key.lower(), key.upper())]
    return next((place for place in places if _get(layer, place) is not None), None)


def _get(layer, place):
    if place[0] == "attr":
        return getattr(layer, place[1], None)
    container = getattr(layer, place[1], None)
    return container.get(place[2]) if isinstance(container, dict) else None


def _compact(pair):
    return pair[0] if pair[0] == pair[1] else pair


def load_object(spec):
    """Return NAME from ``"path/to/file.py:NAME"``, importing the file as a module."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise LoadError(f"--impl must be FILE:NAME, e.g. my_layers.py:Conv2d; got {spec!r}")
    module = load_module(path)
    if not hasattr(module, name):
        defined = sorted(n for n, v in vars(module).items()
                         if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__)
        raise LoadError(f"{path} defines no {name!r}; it defines: {', '.join(defined) or 'nothing public'}")
    return getattr(module, name)


def load_implementation(spec, layer, convention="auto"):
    """``"FILE:NAME"`` -> an Implementation in the detected (or given) convention."""
    implementation = implementation_of(load_object(spec), layer, convention, spec.rpartition(":")[2])
    implementation.spec = spec
    return implementation


def load_module(path):
    """Import the Python file at ``path`` under a private module name, or raise LoadError.

    The file's folder is first on sys.path while it imports, so a submission
    can import its own helper modules.
    """
    if not os.path.isfile(path):
        raise LoadError(f"no such file: {path}")
    folder = os.path.dirname(os.path.abspath(path))
    module_name = "gradcheck_user_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # so the module's functions can find their partners by name
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a submission may raise anything at import
        del sys.modules[module_name]
        location = _user_location(exc)
        raise LoadError(f"{path} could not be imported: {type(exc).__name__}: {exc}"
                        + (f" at {location}" if location else "")) from None
    finally:
        sys.path.remove(folder)
    return module


_NOT_USER_CODE = tuple({os.path.dirname(os.path.abspath(__file__)) + os.sep,
                        os.path.dirname(os.path.dirname(os.path.abspath(np.__file__))) + os.sep,
                        sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})


def _user_location(exc):
    """'file.py:42: the line' for the innermost frame of the user's own code, or ''."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}: {(exc.text or '').strip()}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(_NOT_USER_CODE)]
    if not frames:
        return ""
    frame = frames[-1]
    return f"{frame.filename}:{frame.lineno}: {(frame.line or '').strip()}"
