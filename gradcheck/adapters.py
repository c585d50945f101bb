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
modules included, but those bound beside it: ``userfiles`` (importing the
user's files, finding a forward's backward), ``signatures`` (what each
parameter of user code is for, by its name) and ``holdings`` (W, b and their
gradients found by shape among a layer's arrays).  The sandboxed child (``gradcheck.grading.child``) relies on
exactly this contract:

    implementation = load_implementation("FILE:NAME", layer, convention, backward, workdir)
    subject = implementation.make(hyperparameters, {"W": ..., "b": ...})
    subject.forward / backward / read / write / evaluate

where ``hyperparameters`` is anything with the fields of ``Hyperparameters``
(a ``gradcheck.Config`` has them too), ``implementation.convention``,
``.pinned``, ``.restrict``, ``.name`` and the Subject's ``notes`` and ``updates`` are sent
back to the engine, and errors are ``LoadError`` and ``ImplementationError``
(``to_dict``).

Five conventions are understood, detected from what ``--impl FILE:NAME`` names:

reference  (Deep Learning from Scratch) a class NAME(W, b, stride=1, pad=0) or
           NAME(pool_h, pool_w, stride=1, pad=0) with forward(x),
           backward(dout) -> dx and gradients in dW/db (or dw, dB, d_w,
           grad_W, grads["W"], ...); or a factory function NAME(W, b, stride,
           pad) returning such an object.  The constructor's signature says
           how to pass stride and pad: by keyword when it names them (also
           as S/P, padding, PS/PP, stride_h/stride_w, ...), else by position;
           a constructor that takes no pad (or no stride) is checked with pad
           0 (stride 1).  A constructor that makes its own weights
           (NAME(input_shape, num_filters, kernel_size, ...), NAME(in_channels,
           out_channels, ...), ...) is built from the configuration by the
           names of its parameters, and W and b are written into the arrays
           of their shapes it keeps, whatever they are called (``params``
           lists and dicts too); gradients under names of their own are found
           by shape among what backward sets.  A learning rate is passed as
           0.  The report notes any way other than stride=, pad=.
function   (cs231n) NAME is conv_forward_naive(x, w, b, conv_param) ->
           (out, cache), its partner conv_backward_naive(dout, cache) ->
           (dx, dw, db) is found by name (``find_backward``); pools
           max_pool_forward_naive(x, pool_param) and
           max_pool_backward_naive(dout, cache) -> dx.  A backward taking no
           cache, (dout, x, w, b, conv_param), (dZ, A_prev, W, b,
           hparameters) or (dZ) alone (its state in module globals), is
           called with what the forward was given, by its parameters' names.
args       a forward function taking the geometry as arguments of its own:
           conv_forward(x, w, b, stride, pad) (or padding, S, P, ...), pools
           pool_forward(x, pool_h, pool_w, stride, pad); the backward partner
           is found and called as for cs231n.
dive       (DIVE INTO CODE) weights W and B, gradients dW and dB, and a
           backward that calls self.optimizer.update(self): the optimizer (and
           any activation) is replaced by a no-op, so gradients are taken at
           the weights before any update.
dlai       (deeplearning.ai's "Convolution model - Step by Step")
           conv_forward(A_prev, W, b, hparameters) -> (Z, cache) with
           hparameters {"stride", "pad"}, conv_backward(dZ, cache) -> (dA_prev,
           dW, db); pool_forward(A_prev, hparameters, mode) with {"f",
           "stride"}, mode "max" or "average", pool_backward(dA, cache, mode).
           Channels-last, b (1, 1, 1, n_C); square kernels and windows,
           unpadded pools (``RESTRICTIONS``).

A forward function is read as cs231n's, as deeplearning.ai's (its parameter
names, confirmed by a call) or as taking arguments from its signature.
Whatever cannot be called raises LoadError with the wrapper to write, in the
user's own names.

Every Subject speaks NCHW.  A layer that reads another ``Layout`` (channels
last, W as (KH, KW, C, F) or (F, KH, KW, C), b as (1, 1, 1, F)) is wrapped in
a ``Relaid`` subject, which converts every array at the boundary; which
layout to use is the caller's to say (``Implementation.make``: the engine
decides it by a probe, outside the sandbox), by default the convention's own.
"""
import ast
import inspect
import textwrap
from dataclasses import dataclass, fields

import numpy as np

from .holdings import (GRAD_ALIASES, GRAD_DICTS, Ambiguous, NotFound, as_shape, changed_arrays, dx_place,
                       gradient_place, gradient_shaped, known_place, place_text, rebind_place, snapshot_arrays,
                       squeezed, value_at, weight_places)
from .signatures import (BUILD_ROLES, DEFAULTS, GEOMETRY_NAMES, PER_AXIS_NAMES, POOL_BUILD_ROLES, ROLE_NAMES, SHOWN,
                         BackwardCall, Identity, NoUpdate, backward_call, compact, geometry_names, parameters_of,
                         positional_room, role_of, takes, takes_with, uncallable)
from .userfiles import LoadError, Source, find_backward, load_module
from .userfiles import user_location as _user_location

CONVENTIONS = ("auto", "reference", "function", "args", "dive", "dlai")
BAD_RETURN = "BadReturn"  # the kind of an ImplementationError for a value user code returned, not raised
REFUSALS = ("AssertionError", "ValueError", "NotImplementedError")  # what a layer raises to refuse on purpose


@dataclass(frozen=True)
class Hyperparameters:
    """What building a layer needs from a configuration: the layer, its window as (h, w) pairs, and the input's
    depth and size and the filters (for constructors that make their own weights).

    A ``gradcheck.Config`` has these fields too; this stand-in is what the
    sandboxed child gets, where Config (which needs the reference layers) does
    not exist.
    """

    layer: str
    kernel: tuple
    stride: tuple = (1, 1)
    pad: tuple = (0, 0)
    dilation: tuple = (1, 1)
    channels: int = 1
    size: tuple = (1, 1)
    filters: int = 1

    @classmethod
    def names(cls):
        return [field.name for field in fields(cls)]

    @classmethod
    def from_dict(cls, data):
        """From JSON, where pairs arrive as lists."""
        return cls(**{name: tuple(data[name]) if isinstance(data[name], list) else data[name]
                      for name in cls.names()})

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
RETURN_INSTEAD = {"forward": "return the output array", "backward": "return dx"}


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
            if what == "backward" and "W" in getattr(self, "params", {}):
                instead += " (dW and db are read from the layer)"
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
    that copied them at construction never sees an update.  A layer that made
    its own weights has ``places`` saying where it keeps them (see
    ``weight_places``): W and b are written there in place, keeping the
    layer's shapes, and updated there.  In the dive convention it is the
    layer's own ``W`` and ``B`` (or ``b``), updated in place or rebound
    (``layer.W -= ...`` or ``layer.W = layer.W - ...``); its optimizer and
    activation are replaced by no-ops.  Weights that backward changes anyway
    (dive, or a backward taking a learning rate, given ``backward_keywords``
    such as ``{"lr": 0}``) are put back.

    Gradients kept under names gradcheck does not know are found by shape
    among the arrays backward sets or changes: ``gradients`` (a
    ``_GradientFinder`` shared by the implementation's subjects) says where.
    """

    def __init__(self, layer, params, dive=False, places=None, backward_keywords=None, gradients=None):
        super().__init__()
        self.layer = layer
        self.params = params
        self.dive_mode = dive
        self.places = dict(places or {})  # W, b -> where the layer keeps them; absent: the arrays it was given
        self.backward_keywords = dict(backward_keywords or {})
        self.gradients = gradients
        self.returned = {}  # dW and db from a backward that returned (dx, dW, db)
        self.changed = []  # (place, array): what the last backward set or changed, of a gradient's shape
        self.own = bool(self.places)  # the layer made its own weights: read in the shapes gradcheck uses
        for name, place in self.places.items():
            kept = self._weight(name)
            if not isinstance(kept, np.ndarray) or squeezed(kept.shape) != squeezed(params[name].shape):
                raise ImplementationError.returned("construction", f"the layer keeps {name} in "
                                                                   f"{place_text(place)} of shape "
                                                                   f"{np.shape(kept)}, not {params[name].shape}")
            self.write(name, params[name])
        if dive:
            self.updates = IN_PLACE + REBINDING
            self.places = self.places or {"W": ("attr", "W"), "b": ("attr", "B" if hasattr(layer, "B") else "b")}
            self._neutralize()
        if self.backward_keywords:
            passed = ", ".join(f"{key}={_shown_value(value)}" for key, value in self.backward_keywords.items())
            self.notes.add(f"backward was called as backward(dout, {passed}): gradients are taken at the weights "
                           "before any update")

    def forward(self, x):
        self.x = x
        return self._returned(call("forward", self.layer.forward, x), "forward")

    def backward(self, dout):
        guarded = self.dive_mode or self.backward_keywords
        before = {name: self.read(name) for name in self.params} if guarded else {}
        watch = self.gradients is not None and any(known_place(self.layer, name) is None for name in ("dW", "db"))
        gradient = gradient_shaped(self.params)
        snapshot = snapshot_arrays(self.layer, lambda array: self._x_shaped(array) or (watch and gradient(array)))
        dx = call("backward", self.layer.backward, dout, **self.backward_keywords)
        if watch:
            self.changed = changed_arrays(self.layer, snapshot, gradient, self._weight_arrays())
        if isinstance(dx, tuple) and dx:
            self.notes.add(f"backward returned a tuple of {len(dx)}; its first element was taken as dx (dW and db "
                           "are read from the layer's attributes)")
            self.returned = dict(zip(("dW", "db"), dx[1:])) if len(dx) == 3 else {}
            dx = dx[0]
        if dx is None:
            dx = self._kept_dx(snapshot, dout)
        dx = self._returned(dx, "backward")
        for name, value in before.items():
            if not np.array_equal(self.read(name), value):
                self.write(name, value)
                self.notes.add(f"backward changed {name} itself (an optimizer step); it was put back "
                               "so that every gradient is taken at the same weights")
        return dx

    def _x_shaped(self, array):
        return array.shape == np.shape(getattr(self, "x", None))

    def _kept_dx(self, snapshot, dout):
        """dx, from a backward that returned None: what it set or changed in the layer (``self.dx = dx``; see
        ``dx_place``), or None when there is none."""
        known = (known_place(self.layer, name) for name in ("dW", "db"))
        kept = [value_at(self.layer, place) for place in known if place is not None]
        left_out = (self.x, dout, *self._weight_arrays(), *kept)
        try:
            place = dx_place(changed_arrays(self.layer, snapshot, lambda array: True, left_out), np.shape(self.x))
        except Ambiguous as exc:
            raise ImplementationError.returned("backward", str(exc)) from None
        if place is None:
            return None
        self.notes.add(f"backward returned None; dx was read from the layer's {place_text(place)}, which it set")
        return value_at(self.layer, place)

    def read(self, name):
        if name in self.params:
            value = np.array(self._weight(name), dtype=self.params[name].dtype)
            return as_shape(value, self.params[name].shape) if self.own else value
        place = known_place(self.layer, name)
        if place is None and self.returned.get(name) is not None:
            self.notes.add("the layer keeps no dW or db: they were read from backward's tuple as (dx, dW, db)")
            return self._returned(self.returned[name], name)
        if place is None and self.gradients is not None:
            place = self.gradients.place(name, self)
        if place is None:
            raise ImplementationError("read", "AttributeError",
                                      f"the layer has no {name}: looked for the attributes "
                                      f"{', '.join(GRAD_ALIASES[name])} and {', '.join(GRAD_DICTS)}"
                                      f"[{name[1:]!r}]")
        value = self._returned(value_at(self.layer, place), name)
        return as_shape(value, self.params["W" if name == "dW" else "b"].shape) if self.own else value

    def write(self, name, value, rebind=False):
        if rebind:
            rebind_place(self.layer, self.places[name], np.array(value).reshape(np.shape(self._weight(name))))
        else:
            target = self._weight(name)
            target[...] = np.reshape(value, target.shape)

    def _weight(self, name):
        """The array the convention's optimizer updates for parameter ``name``."""
        if name in self.places:
            return value_at(self.layer, self.places[name])
        return self.params[name]

    def _weight_arrays(self):
        return [self._weight(name) for name in self.params]

    def _neutralize(self):
        if hasattr(self.layer, "optimizer"):
            self.layer.optimizer = NoUpdate()
            self.notes.add("the layer's optimizer was replaced by a no-op: gradients are taken at the weights "
                           "before any update")
        if hasattr(getattr(self.layer, "activation", None), "forward"):
            self.layer.activation = Identity()
            self.notes.add("the layer's activation was replaced by the identity: the convolution alone is checked")


class FunctionPair(Subject):
    """A forward/backward function pair: forward(x, [w, b,] ...) -> (out, cache), backward(dout, cache) -> grads.

    ``arguments(config)`` gives what follows x (and w, b) in the forward call,
    as (positional, keywords): cs231n's conv_param / pool_param dict, or the
    stride and pad by name.  ``roles`` (a ``BackwardCall``) says what each
    parameter of the backward gets when it is not (dout, cache): the
    forward's x, w, b or settings, the geometry, or the upstream gradient
    alone (a backward keeping its state in module globals); its forward may
    then return the output alone.  ``backward_keywords`` are passed to the
    backward as well (deeplearning.ai's pool mode).  The subject owns W and b
    (so in-place updates always reach forward); square strides and pads only.
    """

    def __init__(self, forward, backward, config, params, arguments, roles=None, backward_keywords=None):
        super().__init__()
        self.functions = (forward, backward)
        self.backward_keywords = backward_keywords or {}
        self.params = {name: value.copy() for name, value in params.items()}
        self.config = config
        self.is_conv = config.is_conv
        self.extra, self.keywords = arguments(config)
        self.roles = roles or BackwardCall.cached(backward.__name__)
        self.grads = {}
        self.cache = self.x = self.out = None

    def forward(self, x):
        weights = (self.params["W"], self.params["b"]) if self.is_conv else ()
        result = call("forward", self.functions[0], x, *weights, *self.extra, **self.keywords)
        if self.roles.takes_cache:
            out, self.cache = self._pair(result, "forward", 2, "(out, cache)")
        else:  # the backward takes what forward was given: a cache, if forward returns one, is not needed
            out = result[0] if isinstance(result, tuple) and len(result) == 2 else result
        self.x, self.out = x, out
        return self._returned(out, "forward")

    def backward(self, dout):
        values = {"dout": dout, "cache": self.cache, "x": self.x, "out": self.out, "settings": self._settings(),
                  "stride": self.config.stride, "pad": self.config.pad, "kernel": self.config.kernel,
                  "dilation": self.config.dilation,
                  **self.params}
        positional, keywords = self.roles.arguments(values)
        result = call("backward", self.functions[1], *positional, **keywords, **self.backward_keywords)
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

    def _settings(self):
        """The settings dict the forward was given, or cs231n's for this configuration."""
        if self.extra and isinstance(self.extra[-1], dict):
            return self.extra[-1]
        return _cs231n_settings(self.config)

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
    takes no dilation); ``restrict`` the restrictions of the drawing it needs
    (``{"square": ("kernel",)}`` for a layer taking one kernel size);
    ``per_axis`` says whether stride/pad may differ between the axes.
    ``convention`` names what was detected.  ``references`` (reference layer
    classes) replace the default oracle, the fastest reference formulation,
    when a reference formulation is checked.
    ``layout`` is the Layout the layer reads: the convention's own until the
    engine, which probes the layer (``gradcheck.layout``), sets another;
    ``make`` can also be given one, for such a probe.  Asked for a
    configuration its pins or restrictions exclude (grading checks the
    geometry the instructor asks for, whatever the signature offers), ``make``
    raises an ImplementationError that says what the layer cannot take.
    """

    references = None

    def __init__(self, name, make_subject, convention, pinned=None, per_axis=False, spec="", restrict=None):
        self.name = name
        self.spec = spec  # FILE:NAME, for reproduction commands
        self.make_subject = make_subject
        self.convention = convention
        self.pinned = pinned or {}
        self.restrict = restrict or {}
        self.per_axis = per_axis
        self.chosen_layout = None

    @property
    def layout(self):
        return self.chosen_layout or natural_layout(self.convention)

    @layout.setter
    def layout(self, layout):
        self.chosen_layout = layout

    def make(self, config, params, layout=None):
        cannot = self.cannot_take(config)
        if cannot:
            raise ImplementationError("construction", "Unsupported", cannot)
        layout = layout or self.layout
        if layout == NCHW:
            return self.make_subject(config, params)
        return Relaid(self.make_subject, config, params, layout)

    def cannot_take(self, config):
        """What of ``config`` this implementation's pins or restrictions exclude, as a sentence, or ""."""
        def value_of(name):
            return getattr(config, name, None)
        contradicted, unsquare = self.contradicted_pin(value_of), self.unsquare(value_of)
        if contradicted:
            name, given = contradicted
            return (f"{self.name} ({self.convention} convention) takes no {name} other than {self.pinned[name]}, "
                    f"so it cannot be checked with {name} {compact(given)}")
        if unsquare:
            name, (h, w) = unsquare
            return (f"{self.name} ({self.convention} convention) takes square {name}s only, so it cannot be "
                    f"checked with {name} {h}x{w}")
        return ""

    def contradicted_pin(self, value_of):
        """The first dimension pinned by the convention that ``value_of(name)`` (an int, an (h, w) pair or None)
        gives another value: (name, value given), or None."""
        for name, value in self.pinned.items():
            given = value_of(name)
            if given is not None and given not in (value, (value, value)):
                return name, given
        return None

    def unsquare(self, value_of):
        """The first dimension the layer takes as one int that ``value_of(name)`` gives as (h, w) with h != w:
        (name, (h, w)), or None."""
        for name in self.restrict.get("square", ()):
            given = value_of(name)
            if given is not None and not isinstance(given, int) and given[0] != given[1]:
                return name, tuple(given)
        return None


