"""A whole network's gradient: every parameter's against central differences of the network's loss.

Two forms of network keep their parameters in a dict ``params`` (name ->
array: W1, b1, W2, ...) and give the gradient of a loss with labels as a
dict of the same names:

cs231n (``fc_net.py``: TwoLayerNet, FullyConnectedNet)
    ``loss(X)`` returns the scores (N, C); ``loss(X, y)`` returns
    ``(loss, grads)``.  The layers are functions called inside ``loss``.
"Deep Learning from Scratch" (TwoLayerNet, MultiLayerNet)
    ``predict(x)`` returns the scores, ``loss(x, t)`` the loss and
    ``gradient(x, t)`` the grads, by backpropagation through ``layers`` and
    ``lastLayer``.  Both get ``train_flg=True`` when they take it: the
    book's MultiLayerNetExtend computes its gradient in training mode.

The labels y are integers 0..C-1 for the C columns of the scores.  Each
parameter p's gradient must be the derivative of the loss,

    grads[p][i]  =  (loss(p[i] + h) - loss(p[i] - h)) / 2h,

p moved in place, where the network reads it (a DLFS layer holds the very
array of ``params``), and put back after: element by element up to
``generic.DENSE_LIMIT`` elements, else a projection screen localized by
group testing (``generic.gradient_check``); never a dense Jacobian.  The
loss includes the regularization (cs231n's 0.5 * reg * sum(W**2), DLFS's
weight decay), so a gradient that leaves out its part fails, with a hint.
The loss must give the same value twice (a dropout with no seed does not:
said, not checked).  Two things a right network does would fail, and are
taken out, with a note: a parameter that is all zero as built (a bias) is
checked at small random values, as at zero a layer whose inputs are all 0
(the ReLUs before it all off, or dropped) has its outputs exactly on the
kink of the ReLU after it; and the 1e-7 the book's SoftmaxWithLoss adds
inside its log, which its backward leaves out, is taken out of the loss.

A wrong parameter gradient does not say by itself which backward is wrong.
The gradient that reaches a layer from above (the loss's gradient of the
scores, or the dx the layer above sends back) makes all of that layer's
parameter gradients and, through its own dx, every one below: a wrong dx in
layer k makes every parameter below k wrong while k's own are right.
``verdict`` says what the pattern of right and wrong supports, the layers
read off the parameters' names (W1, b1, gamma1 -> layer 1, counted from the
input).
"""
import functools
import inspect
import re
from dataclasses import dataclass, field

import numpy as np

from .compare import CheckResult
from .forms import UserError, call
from .generic import TOLERANCE, finite_array, gradient_check

NUMBERED = re.compile(r"^(.*\D)(\d+)$")  # W12 -> layer 12
REGULARIZATION = ("reg", "weight_decay_lambda")  # cs231n's and DLFS's strength of 0.5 * reg * sum(W**2)
OFF_ZERO = 1e-3  # the scale of the values an all-zero parameter is checked at


@dataclass
class GradientResult:
    """The network's gradient: ``checks`` are "loss" and "repeatable", then one d<name> per parameter."""

    form: str
    classes: int
    checks: list = field(default_factory=list)
    shapes: dict = field(default_factory=dict)  # parameter name -> its shape
    notes: list = field(default_factory=list)

    @property
    def passed(self):
        return all(check.passed for check in self.checks)

    @property
    def unrepeatable(self):
        """Whether the loss gave another value on the same input, so that no gradient could be checked."""
        return any(check.status == "skip" for check in self.checks)

    @property
    def parameters(self):
        """{parameter name: its gradient's CheckResult}."""
        return {check.name[1:]: check for check in self.checks[2:]}

    @property
    def verdict(self):
        return verdict({name: check.passed for name, check in self.parameters.items()})

    def to_dict(self):
        return {"form": self.form, "classes": self.classes, "passed": self.passed, "verdict": self.verdict,
                "shapes": {name: list(shape) for name, shape in self.shapes.items()},
                "checks": [check.to_dict() for check in self.checks], "notes": list(self.notes)}


def form_of(network):
    """"DLFS", "cs231n", or None for a network that holds no ``params`` dict beside its loss."""
    if not isinstance(getattr(network, "params", None), dict) or not callable(getattr(network, "loss", None)):
        return None
    return "DLFS" if callable(getattr(network, "gradient", None)) else "cs231n"


