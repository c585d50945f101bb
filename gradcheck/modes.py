"""A kind's layer kept across calls in its train and test modes: what the probes of batch norm and dropout call.

``modes_layer(impl, form, *parameters)`` builds the user's layer once, a
class with its parameters (and the form's ``made_with``) or a cs231n
forward function given the same copy of the form's ``extra`` dict on every
call (bn_param: cs231n keeps the running averages there), and returns it
as a ``ModesLayer``: ``forward(x, mode)`` ("train" or "test"), ``kept(names)``
(the arrays the layer keeps under those names, attributes of a class or
entries of the dict, None where it keeps no numbers), ``test_mode_missing()``
(why test mode cannot be asked for, or None), ``keeper`` (what keeps them,
as the user's code names it) and ``from_class``.  Like ``forms``, this
module imports numpy and ``forms`` only, so that ``gradcheck grade``'s
sandboxed child can hold it: there the probes' calls run, and their
verdicts are reached in the grading process.
"""
import copy
import inspect

import numpy as np

from .forms import Making, call


def modes_layer(impl, form, *parameters):
    """The ModesLayer of ``impl`` (a class, or a cs231n forward function) of ``form``, built with
    ``parameters`` (gamma and beta for batch norm; none for dropout)."""
    return (_ClassModes if inspect.isclass(impl) else _FunctionModes)(impl, form, parameters)


class _FunctionModes:
    """A cs231n forward function, given the same param dict (the form's ``extra``) on every call."""

    from_class = False

    def __init__(self, function, form, parameters):
        self.function, self.form, self.parameters = function, form, parameters
        self.param = copy.deepcopy(form.extra[0])

    @property
    def keeper(self):
        """What the function calls the dict it keeps its state in: its last parameter (bn_param)."""
        try:
            return list(inspect.signature(self.function).parameters)[-1]
        except (TypeError, ValueError, IndexError):
            return "its param dict"

    def forward(self, x, mode):
        self.param["mode"] = mode
        _seed(self.form)
        returned = call("forward", self.function, x.copy(), *(p.copy() for p in self.parameters), self.param)
        return returned[0] if isinstance(returned, tuple) else returned

    def kept(self, names):
        return {name: _numbers(self.param.get(name)) for name in names}

    def test_mode_missing(self):
        return None


# What a class's forward calls the argument that picks its mode, and its value in each mode: the DLFS book's
# train_flg, CMU 11-785's eval, a mode string
MODE_ARGUMENTS = {**dict.fromkeys(("train_flg", "train", "training", "is_training"), {"train": True, "test": False}),
                  **dict.fromkeys(("eval", "test", "inference", "is_test"), {"train": False, "test": True}),
                  "mode": {"train": "train", "test": "test"}}


class _ClassModes:
    """A class built with the parameters, as the DLFS book's layers are; its mode is given by the name its
    forward takes it by (MODE_ARGUMENTS): ``forward(x, train_flg=False)``, ``forward(x, eval=True)``."""

    from_class = True

    def __init__(self, cls, form, parameters):
        self.form = form
        self.keeper = cls.__name__
        self.layer, _ = Making.of(cls, form).build([p.copy() for p in parameters])
        self.argument = next((name for name in _parameters(self.layer.forward)[1:2] if name in MODE_ARGUMENTS), None)

    def forward(self, x, mode):
        _seed(self.form)
        given = {self.argument: MODE_ARGUMENTS[self.argument][mode]} if self.argument else {}
        return call("forward", self.layer.forward, x.copy(), **given)

    def kept(self, names):
        return {name: _numbers(getattr(self.layer, name, None)) for name in names}

    def test_mode_missing(self):
        if self.argument is None:
            return "forward takes no train_flg, eval or mode argument: test mode was not checked"
        return None


def _parameters(method):
    """The names of ``method``'s parameters (none when it has no signature)."""
    try:
        return list(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        return []


def _numbers(value):
    """``value`` as a float64 array, or None when it holds no numbers."""
    try:
        return None if value is None else np.array(value, dtype=np.float64)  # a copy: a layer may update it in place
    except (TypeError, ValueError):
        return None


def _seed(form):
    """numpy's global random state seeded afresh before each call of a ``seeded`` form: the same mask each time."""
    if form.seeded:
        np.random.seed(0)
