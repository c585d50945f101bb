"""A network checked by layer and as a whole: ``gradcheck net`` names the first layer whose backward is wrong.

The layers are written as "Deep Learning from Scratch" and the DIVE INTO
CODE sprints write them: ``forward(x) -> out`` and ``backward(dout) -> dx``,
each parameter an array attribute (``W``, ``b``, ``gamma``, ...) whose
gradient backward leaves in the attribute of the same name with a ``d``
before it (``dW``, ``db``, ``dgamma``).  A network is a list of such layers,
a dict of them (DLFS's ``OrderedDict``), or an object holding one as
``layers``.

An input of the declared shape (standard normal, from the seed) goes
forward through the layers; each layer is then checked on the activation
it received there, alone: forward twice on it must agree (a dropout in
training mode cannot be checked by finite differences, and is said so),
and dx and every parameter's gradient must be the vector-Jacobian product
of the layer's forward with a random dout (``generic.gradient_check``:
element by element when small, else a projection screen localized by group
testing).  Checking each layer on what it really receives finds the
layer to blame where a check of the network's whole gradient would only
say that something is wrong.  A loss layer kept apart (DLFS's
``lastLayer``) takes the labels too: it is checked as the catalogue's kind
its class's name says (SoftmaxWithLoss: ``softmax_loss``, against the
reference over the kind's shapes), or said not to be checked.

A network that holds its parameters in a dict ``params`` and gives the
gradient of its loss (a DLFS TwoLayerNet's ``gradient(x, t)``, a cs231n
model's ``loss(X, y) -> (loss, grads)``, whose layers are functions with no
object to check in place) has its whole gradient checked too, every
parameter's against central differences of the loss
(``network_gradient``).  ``build`` makes a network from a class or factory
that takes keyword arguments (cs231n's ``input_dim``, ``hidden_dim``,
``reg``, ``dtype``, ...).
"""
import functools
import inspect
import os
from dataclasses import dataclass, field

import numpy as np

from . import kinds
from .compare import CheckResult, compare
from .forms import UserError, as_pair, call
from .generic import TOLERANCE, finite_array, gradient_check
from .network_gradient import REGULARIZATION, check_gradient, form_of

LOSS_KINDS = (("softmax", "softmax_loss"), ("svm", "svm_loss"), ("hinge", "svm_loss"))  # class name holds -> kind
REGULARIZED = 0.1  # the strength gradcheck builds a network with when it takes one and none is given


@dataclass
class LayerResult:
    """One layer's checks, on the activation of ``input_shape`` it received."""

    name: str
    kind: str
    input_shape: tuple
    checks: list = field(default_factory=list)

    @property
    def passed(self):
        return all(check.passed for check in self.checks)

    def to_dict(self):
        return {"name": self.name, "kind": self.kind, "input_shape": list(self.input_shape), "passed": self.passed,
                "checks": [check.to_dict() for check in self.checks]}


@dataclass
class LossLayerResult:
    """The loss layer kept apart (``lastLayer``): ``report`` is its class checked as the catalogue's ``kind``
    (a generic.FunctionReport), None when no kind is known for it."""

    name: str
    kind: str
    report: object = None
    guard: float = 0.0  # what its loss adds inside its log, read off it (``kinds.softmax_loss.options``)

    @property
    def passed(self):
        return self.report is None or self.report.passed

    @property
    def message(self):
        if self.report is None:
            return (f"lastLayer {self.name} is not checked: no loss of the catalogue is named so (SoftmaxWithLoss is "
                    "checked as softmax_loss, a hinge or SVM loss as svm_loss)")
        shapes = ", ".join(f"{symbol} {low}..{high}" for symbol, (low, high) in self.report.signature.bounds.items())
        return (f"lastLayer {self.name} is checked as {self.kind} against its reference on {self.report.examples} "
                f"configurations ({shapes}), not on the scores it receives")

    def to_dict(self):
        return {"name": self.name, "kind": self.kind, "passed": self.passed, "message": self.message,
                "report": self.report.to_dict() if self.report else None}


@dataclass
class NetworkReport:
    spec: str
    input_shape: tuple
    seed: int
    layers: list
    reproduce: str = ""
    loss_layer: LossLayerResult = None
    gradient: object = None  # network_gradient.GradientResult, for a network with params and a loss's gradient
    built: str = ""  # how the network was made: 'TwoLayerNet(input_dim=6, ...)'

    @property
    def passed(self):
        parts = [*self.layers, self.loss_layer, self.gradient]
        return all(part.passed for part in parts if part is not None)

    @property
    def first_wrong(self):
        """The first LayerResult that fails, or None."""
        return next((layer for layer in self.layers if not layer.passed), None)

    @property
    def unchecked(self):
        """The LayerResults whose gradients could not be checked (a forward that is not repeatable)."""
        return [layer for layer in self.layers if any(check.status == "skip" for check in layer.checks)]

    @property
    def checks(self):
        return [check for layer in self.layers for check in layer.checks] + \
            (self.gradient.checks if self.gradient else [])

    def to_dict(self):
        wrong = self.first_wrong
        return {"passed": self.passed, "network": self.spec, "input_shape": list(self.input_shape),
                "seed": self.seed, "built": self.built, "first_wrong": wrong.name if wrong else None,
                "layers": [layer.to_dict() for layer in self.layers],
                "last_layer": self.loss_layer.to_dict() if self.loss_layer else None,
                "gradient": self.gradient.to_dict() if self.gradient else None, "reproduce": self.reproduce}