def check_gradient(network, x, rng, guard=0.0):
    """Each parameter's gradient of ``network`` (see ``form_of``) at input ``x`` and labels drawn from ``rng``
    against central differences of its loss; a GradientResult.  The parameters that are all zero as built (biases)
    are checked at OFF_ZERO times standard normal values, put back after: at zero, a layer whose inputs are all 0
    (every ReLU before it off, or dropped) has its outputs exactly on the kink of the ReLU after it.  ``guard``:
    what a DLFS network's softmax loss adds inside its log (1e-7 in the book), which its backward leaves out: the
    loss is differenced without it.  ValueError for parameters that are not float64 arrays."""
    params = network.params
    require_float64(params)
    zeros = [name for name, param in params.items() if not param.any()]
    kept = {name: params[name].copy() for name in zeros}
    for name in zeros:
        params[name][...] = OFF_ZERO * rng.standard_normal(params[name].shape)
    try:
        result = _checked(Model(network, form_of(network), guard), x, rng)
    finally:
        for name, value in kept.items():
            params[name][...] = value
    if guard:
        result.notes.insert(0, f"the loss adds {guard:.3g} inside its log (read off lastLayer); its gradient is "
                               "checked against the loss without it, as backward computes it")
    if zeros:
        result.notes.insert(0, f"{', '.join(zeros)} {_is(zeros)} all zero as built: checked at {OFF_ZERO:g} * "
                               "standard normal values, off the kinks a zero bias puts ReLUs on")
    return result


def _checked(model, x, rng):
    """check_gradient's checks, at the parameters as they are now."""
    try:
        scores = _array("the scores", call("predict" if model.form == "DLFS" else "loss(X)", model.scores, x.copy()))
        if scores.ndim != 2 or len(scores) != len(x):
            raise UserError(f"the scores must be (N, C) = ({len(x)}, C); they have shape {scores.shape}")
        y = rng.integers(0, scores.shape[1], len(x))
        loss, grads = model.loss(x, y), model.gradients(x, y)
        again = model.loss(x, y)
    except UserError as error:
        return GradientResult(model.form, 0, [CheckResult("loss", "fail", str(error), error=error.details)])
    params = model.network.params
    result = GradientResult(model.form, scores.shape[1], [CheckResult("loss", "pass"),
                                                          CheckResult("repeatable", "pass")],
                            {name: param.shape for name, param in params.items()})
    magnitude = float(np.abs(scores).max(initial=0.0))
    if abs(again - loss) > TOLERANCE.slack(noise=abs(loss) + magnitude):  # rounding alone: none, or an ulp
        result.checks[1] = CheckResult("repeatable", "skip", f"the loss gives another value on the same input "
                                       f"({again:.17g}, first {loss:.17g}: random, like a dropout in training mode "
                                       "with no seed): its gradient cannot be checked by finite differences")
        return result
    for name, param in params.items():
        result.checks.append(_parameter_check(model, name, param, grads, x, y, rng, magnitude))
    strength = model.regularization
    if strength is not None and strength[1] == 0:
        result.notes.append(f"{strength[0]} is 0: the regularization's gradient is not checked")
    return result


def require_float64(params):
    """ValueError unless every parameter is a float64 array (finite differences of float32 say nothing)."""
    for name, value in params.items():
        if not (isinstance(value, np.ndarray) and value.dtype == np.float64):
            raise ValueError(f"params[{name!r}] is {getattr(value, 'dtype', type(value).__name__)}: finite differences "
                             "need float64 parameters; build the network with dtype=np.float64")


class Model:
    """A network's scores, loss and gradients, called in its ``form``."""

    def __init__(self, network, form, guard=0.0):
        self.network, self.form, self.guard = network, form, guard

    def scores(self, x):
        return self.network.predict(x) if self.form == "DLFS" else self.network.loss(x)

    def _guarded(self, x, y):
        """What the guard adds to the loss: mean(log(p_y) - log(p_y + guard)), p the softmax of the scores (in
        the loss's mode)."""
        scores = _array("the scores", call("predict", _training(self.network.predict), x.copy()))
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_p = (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))[np.arange(len(y)), y]
        return float(np.mean(log_p - np.log(np.exp(log_p) + self.guard)))

    def loss(self, x, y):
        """The loss, a finite float; UserError otherwise."""
        if self.form == "DLFS":
            value = call("loss", _training(self.network.loss), x.copy(), y)
        else:
            value = self._loss_and_grads(x, y)[0]
        value = _array("the loss", value)
        if value.size != 1:
            raise UserError(f"the loss must be a number; it has shape {value.shape}")
        return float(value.reshape(())) - (self._guarded(x, y) if self.guard else 0.0)

    def gradients(self, x, y):
        """{name: gradient} as the network gives it; UserError when there is no dict."""
        grads = call("gradient", _training(self.network.gradient), x.copy(), y) \
            if self.form == "DLFS" else self._loss_and_grads(x, y)[1]
        if not isinstance(grads, dict):
            raise UserError(f"the gradients must be a dict of the params' names; got {type(grads).__name__}")
        return grads

    def _loss_and_grads(self, x, y):
        returned = call("loss(X, y)", self.network.loss, x.copy(), y)
        if not (isinstance(returned, tuple) and len(returned) == 2):
            raise UserError(f"loss(X, y) must return (loss, grads), as cs231n's models do; it returned "
                            f"{type(returned).__name__}")
        return returned

    @property
    def regularization(self):
        """(name, value) of the network's regularization strength, or None."""
        for name in REGULARIZATION:
            value = getattr(self.network, name, None)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return name, float(value)
        return None


