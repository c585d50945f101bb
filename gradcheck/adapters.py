"""The narrow interface between the engine and an implementation under test, and the conventions it speaks.

The engine never touches user code directly.  It asks an ``Implementation``
for a fresh ``Subject`` (one live layer) and then only

    subject.forward(x) -> out           subject.backward(dout) -> dx
    subject.read(name) -> array         subject.write(name, array)   (in place)
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
``.pinned`` and ``.name`` are sent back to the engine, and errors are
``LoadError`` and ``ImplementationError`` (``to_dict``).

Three conventions are understood, detected from what ``--impl FILE:NAME`` names:

reference  (Deep Learning from Scratch) a class NAME(W, b, stride=1, pad=0) or
           NAME(pool_h, pool_w, stride=1, pad=0) with forward(x),
           backward(dout) -> dx and gradients in dW/db (or dw, dB, d_w,
           grad_W, grads["W"], ...); or a factory function NAME(W, b, stride,
           pad) returning such an object.
function   (cs231n) NAME is conv_forward_naive(x, w, b, conv_param) ->
           (out, cache), its partner conv_backward_naive(dout, cache) ->
           (dx, dw, db) is found by name; pools max_pool_forward_naive(x,
           pool_param) and max_pool_backward_naive(dout, cache) -> dx.
dive       (DIVE INTO CODE) weights W and B, gradients dW and dB, and a
           backward that calls self.optimizer.update(self): the optimizer (and
           any activation) is replaced by a no-op, so gradients are taken at
           the weights before any update.
"""
import importlib.util
import inspect
import os
import sys
import sysconfig
import traceback
from dataclasses import dataclass, fields

import numpy as np

CONVENTIONS = ("auto", "reference", "function", "dive")
GRAD_ALIASES = {
    "dW": ("dW", "dw", "d_W", "d_w", "grad_W", "grad_w", "gW", "dweight", "dweights", "grad_weight"),
    "db": ("db", "dB", "d_b", "d_B", "grad_b", "grad_B", "gb", "dbias", "grad_bias"),
}
GRAD_DICTS = ("grads", "gradients", "grad")  # dict attributes holding {"W": ..., "b": ...}


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
    """User code raised (or returned something unusable) during ``stage``."""

    def __init__(self, stage, kind, message, location=""):
        super().__init__(f"{stage} raised {kind}: {message}" + (f" ({location})" if location else ""))
        self.stage = stage
        self.kind = kind
        self.detail = message
        self.location = location

    @classmethod
    def from_exception(cls, stage, exc):
        return cls(stage, type(exc).__name__, str(exc), _user_location(exc))

    def to_dict(self):
        return {"stage": self.stage, "type": self.kind, "message": self.detail, "location": self.location}


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
        raise ImplementationError(what, type(exc).__name__, f"could not be read as an array: {exc}") from None
    if array.dtype.kind not in "fiub":
        raise ImplementationError(what, "TypeError", f"gave {type(value).__name__} of dtype {array.dtype}, "
                                                     "expected a float array")
    return array if array.dtype.kind == "f" else array.astype(np.float64)


def call(stage, function, *args):
    """Call user code; any exception, sys.exit() included, becomes an ImplementationError for ``stage``.

    KeyboardInterrupt still stops the run: in process it is the user's Ctrl-C.
    """
    try:
        return function(*args)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code may raise anything
        raise ImplementationError.from_exception(stage, exc) from exc


IN_PLACE, REBINDING = ("in place",), ("rebinding",)


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
        array = as_float_array(value, what)
        if not isinstance(value, np.ndarray):
            self.notes.add(f"{what} returned {type(value).__name__}; converted to an array for comparison")
        elif value.dtype != array.dtype:
            self.notes.add(f"{what} returned dtype {value.dtype}; converted to float64 for comparison")
        return array