def is_maker(obj):
    """Whether ``obj`` makes a network (a class or function) rather than being one."""
    return callable(obj) and not hasattr(obj, "layers") and form_of(obj) is None


def build(maker, input_shape, arguments=None, seed=0):
    """(the network ``maker`` makes, how it was called: 'TwoLayerNet(hidden_dim=5, input_dim=6, ...)', or ""
    when it was called with no argument).

    ``maker`` is a class or function called with ``arguments`` ({name: value}) and, where it takes them and they
    are not given, what a gradient check needs: the input's size (``input_dim``, ``input_size``; a tuple when
    the default is one) from ``input_shape``, ``dtype`` float64 and a regularization of REGULARIZED (``reg``,
    ``weight_decay_lambda``) when the default is 0, so that its gradient is checked.  Numpy's global random
    state is seeded with ``seed`` first: the weights it draws repeat.  ValueError for arguments it does not
    take or lacks; UserError for what the maker raises."""
    try:
        parameters = inspect.signature(maker).parameters
    except (TypeError, ValueError):
        parameters = {}
    arguments = dict(arguments or {})
    takes_any = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
    unknown = [name for name in arguments if name not in parameters and not takes_any]
    if unknown:
        raise ValueError(f"{maker.__name__} takes no {', '.join(unknown)}; it takes {', '.join(parameters) or 'none'}")
    chosen = {name: value for name, value in _needed(parameters, input_shape).items() if name not in arguments}
    missing = [name for name, p in parameters.items() if p.default is p.empty and name not in {**arguments, **chosen}
               and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if missing:
        raise ValueError(f"{maker.__name__} needs {', '.join(missing)}: give each with --arg NAME=VALUE")
    called = {**arguments, **chosen}
    np.random.seed(seed)
    network = call(f"{maker.__name__}()", functools.partial(maker, **called))
    if not called:
        return network, ""
    shown = ", ".join(f"{name}={getattr(value, '__name__', None) or repr(value)}" for name, value in called.items())
    return network, f"{maker.__name__}({shown})" + (f"; gradcheck chose {', '.join(chosen)}" if chosen else "")


def _needed(parameters, input_shape):
    """{name: value} of what a gradient check needs, for the parameters the maker takes."""
    needed = {}
    for name, parameter in parameters.items():
        if name in ("input_dim", "input_size"):
            needed[name] = tuple(input_shape[1:]) if isinstance(parameter.default, tuple) \
                else int(np.prod(input_shape[1:]))
        elif name == "dtype":
            needed[name] = np.float64
        elif name in REGULARIZATION and (parameter.default is parameter.empty or parameter.default == 0):
            needed[name] = REGULARIZED
    return needed


def layers_of(network):
    """[(name, layer)] of a list, a dict, or an object with ``layers``; ValueError for anything else."""
    held = getattr(network, "layers", network)
    if isinstance(held, dict):
        named = list(held.items())
    elif isinstance(held, (list, tuple)):
        named = [(f"{index} {type(layer).__name__}", layer) for index, layer in enumerate(held)]
    else:
        raise ValueError(f"a network is a list or dict of layers, or an object with .layers, or params and a loss; "
                         f"got {type(network).__name__}")
    for name, layer in named:
        if not (callable(getattr(layer, "forward", None)) and callable(getattr(layer, "backward", None))):
            raise ValueError(f"layer {name} has no forward(x) and backward(dout); a network holds layers only")
    if not named:
        raise ValueError("the network holds no layer")
    return [(str(name), layer) for name, layer in named]


def check_network(network, input_shape, seed=0, spec=""):
    """``network`` checked (see the module docstring): each of its layers on the activation it receives from an
    input of ``input_shape``, its ``lastLayer`` as its kind, and its whole gradient when it holds ``params``; a
    NetworkReport."""
    form = form_of(network)
    named = layers_of(network) if form is None or hasattr(network, "layers") else []
    if not input_shape or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in input_shape):
        raise ValueError(f"the input shape must be positive ints, e.g. 4,10; got {input_shape!r}")
    report = NetworkReport(spec, tuple(input_shape), seed, check_layers(named, input_shape, seed))
    if named and hasattr(network, "lastLayer"):
        report.loss_layer = check_loss_layer(network.lastLayer, seed)
    if form is not None:
        rng = np.random.default_rng(seed)
        guard = report.loss_layer.guard if report.loss_layer else 0.0
        report.gradient = check_gradient(network, rng.standard_normal(tuple(input_shape)), rng, guard)
    return report