def implementation_of(obj, layer, convention="auto", name=None, source=None, backward=None):
    """Wrap ``obj`` (a class, a factory or a forward function) for ``layer``, detecting the convention.

    ``source`` (a ``Source``) is where ``obj`` was read from (default: its
    own module); ``backward`` names a forward function's partner (see
    ``find_backward``).  Raises LoadError saying what was looked for when
    nothing fits.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    name = name or getattr(obj, "__name__", repr(obj))
    if not callable(obj):
        raise LoadError(f"{name} is a {type(obj).__name__}, not a class or a function")
    is_class = inspect.isclass(obj)
    if convention in ("function", "args", "dlai") or (convention == "auto" and not is_class and "forward" in name):
        return _function_pair(obj, layer, name, convention, source or Source.of(obj), backward)
    if backward is not None:
        raise LoadError(f"a backward is named for forward functions; {name} is a {'class' if is_class else 'factory'}"
                        ", whose layer's own backward is checked: leave --backward out")
    way = _constructor(obj, name, layer)
    finder = _GradientFinder() if layer == "conv" else None

    def make_subject(config, params):
        layer_object = call("construction", way.build, config, params)
        dive = convention == "dive" or (convention == "auto" and hasattr(layer_object, "optimizer"))
        subject = ObjectStyle(layer_object, params, dive=dive, places=way.places,
                              backward_keywords=way.backward_keywords, gradients=finder)
        if way.note:
            subject.notes.add(way.note)
        return subject

    if finder is not None:
        finder.probe = lambda: _probe(make_subject, way.probe)
    return Implementation(name, make_subject, "dive" if convention == "dive" else "reference", dict(way.how.pinned),
                          restrict=way.how.restrict)


def reference_style(cls, layer, references=None):
    """An Implementation for a trusted class in the reference convention (the reference layers themselves).

    Unlike user code, it may take stride and pad as (h, w) pairs.  ``references``
    are the reference classes it is checked against (default: the fastest).
    """
    implementation = implementation_of(cls, layer, "reference")
    implementation.per_axis = True
    implementation.references = references
    return implementation


# -- how to call a constructor, a forward or a backward: read from its signature -----------------------------------


class _Call:
    """One way to pass a configuration to a constructor: the leading arguments, then the rest by keyword or by
    position.

    ``leading``: W and b (a pool: pool_h and pool_w) come first, by position;
    otherwise the constructor makes its own weights and gets nothing by
    position.  ``names`` maps roles to the parameter names that receive them
    (a pair of names for h and w): the geometry ("stride", "pad",
    "dilation") and what a layer builds itself from ("input_shape" as (C, H,
    W), "channels", "filters", "kernel"), a learning rate "lr" (passed as 0)
    and an "optimizer" (one that does nothing); ``positional`` passes stride
    and pad by position instead.  A kernel named by one parameter is an int
    when square, else a (KH, KW) pair; with ``square`` the callee takes one
    int and only square kernels are checked (``restrict``).  Geometry a
    callee takes no argument for is ``pinned`` to its default.
    """

    def __init__(self, names, positional=False, pinned=None, leading=True, square=False):
        self.names = names
        self.positional = positional
        self.pinned = pinned or {}
        self.leading = leading
        self.square = square

    def arguments(self, config, params=None):
        """(positional, keywords) for ``config`` (and the W and b in ``params``): pairs as ints where they are
        square or a layer takes one int (a pair per axis where named so)."""
        positional = (compact(config.stride), compact(config.pad)) if self.positional else ()
        keywords = {}
        for role, name in self.names.items():
            value = _role_value(role, config, params or {})
            if role == "dilation" and value == (1, 1):
                continue  # passed only when needed: a layer may accept it in **kwargs and ignore it
            if isinstance(name, tuple):
                keywords.update(zip(name, value))
            elif role == "kernel" and self.square:
                keywords[name] = value[0]
            elif role in ("kernel", "stride", "pad", "dilation"):
                keywords[name] = compact(value)
            else:
                keywords[name] = value
        return positional, keywords

    def describe(self, callee, leading):
        """e.g. 'Pool(pool_h, pool_w, PS=stride, PP=pad)', 'Conv(W, b, stride, pad), by position' or
        'Conv(input_shape=(C, H, W), num_filters=F, kernel_size=kernel, stride=stride, pad=pad)'."""
        leading = list(leading) if self.leading else []
        passed = [f"{name}={SHOWN.get(role, role)}" if not isinstance(name, tuple)
                  else f"{name[0]}={role}_h, {name[1]}={role}_w" for role, name in self.names.items()]
        if self.positional:
            return f"{callee}({', '.join([*leading, 'stride', 'pad', *passed])}), by position"
        return f"{callee}({', '.join([*leading, *passed])})"

    @property
    def standard(self):
        """Passed the way the convention documents: W and b, then stride=, pad= (and dilation=) by keyword."""
        return self.leading and not self.positional and set(self.names) <= set(GEOMETRY_NAMES) and \
            all(self.names.get(role) == role for role in ("stride", "pad"))

    @property
    def restrict(self):
        """The drawing this way of passing the kernel needs: square kernels for a layer taking one int."""
        return {"square": ("kernel",)} if self.square else {}


def _role_value(role, config, params):
    """What a parameter of ``role`` gets for ``config``: pairs stay pairs (``_Call`` makes them ints)."""
    if role in ("W", "b"):
        return params[role]
    return {"input_shape": lambda: (config.channels, *config.size), "channels": lambda: config.channels,
            "filters": lambda: params["W"].shape[0] if "W" in params else config.filters,
            "lr": lambda: 0.0, "optimizer": NoUpdate}.get(role, lambda: getattr(config, role))()


class _Way:
    """How to build a layer object: ``build(config, params)``; a note saying how (None for the usual way); for
    a layer that makes its own weights, where it keeps them (``places``, see ``weight_places``);
    ``backward_keywords`` for a backward taking a learning rate; ``probe``, a configuration on which the
    shapes of x, W, b, the output and the gradients all differ (see ``_probe_config``)."""

    def __init__(self, obj, how, note, probe):
        self.obj, self.how, self.note, self.probe = obj, how, note, probe
        self.places = {}
        self.backward_keywords = {}

    def build(self, config, params):
        leading = () if not self.how.leading else (params["W"], params["b"]) if config.is_conv else config.kernel
        args, keywords = self.how.arguments(config, params)
        return self.obj(*leading, *args, **keywords)


def _calls(parameters, layer):
    """The ways to build a layer with a constructor of these ``parameters``, to try in order.

    A constructor whose first two parameters are W and b (a pool's: its
    window), or that do not say what they are, gets them by position, then
    stride and pad by the keywords it names, else by position when it takes
    enough arguments; with no readable signature, by the usual keywords, then
    by position.  One whose first parameters are something else (an input
    shape, a number of channels, a kernel size, ...) makes its own weights and
    gets everything by keyword (``_own_calls``).  Never is W passed to a
    parameter that names another role (``Conv(input_shape, ...)``)."""
    usual = _named_call({"stride": "stride", "pad": "pad"}, layer)
    by_position = _Call({}, positional=True, pinned={"dilation": 1} if layer == "conv" else {})
    if parameters is None:
        return [usual, by_position]
    if not _takes_leading(parameters, layer):
        return _own_calls(parameters, layer)
    roles = BUILD_ROLES if layer == "conv" else POOL_BUILD_ROLES  # but what the leading two are
    names = geometry_names(parameters, 2, tuple(role for role in roles if role not in ("W", "b") and
                                                (layer == "conv" or role != "kernel")))
    if {"stride", "pad"} & set(names):
        return [_named_call(names, layer)]
    if positional_room(parameters) >= 4:
        by_position.names = {role: name for role, name in names.items() if role not in GEOMETRY_NAMES}
        return [by_position]
    return [usual]  # it will fail, and the LoadError says what was tried


def _takes_leading(parameters, layer):
    """Whether the constructor's first two parameters are for W and b (a pool's: pool_h and pool_w), or say
    nothing of what they are."""
    first = [p for p in parameters if p.kind is not p.KEYWORD_ONLY][:2]
    if first and first[0].kind is first[0].VAR_POSITIONAL:
        return True
    if len(first) < 2 or any(p.kind is p.VAR_KEYWORD for p in first):
        return False
    roles = [role_of(p.name, BUILD_ROLES) for p in first]
    if layer == "conv":
        return roles[1] == "b" or (roles[0] in (None, "W") and roles[1] in (None, "b"))
    return all(role is None or p.name in PER_AXIS_NAMES["kernel"][axis]
               for axis, (p, role) in enumerate(zip(first, roles)))


def _own_calls(parameters, layer):
    """The ways to build a layer that makes its own weights: every role by the keyword it names.  A kernel
    named by one parameter is tried as a pair first (a conv shows whether it took it by the shape of its
    weights); a pool's as a pair only when its default is one."""
    names = geometry_names(parameters, 0, BUILD_ROLES if layer == "conv" else POOL_BUILD_ROLES)
    pairs = _named_call(names, layer, leading=False)
    if not isinstance(names.get("kernel", ()), str):
        return [pairs]
    square = _named_call(names, layer, leading=False, square=True)
    if layer == "conv":
        return [pairs, square]
    default = next(p.default for p in parameters if p.name == names["kernel"])
    return [pairs if isinstance(default, (tuple, list)) else square]