class ObjectStyle(Subject):
    """A layer object: forward(x), backward(dout) -> dx, gradients as attributes.

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
        if dive:
            self.updates = IN_PLACE + REBINDING
            self._neutralize()

    def forward(self, x):
        return self._returned(call("forward", self.layer.forward, x), "forward")

    def backward(self, dout):
        before = {name: self.read(name) for name in self.params} if self.dive_mode else {}
        dx = self._returned(call("backward", self.layer.backward, dout), "backward")
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
    """cs231n functions: forward(x, w, b, conv_param) -> (out, cache), backward(dout, cache) -> grads.

    The subject owns W and b (so in-place updates always reach forward) and
    the conv_param / pool_param dict; square strides and pads only.
    """

    def __init__(self, forward, backward, config, params):
        super().__init__()
        self.functions = (forward, backward)
        self.params = {name: value.copy() for name, value in params.items()}
        self.is_conv = config.is_conv
        if config.is_conv:
            self.setting = {"stride": config.stride[0], "pad": config.pad[0]}
        else:
            self.setting = {"pool_height": config.kernel[0], "pool_width": config.kernel[1],
                            "stride": config.stride[0]}
        self.grads = {}
        self.cache = None

    def forward(self, x):
        args = (x, self.params["W"], self.params["b"], self.setting) if self.is_conv else (x, self.setting)
        out, self.cache = self._pair(call("forward", self.functions[0], *args), "forward", 2, "(out, cache)")
        return self._returned(out, "forward")

    def backward(self, dout):
        result = call("backward", self.functions[1], dout, self.cache)
        if not self.is_conv:
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
            raise ImplementationError(stage, "TypeError", f"{self.functions[stage == 'backward'].__name__} "
                                                          f"must return {shape}, got {type(value).__name__}")
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
    """Wrap ``obj`` (a class, a factory or a cs231n forward function) for ``layer``, detecting the convention.

    Raises LoadError saying what was looked for when nothing fits.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    name = name or getattr(obj, "__name__", repr(obj))
    if not callable(obj):
        raise LoadError(f"{name} is a {type(obj).__name__}, not a class or a function")
    is_class = inspect.isclass(obj)
    if convention == "function" or (convention == "auto" and not is_class and "forward" in name):
        return _function_pair(obj, layer, name)

    def build(config, params):
        args = (params["W"], params["b"]) if config.is_conv else config.kernel
        geometry = {"stride": _compact(config.stride), "pad": _compact(config.pad)}
        if config.is_conv and config.dilation != (1, 1):
            geometry["dilation"] = _compact(config.dilation)
        return obj(*args, **geometry) if is_class else obj(*args, *geometry.values())

    _probe(build, name, layer, is_class)

    def make_subject(config, params):
        layer_object = call("construction", build, config, params)
        dive = convention == "dive" or (convention == "auto" and hasattr(layer_object, "optimizer"))
        return ObjectStyle(layer_object, params, dive=dive)

    pinned = {} if layer != "conv" or _accepts(obj, "dilation") else {"dilation": 1}
    return Implementation(name, make_subject, "dive" if convention == "dive" else "reference", pinned)


def reference_style(cls, layer, references=None):
    """An Implementation for a trusted class in the reference convention (the reference layers themselves).

    Unlike user code, it may take stride and pad as (h, w) pairs.  ``references``
    are the reference classes it is checked against (default: the fastest).
    """
    implementation = implementation_of(cls, layer, "reference")
    implementation.per_axis = True
    implementation.references = references
    return implementation


def _function_pair(forward, layer, name):
    module = sys.modules.get(getattr(forward, "__module__", None))
    backward_name = name.replace("forward", "backward")
    backward = getattr(module, backward_name, None)
    if not callable(backward):
        raise LoadError(f"{name} looks like a cs231n forward function, but its module has no {backward_name}; "
                        "define it (returning dx, or (dx, dw, db) for conv) or name a class instead")
    pinned = {"dilation": 1} if layer == "conv" else {"pad": 0}

    def make_subject(config, params):
        return FunctionPair(forward, backward, config, params)

    return Implementation(name, make_subject, "function", pinned)


def _probe(build, name, layer, is_class):
    """Build one small layer the reference way; if that fails, say what was tried and show a factory to add."""
    probe = Hyperparameters(layer, (2, 2)) if layer == "conv" else Hyperparameters(layer, (2, 2), stride=(2, 2))
    params = {"W": np.ones((1, 1, 2, 2)), "b": np.zeros(1)} if layer == "conv" else {}
    try:
        build(probe, params)
    except Exception as exc:  # noqa: BLE001 - user code may raise anything
        positional = "W, b, stride, pad" if layer == "conv" else "pool_h, pool_w, stride, pad"
        tried = "W, b, stride=1, pad=0" if layer == "conv" else "2, 2, stride=2, pad=0"
        weights = "layer.W, layer.b = W, b   # or layer.W, layer.B = W, b\n        " if layer == "conv" else ""
        raise LoadError(
            f"{name}({tried}) raised {type(exc).__name__}: {exc}. gradcheck looks for a class or factory "
            f"taking ({positional}), or a cs231n forward function (a name with 'forward' and a matching "
            f"'backward' function). If {name} is built differently, add a factory to your file and pass "
            f"--impl FILE:make_layer:\n\n"
            f"    def make_layer({positional}):\n"
            f"        layer = {name if is_class else 'YourLayer'}(...)   # build it your way\n"
            f"        {weights}return layer\n"
        ) from None


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


def _accepts(obj, parameter):
    try:
        parameters = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return False
    return parameter in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


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
