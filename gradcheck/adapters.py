"""The narrow interface between the engine and an implementation under test.

The engine never touches user code directly.  It asks an ``Implementation``
for a fresh ``Subject`` (one live layer) and then only

    subject.forward(x) -> out           subject.backward(dout) -> dx
    subject.read(name) -> array         subject.write(name, array)   (in place)
    subject.evaluate(plans) -> outs     many forwards in one call

with plain float arrays going in and out, names among W, b, dW, db.  That is
all a child process has to offer for the engine to check code it does not
trust.  Every exception from user code reaches the engine as an
``ImplementationError`` saying where it was raised.
"""
import importlib.util
import inspect
import os
import sys
import sysconfig
import traceback

import numpy as np

PARAM_NAMES = ("W", "b")
GRAD_NAMES = ("dW", "db")


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


def as_float_array(value, what):
    """Convert what user code returned into a float ndarray, or raise ImplementationError.

    Lists and integer arrays are converted (the caller notes it); float32 is
    kept so the engine can pick float32 tolerances.
    """
    try:
        array = np.array(value)  # a copy: later changes by the layer cannot reach it
    except Exception as exc:  # noqa: BLE001 - anything user objects raise
        raise ImplementationError(what, type(exc).__name__, f"could not be read as an array: {exc}") from None
    if array.dtype.kind not in "fiub" or array.dtype == object:
        raise ImplementationError(what, "TypeError", f"returned {type(value).__name__} of dtype {array.dtype}, "
                                                     "expected a float array")
    return array if array.dtype.kind == "f" else array.astype(np.float64)


class Subject:
    """Base for live layers: ``evaluate`` in terms of ``write`` and ``forward``."""

    def evaluate(self, plans):
        """Run ``(writes, x)`` plans in order: write each array in place, then forward(x)."""
        outputs = []
        for writes, x in plans:
            for name, value in writes.items():
                self.write(name, value)
            outputs.append(self.forward(x))
        return outputs


class ReferenceStyle(Subject):
    """A layer object in the reference convention: forward(x), backward(dout), W/b and dW/db attributes."""

    def __init__(self, layer):
        self.layer = layer
        self.notes = set()

    def forward(self, x):
        return self._returned(self._call("forward", self.layer.forward, x), "forward")

    def backward(self, dout):
        return self._returned(self._call("backward", self.layer.backward, dout), "backward")

    def read(self, name):
        if not hasattr(self.layer, name):
            raise ImplementationError("read", "AttributeError", f"the layer has no attribute {name!r}")
        return self._returned(getattr(self.layer, name), name)

    def write(self, name, value):
        target = getattr(self.layer, name, None)
        if not isinstance(target, np.ndarray) or target.shape != value.shape:
            raise ImplementationError("write", "TypeError", f"layer.{name} is not an array of shape {value.shape} "
                                                            "that can be updated in place")
        target[...] = value

    def _call(self, stage, method, array):
        try:
            return method(array)
        except Exception as exc:  # noqa: BLE001 - user code may raise anything
            raise ImplementationError.from_exception(stage, exc) from exc

    def _returned(self, value, what):
        array = as_float_array(value, what)
        if not isinstance(value, np.ndarray):
            self.notes.add(f"{what} returned {type(value).__name__}; converted to an array for comparison")
        elif value.dtype != array.dtype:
            self.notes.add(f"{what} returned dtype {value.dtype}; converted to float64 for comparison")
        return array


class Implementation:
    """Makes fresh subjects of one implementation for a configuration.

    ``factory(config, params)`` returns the layer object; ``wrap`` turns it
    into a Subject.  ``accepts_dilation`` says whether dilation may be fuzzed.
    """

    def __init__(self, name, factory, wrap=ReferenceStyle, accepts_dilation=False):
        self.name = name
        self.factory = factory
        self.wrap = wrap
        self.accepts_dilation = accepts_dilation

    def make(self, config, params):
        try:
            layer = self.factory(config, params)
        except Exception as exc:  # noqa: BLE001
            raise ImplementationError.from_exception("construction", exc) from exc
        return self.wrap(layer)


def reference_style(cls, name=None):
    """An Implementation for a class with the reference constructor.

    Conv: ``cls(W, b, stride=..., pad=...)``; pools: ``cls(pool_h, pool_w, stride=..., pad=...)``.
    Square strides and pads are passed as ints, the way most students write them;
    ``dilation`` is passed only when it is not 1 and only if the constructor takes it.
    """
    accepts_dilation = _accepts(cls, "dilation")

    def factory(config, params):
        geometry = {"stride": _compact(config.stride), "pad": _compact(config.pad)}
        if config.is_conv:
            if config.dilation != (1, 1):
                geometry["dilation"] = _compact(config.dilation)
            return cls(params["W"], params["b"], **geometry)
        return cls(*config.kernel, **geometry)

    return Implementation(name or cls.__name__, factory, accepts_dilation=accepts_dilation)


def _compact(pair):
    return pair[0] if pair[0] == pair[1] else pair


def _accepts(cls, parameter):
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return False
    return parameter in signature.parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())


_NOT_USER_CODE = tuple({os.path.dirname(os.path.abspath(__file__)) + os.sep,
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


class LoadError(Exception):
    """User code could not be loaded; the message says what was wrong and how to fix it."""


def load_object(spec):
    """Return NAME from ``"path/to/file.py:NAME"``, importing the file as a module.

    The file's folder is put first on sys.path while it imports, so a
    submission can import its own helper modules.
    """
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise LoadError(f"--impl must be FILE:NAME, e.g. my_layers.py:Conv2d; got {spec!r}")
    module = load_module(path)
    if not hasattr(module, name):
        defined = sorted(n for n, v in vars(module).items()
                         if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__)
        raise LoadError(f"{path} defines no {name!r}; it defines: {', '.join(defined) or 'nothing public'}")
    return getattr(module, name)


def load_module(path):
    """Import the Python file at ``path`` under a private module name, or raise LoadError."""
    if not os.path.isfile(path):
        raise LoadError(f"no such file: {path}")
    folder = os.path.dirname(os.path.abspath(path))
    module_name = "gradcheck_user_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a submission may raise anything at import
        location = _user_location(exc)
        raise LoadError(f"{path} could not be imported: {type(exc).__name__}: {exc}"
                        + (f" at {location}" if location else "")) from None
    finally:
        sys.path.remove(folder)
    return module