def check_layers(named, input_shape, seed):
    """[LayerResult] of the ``named`` layers, each on the activation it receives from a standard normal input."""
    rng = np.random.default_rng(seed)
    activation = rng.standard_normal(tuple(input_shape))
    results = []
    for name, layer in named:
        result = LayerResult(name, type(layer).__name__, activation.shape)
        results.append(result)
        try:
            out = _output(layer, activation)
        except UserError as error:
            result.checks.append(CheckResult("forward", "fail", str(error), error=error.details))
            break  # the layers after it receive nothing
        try:
            result.checks = check_layer(layer, activation, rng)
        except UserError as error:  # forward failed on a second call: what it did is the verdict
            result.checks = [CheckResult("forward", "fail", str(error), error=error.details)]
        activation = out
    return results


def check_loss_layer(layer, seed):
    """The loss layer's class checked as the catalogue kind its name says (LOSS_KINDS); a LossLayerResult."""
    cls = type(layer)
    name = next((kind for word, kind in LOSS_KINDS if word in cls.__name__.lower()), None)
    if name is None:
        return LossLayerResult(cls.__name__, None)
    kind = kinds.catalogue()[name]
    try:
        words = (kind.name, "--impl", f"{os.path.relpath(inspect.getsourcefile(cls))}:{cls.__name__}")
    except TypeError:  # a class with no source file
        words = ()
    options, _ = kind.options(as_pair(cls, kind.form)) if kind.options else ({}, "")
    return LossLayerResult(cls.__name__, kind.name, kinds.check_kind(kind, cls, seed=seed, words=words),
                           options.get("guard", 0.0))


def check_layer(layer, x, rng):
    """forward, repeatable, dx and d<parameter> of one layer at input ``x``."""
    out = _output(layer, x)
    again = _output(layer, x)
    repeatable = compare("repeatable", again, {"first call": out}, TOLERANCE)
    if not repeatable.passed:  # not wrong, not checkable: said, never passed off as checked
        return [CheckResult("forward", "pass"), CheckResult(
            "repeatable", "skip", "forward gives another output on the same input (random, like a dropout in "
                                  "training mode, or updating its state): its gradients cannot be checked by finite "
                                  "differences")]
    dout = rng.standard_normal(out.shape)
    _output(layer, x)  # the state backward reads is this input's
    try:
        dx = _array("backward", call("backward", layer.backward, dout.copy()))
    except UserError as error:
        return [CheckResult("forward", "pass"), repeatable, CheckResult("dx", "fail", str(error), error=error.details)]
    gradients = {name: getattr(layer, f"d{name}") for name in parameters(layer, x, out)}
    gradients = {name: np.array(value, dtype=np.float64) for name, value in gradients.items()}
    batch = {"N": x.shape[0]}  # the symbol a gradient averaged over the batch is divided by
    checks = [CheckResult("forward", "pass"), repeatable,
              gradient_check("dx", "x", lambda thetas: [_output(layer, theta) for theta in thetas], x, dx, dout, rng,
                             batch)]
    for name, analytic in gradients.items():
        checks.append(gradient_check(f"d{name}", name, _moving(layer, name, x), getattr(layer, name), analytic,
                                     dout, rng, batch))
    checks += [CheckResult(f"d{name}", "skip", f"backward left no d{name} of {name}'s shape, so {name} is not checked")
               for name in _held(layer, x) if name not in gradients]
    return checks


def _held(layer, x):
    """The float arrays the layer holds across a forward call (its weights, not what forward computes, nor the
    gradients of others)."""
    before = {name: value for name, value in vars(layer).items()
              if isinstance(value, np.ndarray) and value.dtype.kind == "f"}
    _output(layer, x)
    return [name for name, value in before.items() if getattr(layer, name, None) is value
            and not (name.startswith("d") and name[1:] in before)]  # dW is W's gradient


def parameters(layer, x, out):
    """The names of the layer's parameters: float array attributes ``p`` beside an attribute ``dp`` of the same
    shape once backward has run, but what the layer keeps of its input ``x`` or output ``out`` (``self.x`` and
    ``self.dx``)."""
    def kept(value):
        return any(value.shape == seen.shape and np.array_equal(value, seen) for seen in (x, out))

    def gradient(name):
        return getattr(layer, f"d{name}", None)
    return [name for name, value in vars(layer).items()
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not kept(value)
            and isinstance(gradient(name), np.ndarray) and gradient(name).shape == value.shape]


def _moving(layer, name, x):
    """evaluate(thetas) for parameter ``name``: the layer's output at ``x`` with the parameter set to each theta
    (in place, as the layer reads it), put back after."""
    def evaluate(thetas):
        kept = getattr(layer, name)
        try:
            outputs = []
            for theta in thetas:
                setattr(layer, name, theta.copy())
                outputs.append(_output(layer, x))
            return outputs
        finally:
            setattr(layer, name, kept)
    return evaluate


def _output(layer, x):
    return _array("forward", call("forward", layer.forward, x.copy()))


def _array(what, value):
    """``value`` copied into a finite float64 array (a layer may write into the array it returned, later);
    UserError saying what came back otherwise."""
    if not isinstance(value, (np.ndarray, list, float, int)):
        raise UserError(f"{what} must return an array, got {type(value).__name__}")
    return finite_array(what, np.array(value, dtype=np.float64))