def _named_call(names, layer, **how):
    """Geometry passed by the parameter names found; what the callee has no parameter for is pinned.  ``how``:
    the rest of ``_Call``'s options."""
    pinned = {role: DEFAULTS[role] for role in ("stride", "pad", "dilation")
              if role not in names and (role != "dilation" or layer == "conv")}
    return _Call(names, pinned=pinned, **how)


def _unfilled(parameters, how):
    """The required parameters of a constructor that makes its own weights that ``how`` passes nothing to."""
    given = {n for name in how.names.values() for n in (name if isinstance(name, tuple) else (name,))}
    return [p for p in parameters if p.default is p.empty and p.name not in given
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _probe_config(layer, how):
    """A small configuration on which no two of the shapes a layer deals with agree (x, W, the output, b and
    their gradients), within what ``how`` can pass: where a layer's weights and gradients are is told by
    their shapes on it."""
    kernel = (3, 3) if how.square or not how.names.get("kernel") else (3, 2)
    if layer != "conv":
        kernel = (2, 2) if how.square else (3, 2)
    pinned = how.pinned
    stride = pinned.get("stride", 1 if layer == "conv" else 2)
    pad = pinned.get("pad", 1 if layer == "conv" else 0)
    return Hyperparameters(layer, kernel, (stride, stride), (pad, pad), channels=3, size=(7, 6), filters=4)


def _constructor(obj, name, layer):
    """The first way to build ``obj`` that works on a small configuration; else LoadError with a factory to add."""
    leading = ("W", "b") if layer == "conv" else ("pool_h", "pool_w")
    failures = []
    parameters = parameters_of(obj)
    for how in _calls(parameters, layer):
        unfilled = [] if how.leading else _unfilled(parameters, how)
        if unfilled:
            raise LoadError(_unbuildable_own(obj, name, layer, how, parameters, unfilled))
        note = None if how.standard else f"built as {how.describe(name, leading)}"
        way = _Way(obj, how, note, _probe_config(layer, how))
        trial, params = (way.probe, _probe_params(way.probe)) if not how.leading else \
            (Hyperparameters(layer, (2, 2)), {"W": np.ones((1, 1, 2, 2)), "b": np.zeros(1)}) if layer == "conv" else \
            (Hyperparameters(layer, (2, 2), stride=(2, 2)), {})
        try:
            built = way.build(trial, params)
            if not how.leading and layer == "conv":
                way.places = weight_places(built, params, name)
                way.note += f"; W and b written into its {' and '.join(map(place_text, way.places.values()))}"
        except NotFound as exc:
            failures.append((how, exc))
            continue
        except LoadError:
            raise
        except Exception as exc:  # noqa: BLE001 - user code may raise anything
            failures.append((how, exc))
            continue
        if how.square:
            way.note += f"; it takes one kernel size, so only square {'kernels' if layer == 'conv' else 'windows'} " \
                        "are checked"
        way.backward_keywords = _require_methods(built, name)
        return way
    if failures and not failures[0][0].leading:
        raise LoadError(_unbuildable_own(obj, name, layer, failures[0][0], parameters, [], failures))
    raise LoadError(_unbuildable(name, layer, failures, inspect.isclass(obj), parameters))


def _probe_params(config):
    """Random W and b for a probe configuration (none for a pool)."""
    if not config.is_conv:
        return {}
    rng = np.random.default_rng(0)
    return {"W": rng.standard_normal((config.filters, config.channels, *config.kernel)),
            "b": rng.standard_normal(config.filters)}


def _require_methods(layer_object, name):
    """Refuse a layer whose forward or backward cannot be called with one array, saying how to adapt it (one
    without a backward yet still gets its forward checked).  A backward that also takes a learning rate (or an
    optimizer) gets 0 (one that does nothing): the keywords to call it with."""
    keywords = {}
    for method, argument in (("forward", "x"), ("backward", "dout")):
        function = getattr(layer_object, method, None)
        parameters = parameters_of(function) if callable(function) else None
        if parameters is None:
            continue
        if method == "backward":
            for p in parameters[1:]:
                role = role_of(p.name, ("lr", "optimizer"))
                if role and p.kind is not p.POSITIONAL_ONLY:
                    keywords[p.name] = 0.0 if role == "lr" else NoUpdate()
        if takes_with(function, 1, keywords if method == "backward" else {}):
            continue
        shown = f"its {method}({', '.join(p.name for p in parameters)})"
        extra = [f"{p.name}=..." for p in parameters[1:] if p.default is p.empty and p.name not in keywords and
                 p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        raise LoadError(f"{name} cannot be checked: gradcheck calls {method}({argument}), but {shown}. Adapt it in "
                        f"a subclass in your file, with your own values for ..., and pass --impl FILE:Layer:\n\n"
                        f"    class Layer({type(layer_object).__name__}):\n"
                        f"        def {method}(self, {argument}):\n"
                        f"            return super().{method}({', '.join([argument, *extra])})\n")
    return keywords


def _unbuildable(name, layer, failures, is_class, parameters):
    """What was tried to build NAME, what it raised, and the factory to add: for a class whose constructor's
    parameters can be read, calling it with their names."""
    tried = []
    for how, exc in failures:
        shown = (f"{name}(W, b, stride=1, pad=0)" if layer == "conv" else f"{name}(2, 2, stride=2, pad=0)") \
            if how.standard else how.describe(name, ("W", "b") if layer == "conv" else ("2", "2"))
        tried.append(f"{shown} raised {type(exc).__name__}: {exc}")
    positional = "W, b, stride, pad" if layer == "conv" else "pool_h, pool_w, stride, pad"
    if is_class and parameters is not None:
        build = f"layer = {_leading_call(name, layer, parameters, failures[-1][0])}"
    else:
        weights = "\n        layer.W, layer.b = W, b   # or layer.W, layer.B = W, b" if layer == "conv" else ""
        build = f"layer = {name if is_class else 'YourLayer'}(...)   # build it your way{weights}"
    fill = ", with your own values for ...," if "..." in build.partition("#")[0] else ""
    return (f"{'; '.join(tried)}. gradcheck looks for a class or factory taking ({positional}), or a cs231n "
            f"forward function (a name with 'forward' and a matching 'backward' function). If {name} is built "
            f"differently, add a factory to your file{fill} and pass --impl FILE:make_layer:\n\n"
            f"    def make_layer({positional}):\n"
            f"        {build}\n"
            f"        return layer\n")


def _leading_call(name, layer, parameters, how):
    """NAME's call in a factory of (W, b, stride, pad) (a pool's: (pool_h, pool_w, stride, pad)) for a
    constructor taking the weights (the window) first, in its parameters' own names; ... for what gradcheck
    cannot tell."""
    given = ["W", "b"] if layer == "conv" else ["pool_h", "pool_w"]
    given += ["stride", "pad"] if how.positional else []
    arguments = []
    for p in (p for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)):
        value = given.pop(0) if given else _factory_value(p.name, layer, False)
        if value != "..." or p.default is p.empty:
            arguments.append(f"{p.name}={value}")
    return f"{name}({', '.join(arguments)})"


def _unbuildable_own(obj, name, layer, how, parameters, unfilled, failures=()):
    """Why a constructor that makes its own weights could not be used (parameters gradcheck cannot fill, or
    what building it did), and the factory to write, in the constructor's own names."""
    if unfilled:
        signature = f"{name}({', '.join(str(p) if len(str(p)) <= 40 else p.name + '=...' for p in parameters)})"
        order = [p.name for p in parameters]
        shown = [f"{n}={SHOWN.get(role, role)}" if isinstance(n, str) else f"{n[0]}, {n[1]}"
                 for role, n in sorted(how.names.items(), key=lambda item: order.index(
                     item[1] if isinstance(item[1], str) else item[1][0]))]
        why = (f"{signature} takes {', '.join(p.name for p in unfilled)}, which gradcheck cannot make (it passes "
               f"{', '.join(shown) or 'nothing else'})")
    else:
        distinct = {(tried.describe(name, ()), type(exc)): (tried, exc) for tried, exc in reversed(failures)}
        why = "; ".join(f"{tried.describe(name, ())} built a layer that {exc}" if isinstance(exc, NotFound) else
                        f"{tried.describe(name, ())} raised {type(exc).__name__}: {exc}"
                        for tried, exc in reversed(distinct.values()))
    arguments = [f"{p.name}={_factory_value(p.name, layer, how.square or bool(unfilled))}" for p in parameters
                 if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and
                 (p.default is p.empty or role_of(p.name, BUILD_ROLES) is not None)]
    inputs = ["W", "b", "stride", "pad"] if layer == "conv" else ["pool_h", "pool_w", "stride", "pad"]
    inputs += [role for role in ("input_shape", "channels") if role in how.names and (layer != "conv" or
                                                                                    role == "input_shape")]
    lines = [f"    def make_layer({', '.join(inputs)}):",
             f"        layer = {name}({', '.join(arguments)})"]
    if layer == "conv":
        lines.append("        layer.{}, layer.{} = W, b   # where your layer keeps its weights".format(
            *_weight_attributes(obj)))
    lines.append("        return layer")
    fill = ", with your own values for ...," if "..." in lines[1] else ""
    given = [f"{role} as {SHOWN[role]}" for role in ("input_shape", "channels") if role in inputs]
    passes = f" (gradcheck passes {' and '.join(given)})" if given else ""
    return (f"{why}. Add a factory to your file{fill} and pass --impl FILE:make_layer{passes}:\n\n"
            + "\n".join(lines) + "\n")


def _factory_value(parameter, layer, square):
    """What a factory of (W, b, stride, pad) passes to a constructor's ``parameter``, as code; ... when unknown."""
    role = role_of(parameter, BUILD_ROLES)
    axis = next((i for i, axis in enumerate(PER_AXIS_NAMES.get(role, ())) if parameter in axis), None)
    if role == "kernel":
        if layer != "conv":
            return ("pool_h", "pool_w")[axis] if axis is not None else "pool_h" if square else "(pool_h, pool_w)"
        return f"W.shape[{2 + axis}]" if axis is not None else "W.shape[2]" if square else "W.shape[2:]"
    return {"W": "W", "b": "b", "input_shape": "input_shape", "channels": "W.shape[1]" if layer == "conv" else
            "channels", "filters": "W.shape[0]", "stride": "stride", "pad": "pad", "lr": "0"}.get(role, "...")


def _weight_attributes(cls):
    """The attribute names a class's constructor gives its weights and bias (read from its source with ast),
    else W and b: what a factory must set."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls.__init__)))
    except (OSError, TypeError, SyntaxError, AttributeError):
        return "W", "b"
    assigned = [node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and
                isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name) and node.value.id == "self"]

    def pick(names, words, default):  # by a word only a name that plays no other role: filter_dim is a size
        return next((a for a in assigned if a in names), None) or \
            next((a for a in assigned if any(word in a.lower() for word in words) and
                  role_of(a, BUILD_ROLES) is None), default)

    return pick(ROLE_NAMES["W"], ("weight", "kernel", "filter"), "W"), pick(ROLE_NAMES["b"], ("bias",), "b")


# -- W, b and their gradients, found by shape among a layer's arrays ----------------------------------------------


class _GradientFinder:
    """Where a conv layer keeps dW and db when it names them in no way gradcheck knows: the arrays of their
    shapes that backward sets or changes.

    Found on a fresh layer run forward and backward once per implementation
    on a probe configuration where no two shapes agree (``probe``), so that a
    small configuration (where dx may have W's shape) cannot mislead it;
    when the layer raises there, on each subject's own last backward.
    """

    def __init__(self):
        self.probe = None  # () -> a subject that ran forward and backward on a probe configuration
        self.probed = None  # that subject, or False when the layer raised there

    def place(self, name, subject):
        if self.probed is None:
            try:
                self.probed = self.probe()
            except ImplementationError:
                self.probed = False
        seen = self.probed or subject
        try:
            place = gradient_place(seen.changed, seen.params, name)
        except Ambiguous as exc:
            raise ImplementationError("read", "AttributeError", str(exc)) from None
        if place is not None:
            subject.notes.add(f"{name} was read from {place_text(place)}: the array of its shape that backward sets")
        return place


def _probe(make_subject, config):
    """A fresh subject of ``make_subject`` on ``config`` that ran forward and backward once."""
    rng = np.random.default_rng(1)
    subject = make_subject(config, _probe_params(config))
    out = subject.forward(rng.standard_normal((2, config.channels, *config.size)))
    subject.backward(rng.standard_normal(out.shape))
    return subject


# -- forward and backward functions ---------------------------------------------------------------------------------


def _function_pair(forward, layer, name, convention, source, backward=None):
    """A forward function and its backward partner, called as cs231n's pair or with arguments of their own."""
    partner = find_backward(forward, name, source, backward)
    parameters = parameters_of(forward)
    roles = backward_call(partner.function, partner.name, layer, name, parameters)
    notes = {partner.note} - {""}
    style = convention if convention != "auto" else _function_style(parameters, layer)
    if style == "dlai":
        return _dlai_pair(forward, partner, layer, name, roles, notes, confirm=convention == "auto")
    if style == "function":
        if roles.roles != BackwardCall.cached(partner.name).roles:
            notes.add(f"called {roles.describe()} {roles.given(name)}")
        return _cs231n_pair(forward, partner, layer, name, roles, notes)
    leading = ("x", "w", "b") if layer == "conv" else ("x", "pool_h", "pool_w")
    names = geometry_names(parameters, len(leading)) if parameters is not None else {}
    if not ({"stride", "pad"} & set(names)) or positional_room(parameters) < len(leading) or \
            geometry_names(parameters[:len(leading)], 0):  # e.g. a pool taking one pool_size, then stride
        raise LoadError(uncallable(name, parameters, partner.name, parameters_of(partner.function), layer))
    how = _named_call(names, layer)
    notes.add(f"called as {how.describe(name, leading)} and {roles.describe()}")

    def make_subject(config, params):
        subject = FunctionPair(forward, partner.function, config, params, lambda c: _with_window(c, how), roles)
        subject.notes.update(notes)
        return subject

    return Implementation(name, make_subject, "args", dict(how.pinned))


def _with_window(config, how):
    """What a function pair's forward takes after x (and w, b): a pool's window (pool_h, pool_w) by position,
    then the geometry by name."""
    args, keywords = how.arguments(config)
    return (() if config.is_conv else tuple(config.kernel)) + args, keywords


def _function_style(parameters, layer):
    """"dlai" (deeplearning.ai's names), "function" (cs231n: one dict of settings after x, w, b) or "args" (stride
    and pad named), from the forward function's parameters; cs231n's when they cannot be read."""
    if parameters is None:
        return "function"
    if _dlai_names(parameters, layer):
        return "dlai"
    after = 3 if layer == "conv" else 1
    named = geometry_names([p for p in parameters if p.kind is not p.VAR_KEYWORD], after)
    return "args" if named else "function"


def _cs231n_settings(config):
    """cs231n's conv_param or pool_param for ``config``."""
    if config.is_conv:
        return {"stride": config.stride[0], "pad": config.pad[0]}
    return {"pool_height": config.kernel[0], "pool_width": config.kernel[1], "stride": config.stride[0]}


def _cs231n_pair(forward, partner, layer, name, roles, notes):
    pinned = {"dilation": 1} if layer == "conv" else {"pad": 0}
    if not takes(forward, 4 if layer == "conv" else 2):
        raise LoadError(uncallable(name, parameters_of(forward), partner.name, parameters_of(partner.function), layer))

    def make_subject(config, params):
        subject = FunctionPair(forward, partner.function, config, params,
                               lambda c: ((_cs231n_settings(c),), {}), roles)
        subject.notes.update(notes)
        return subject

    return Implementation(name, make_subject, "function", pinned)


# -- the deeplearning.ai convention: conv_forward(A_prev, W, b, hparameters), pool_forward(A_prev, hparameters, mode) --

DLAI_SETTINGS = ("hparameters", "hparams", "hyperparameters", "hyper_parameters")
DLAI_MODES = {"maxpool": "max", "avgpool": "average"}


def _dlai_names(parameters, layer):
    """Whether a forward function's parameters are named as in deeplearning.ai's assignment: a dict of settings
    called hparameters (or hparams, ...), an input called A_prev, or (pools) a mode after two arguments, as in
    (x, settings, mode); not a mode after the geometry, pool_forward(x, pool_h, pool_w, stride, pad, mode)."""
    names = [p.name for p in parameters]
    mode_after_settings = "mode" in names[:3] and positional_room(parameters) == 3
    return bool(set(names) & set(DLAI_SETTINGS)) or names[:1] == ["A_prev"] or (layer != "conv" and mode_after_settings)


def _dlai_pair(forward, partner, layer, name, roles, notes, confirm):
    """deeplearning.ai's pair: conv_forward(A_prev, W, b, {"stride", "pad"}) -> (Z, cache) and
    conv_backward(dZ, cache) -> (dA_prev, dW, db); pool_forward(A_prev, {"f", "stride"}, mode=...) -> (A, cache)
    and pool_backward(dA, cache, mode=...) -> dA_prev, mode "max" or "average".  Its arrays are channels-last
    and b is (1, 1, 1, n_C) (``DLAI``); its kernels and windows square (``RESTRICTIONS``), its pools unpadded.

    Detected from names, the call is ``confirm``ed: when it raises on a small configuration where cs231n's call
    of the same pair returns, the pair is cs231n's."""
    if not takes(forward, 4 if layer == "conv" else 2):
        raise LoadError(uncallable(name, parameters_of(forward), partner.name, parameters_of(partner.function), layer))
    modes = [_mode_keywords(function, layer) for function in (forward, partner.function)]

    def settings(config):
        if config.is_conv:
            return ({"stride": config.stride[0], "pad": config.pad[0]},), {}
        return ({"f": config.kernel[0], "stride": config.stride[0]},), modes[0]

    def make_subject(config, params):
        subject = FunctionPair(forward, partner.function, config, params, settings, roles, modes[1])
        subject.notes.update(notes)
        return subject

    implementation = Implementation(name, make_subject, "dlai", {"dilation": 1} if layer == "conv" else {"pad": 0},
                                    restrict=restriction("dlai", layer)[0])
    if confirm and not _forward_returns(implementation, layer):
        cs231n = _cs231n_pair(forward, partner, layer, name, roles, notes)
        if _forward_returns(cs231n, layer):
            return cs231n
    return implementation


def _mode_keywords(function, layer):
    """{"mode": "max" or "average"} for a pool function that takes a mode (by name, or in **kwargs), else {}."""
    parameters = parameters_of(function) or []
    if layer == "conv" or not any(p.name == "mode" or p.kind is p.VAR_KEYWORD for p in parameters):
        return {}
    return {"mode": DLAI_MODES[layer]}


def _forward_returns(implementation, layer):
    """Whether ``implementation``'s forward returns, in its convention's layout, on a small configuration."""
    config = Hyperparameters(layer, (2, 2), stride=(1, 1) if layer == "conv" else (2, 2))
    params = {"W": np.ones((4, 3, 2, 2)), "b": np.zeros(4)} if layer == "conv" else {}
    try:
        implementation.make(config, params).forward(np.ones((2, 3, 6, 5)))
    except ImplementationError:
        return False
    return True


def _shown_value(value):
    return "a no-op optimizer" if isinstance(value, NoUpdate) else f"{value:g}"


# -- loading FILE:NAME ---------------------------------------------------------------------------------------------

def load_object(spec, workdir=None):
    """(NAME, its module) from ``"path/to/file.py:NAME"``, importing the file (see ``userfiles.load_module``)."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise LoadError(f"--impl must be FILE:NAME, e.g. my_layers.py:Conv2d; got {spec!r}")
    module = load_module(path, workdir)
    if not hasattr(module, name):
        defined = sorted(n for n, v in vars(module).items()
                         if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__)
        raise LoadError(f"{path} defines no {name!r}; it defines: {', '.join(defined) or 'nothing public'}")
    return getattr(module, name), module


def load_implementation(spec, layer, convention="auto", backward=None, workdir=None):
    """``"FILE:NAME"`` -> an Implementation in the detected (or given) convention.  ``backward`` names a forward
    function's partner (see ``find_backward``); ``workdir`` is the folder the user's imports run from (default:
    the current one)."""
    obj, module = load_object(spec, workdir)
    path, _, name = spec.rpartition(":")
    implementation = implementation_of(obj, layer, convention, name, Source(module, path, workdir), backward)
    implementation.spec = spec
    return implementation


# -- layouts: a layer that reads channels-last arrays, seen by the engine as NCHW -----------------------------------

ENGINE_AXES = {"x": "NCHW", "W": "FCHW", "b": "F"}  # the engine's axes; "x" also stands for out, dout and dx
AXIS_NAMES = {"x": {}, "W": {"H": "KH", "W": "KW"}, "b": {}}
BIAS_FORMS = ("F", "111F")


@dataclass(frozen=True)
class Layout:
    """The axes in which a layer reads x (and returns out and dx), W (and dW) and b (and db).

    ``x`` is an order of the letters of NCHW (out, dout and dx follow it, F in
    C's place), ``W`` of FCHW (H and W there are the kernel's), ``b`` is "F"
    or "111F" (deeplearning.ai's (1, 1, 1, n_C)).  The engine speaks NCHW,
    FCHW, F; ``to_layer`` and ``from_layer`` convert its arrays, ``index``
    and ``shape`` its positions, so that a report can show them as the layer
    sees them.
    """

    x: str = "NCHW"
    W: str = "FCHW"
    b: str = "F"

    def __post_init__(self):
        for kind in ("x", "W"):
            if sorted(getattr(self, kind)) != sorted(ENGINE_AXES[kind]):
                raise ValueError(f"layout {kind} must order the axes {ENGINE_AXES[kind]}, got {getattr(self, kind)!r}")
        if self.b not in BIAS_FORMS:
            raise ValueError(f"layout b must be one of {', '.join(BIAS_FORMS)}, got {self.b!r}")

    @property
    def name(self):
        """"nchw" (channels first) or "nhwc" (channels last)."""
        return "nchw" if self.x.index("C") == 1 else "nhwc"

    def to_dict(self):
        return {"x": self.x, "W": self.W, "b": self.b}

    @classmethod
    def from_dict(cls, data):
        return cls(**{kind: str(data[kind]) for kind in ENGINE_AXES})

    def to_layer(self, kind, array):
        """An engine array of ``kind`` ("x", "W" or "b") in the layer's layout."""
        if kind == "b":
            return array.reshape(1, 1, 1, -1).copy() if self.b == "111F" else array
        return np.ascontiguousarray(array.transpose(_order(ENGINE_AXES[kind], getattr(self, kind))))

    def from_layer(self, kind, array, filters=None):
        """What the layer returned for ``kind``, in the engine's layout.  An array that does not have the
        layout's dimensions stays as it is, so that the engine reports the shape the layer made; a b of
        ``filters`` elements is taken flat or as (1, 1, 1, F)."""
        if kind == "b":
            return array.reshape(-1) if self.b == "111F" and array.shape in ((filters,), (1, 1, 1, filters)) \
                else array
        axes = getattr(self, kind)
        if array.ndim != len(axes):
            return array
        return np.ascontiguousarray(array.transpose(_order(axes, ENGINE_AXES[kind])))

    def index(self, kind, index):
        """The engine's index (or shape) of an element of ``kind``, as the layer indexes it."""
        if kind == "b":
            return (0, 0, 0, *index) if self.b == "111F" and len(index) == 1 else tuple(index)
        engine = ENGINE_AXES[kind]
        if len(index) != len(engine):
            return tuple(index)
        return tuple(index[engine.index(axis)] for axis in getattr(self, kind))

    def shape(self, kind, shape, expected=False):
        """A shape the engine saw for ``kind``, as the layer made it (``expected``: as the layer should make it).
        A b the layer made is never converted where it differs from the expected one."""
        return self.index(kind, shape) if kind != "b" or expected else tuple(shape)

    def text(self, kind):
        """'(N, H, W, C)', '(KH, KW, C, F)', '(1, 1, 1, F)', ..."""
        axes = getattr(self, kind)
        return "(" + ", ".join(AXIS_NAMES[kind].get(axis, axis) for axis in axes) + ("," if len(axes) == 1 else "") \
            + ")"


NCHW = Layout()
DLAI = Layout("NHWC", "HWCF", "111F")  # A_prev (m, n_H, n_W, n_C), W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C)
NATURAL_LAYOUTS = {"dlai": DLAI}
LAYOUTS = ("auto", "nchw", "nhwc")
RESTRICTIONS = {  # convention -> what its search is kept to, and why
    "dlai": ({"square": ("kernel",)},
             {"conv": "square kernels only: deeplearning.ai's conv_forward reads W as (f, f, n_C_prev, n_C)",
              "pool": "square windows and pad 0 only: deeplearning.ai's pool_forward takes one window size f and "
                      "no padding"}),
}


def natural_layout(convention):
    """The layout a convention's layers read: channels-last for deeplearning.ai's, NCHW for the others."""
    return NATURAL_LAYOUTS.get(convention, NCHW)


def restriction(convention, layer):
    """(restrictions of the search, the sentence that says why) of ``convention`` for ``layer``, or ({}, "")."""
    if convention not in RESTRICTIONS:
        return {}, ""
    restrict, why = RESTRICTIONS[convention]
    return dict(restrict), why["conv" if layer == "conv" else "pool"]


def _order(source, target):
    """The transpose that takes axes ``source`` (e.g. "NCHW") to ``target`` (e.g. "NHWC")."""
    return [source.index(axis) for axis in target]


PARAMETERS = {"W": "W", "dW": "W", "b": "b", "db": "b"}  # what a read or written name is laid out as


class Relaid(Subject):
    """A layer that reads ``layout``'s axes, as the engine sees it: NCHW arrays in and out.

    x, dout, W and b go into the layer permuted (and b reshaped) into its
    layout, out, dx, W, dW, b and db come back permuted into the engine's;
    W and b are written in place in the layer's layout.
    """

    def __init__(self, make_subject, config, params, layout):
        super().__init__()
        self.layout = layout
        self.filters = params["b"].size if "b" in params else None
        self.inner = make_subject(config, {name: layout.to_layer(name, value) for name, value in params.items()})
        self.notes = self.inner.notes
        self.updates = self.inner.updates

    def forward(self, x):
        return self.layout.from_layer("x", self.inner.forward(self.layout.to_layer("x", x)))

    def backward(self, dout):
        return self.layout.from_layer("x", self.inner.backward(self.layout.to_layer("x", dout)))

    def read(self, name):
        return self.layout.from_layer(PARAMETERS[name], self.inner.read(name), self.filters)

    def write(self, name, value, rebind=False):
        self.inner.write(name, self.layout.to_layer(PARAMETERS[name], np.asarray(value)), rebind=rebind)
