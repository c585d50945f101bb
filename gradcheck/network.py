"""A network of layer objects, each checked in place: ``gradcheck net`` names the first layer whose backward is wrong.

The layers are written as "Deep Learning from Scratch" and the DIVE INTO
CODE sprints write them: ``forward(x) -> out`` and ``backward(dout) -> dx``,
each parameter an array attribute (``W``, ``b``, ``gamma``, ...) whose
gradient backward leaves in the attribute of the same name with a ``d``
before it (``dW``, ``db``, ``dgamma``).  A network is a list of such layers,
a dict of them (DLFS's ``OrderedDict``), or an object holding one as
``layers``; a loss layer kept apart (DLFS's ``lastLayer``) is left out.

An input of the declared shape (standard normal, from the seed) goes
forward through the layers; each layer is then checked on the activation
it received there, alone: forward twice on it must agree (a dropout in
training mode cannot be checked by finite differences, and is said so),
and dx and every parameter's gradient must be the vector-Jacobian product
of the layer's forward with a random dout (``generic.gradient_check``:
element by element when small, else a projection screen localized by group
testing).  Checking each layer on what it really receives finds the
layer to blame where a check of the network's whole gradient would only
say that something is wrong.
"""
from dataclasses import dataclass, field

import numpy as np

from .compare import CheckResult, compare
from .generic import TOLERANCE, UserError, call, finite_array, gradient_check


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
class NetworkReport:
    spec: str
    input_shape: tuple
    seed: int
    layers: list
    reproduce: str = ""

    @property
    def passed(self):
        return all(layer.passed for layer in self.layers)

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
        return [check for layer in self.layers for check in layer.checks]

    def to_dict(self):
        wrong = self.first_wrong
        return {"passed": self.passed, "network": self.spec, "input_shape": list(self.input_shape),
                "seed": self.seed, "first_wrong": wrong.name if wrong else None,
                "layers": [layer.to_dict() for layer in self.layers], "reproduce": self.reproduce}


def layers_of(network):
    """[(name, layer)] of a list, a dict, or an object with ``layers``; ValueError for anything else."""
    held = getattr(network, "layers", network)
    if isinstance(held, dict):
        named = list(held.items())
    elif isinstance(held, (list, tuple)):
        named = [(f"{index} {type(layer).__name__}", layer) for index, layer in enumerate(held)]
    else:
        raise ValueError(f"a network is a list or dict of layers, or an object with .layers; got "
                         f"{type(network).__name__}")
    for name, layer in named:
        if not (callable(getattr(layer, "forward", None)) and callable(getattr(layer, "backward", None))):
            raise ValueError(f"layer {name} has no forward(x) and backward(dout); a network holds layers only")
    if not named:
        raise ValueError("the network holds no layer")
    return [(str(name), layer) for name, layer in named]


def check_network(network, input_shape, seed=0, spec=""):
    """Each layer of ``network`` checked on the activation it receives from an input of ``input_shape``
    (see the module docstring); a NetworkReport."""
    named = layers_of(network)
    if not input_shape or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in input_shape):
        raise ValueError(f"the input shape must be positive ints, e.g. 4,10; got {input_shape!r}")
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
    return NetworkReport(spec, tuple(input_shape), seed, results)


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