def _training(method):
    """A DLFS network's ``method`` in training mode: with train_flg=True when it takes it."""
    try:
        takes_mode = "train_flg" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        takes_mode = False
    return functools.partial(method, train_flg=True) if takes_mode else method


def _parameter_check(model, name, param, grads, x, y, rng, magnitude):
    """d<name>: grads[name] against central differences of the loss in params[name]."""
    check = f"d{name}"
    if name not in grads:
        return CheckResult(check, "fail", f"the gradients have no {name}")
    try:
        analytic = _array(f"the gradient of {name}", grads[name])
    except UserError as error:
        return CheckResult(check, "fail", str(error))
    evaluate = _moving(model, param, x, y)
    result = gradient_check(check, name, evaluate, param.copy(), analytic, np.array(1.0), rng, {"N": len(x)},
                            out_magnitude=magnitude)
    strength = model.regularization
    if not result.passed and result.shapes is None and strength is not None and strength[1] != 0:
        completed = analytic + strength[1] * param
        if gradient_check(check, name, evaluate, param.copy(), completed, np.array(1.0), rng, {"N": len(x)},
                          out_magnitude=magnitude).passed:
            result.hints.insert(0, f"{check} is {strength[0]} * {name} less than the finite differences: it leaves "
                                   f"out the gradient of the loss's 0.5 * {strength[0]} * sum({name}**2)")
    return result


def _moving(model, param, x, y):
    """evaluate(thetas): the loss with ``param`` set to each theta in place, put back after."""
    def evaluate(thetas):
        kept = param.copy()
        try:
            losses = []
            for theta in thetas:
                param[...] = theta
                losses.append(np.array(model.loss(x, y)))
            return losses
        finally:
            param[...] = kept
    return evaluate


def _array(what, value):
    """``value`` as a finite float64 array; UserError saying what it is otherwise."""
    try:
        if isinstance(value, (np.ndarray, np.generic, list, float, int)):
            return finite_array(what, np.array(value, dtype=np.float64))
    except (TypeError, ValueError):  # a list of lists of different lengths
        pass
    raise UserError(f"{what} must be an array or a number, got {type(value).__name__}")


def verdict(passed):
    """What the right and wrong gradients ({parameter name: passed}, in the network's order) say about where the
    error is; "" when none is wrong.  See the module docstring."""
    wrong = [name for name, ok in passed.items() if not ok]
    if not wrong:
        return ""
    right = [name for name, ok in passed.items() if ok]
    said = _gradients(wrong) + " wrong" + (f"; {_gradients(right)} right" if right else "")
    layers = _layers(passed)
    if layers is None:
        return said + ": the parameters are not numbered by layer (W1, b1, ...), so no layer is named"
    top = max(number for number, group in layers.items() if not all(group.values()))
    own = [name for name, ok in layers[top].items() if not ok]
    kept = [name for name, ok in layers[top].items() if ok]
    below = {name: ok for number, group in layers.items() if number < top for name, ok in group.items()}
    sender = f"layer {top + 1} sends back (its dx, or the backward of an activation between them)" \
        if top < max(layers) else "the loss sends back (its gradient of the scores)"
    if kept:
        why = (f"{_gradients(kept)} {_is(kept)} right, and all of layer {top}'s gradients are made from the gradient "
               f"that reaches it, so that one most likely is right: the error is in layer {top}'s own "
               f"{_gradients(own)}")
    elif not below:
        return f"{said}: the error is in layer {top}'s own {_gradients(own)}, or in the gradient that {sender}"
    elif not any(below.values()):
        return (f"{said}: the error is most likely in the gradient that {sender}: a wrong one makes every gradient "
                f"of layer {top} and below wrong, as here (or layer {top}'s own and the dx it sends down are both "
                "wrong)")
    else:
        fine = [name for name, ok in below.items() if ok]
        why = (f"{_gradients(fine)} below layer {top} {_is(fine)} right, and the gradient that reaches layer {top} "
               f"flows on down to {'them' if len(fine) > 1 else 'it'}, so it most likely is right: the error is in "
               f"layer {top}'s own {_gradients(own)}")
    also = [name for name, ok in below.items() if not ok]
    if also:
        why += f"; {_gradients(also)} wrong too: a second error, below layer {top} or in the dx it sends down"
    return f"{said}: {why}"


def _layers(passed):
    """{layer number: {name: passed}} from the names' numbers, lowest first; None when a name has none."""
    layers = {}
    for name, ok in passed.items():
        match = NUMBERED.match(name)
        if not match:
            return None
        layers.setdefault(int(match.group(2)), {})[name] = ok
    return dict(sorted(layers.items()))


def _gradients(names):
    return ", ".join(f"d{name}" for name in names)


def _is(names):
    return "is" if len(names) == 1 else "are"
