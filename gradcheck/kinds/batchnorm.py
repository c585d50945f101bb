"""batchnorm: batch normalization, out = gamma (x - mean) / sqrt(var + eps) + beta, in training mode; its running
averages and test mode, probed.

Courses differ in eps (cs231n 1e-5, "Deep Learning from Scratch" 1e-6), and
eps moves every output by about eps / (2 var), more than the reference's
tolerance where a column varies little.  So the reference takes the eps the
layer's own forward uses, read off a probe (``eps_options``, which the
other normalization kinds use too), and the report says which; a forward
that is no batch normalization is checked with cs231n's.  A cs231n
function gets ``bn_param = {"mode": "train", "eps": 1e-5}``.

Train mode also keeps a running average of each feature's mean and
variance, and test mode normalizes with those instead of the batch's.  The
search holds no state between calls, so ``modes_probe`` (spatial batch norm
uses it too) checks them once, on one layer kept across three forwards: in
train mode on batches x1 and x2, then in test mode on x3.

- ``running-averages``: from where the layer starts them (zeros, as
  cs231n and DLFS do when they keep none before the first forward; a class
  that makes them when built, as PyTorch's running_var of ones, from
  those), each train-mode forward makes running = momentum * running +
  (1 - momentum) * the batch's statistic, momentum 0.9: from zeros,
  running_mean = 0.09 mean(x1) + 0.1 mean(x2), and running_var the same
  of the variances, biased (divided by the m values
  a feature has in a batch), as cs231n and DLFS compute them.  The
  unbiased variance (divided by m - 1) is accepted too, with a note: it
  is the batch norm paper's estimate for inference and PyTorch's, and
  differs by a factor m / (m - 1) that real batches make negligible.
  Hints name momentum on the batch's term (0.1 old + 0.9 batch) and
  averages left where they started.
- ``test-mode``: out = gamma (x3 - running_mean) / sqrt(running_var + eps)
  + beta, with the running averages the layer kept (a wrong average fails
  the first probe alone) and the eps its train mode uses; the running
  averages stay as they were.  Hints name a test mode that normalizes with
  the batch's mean and variance, and one that updates the averages.

cs231n keeps them in bn_param (``running_mean``, ``running_var``; momentum
``bn_param.get("momentum", 0.9)``), the same dict on every call, and
``bn_param["mode"] = "test"`` switches; DLFS's ``BatchNormalization(gamma,
beta, momentum=0.9)`` keeps them as attributes of those names and takes
``forward(x, train_flg=False)`` (CMU 11-785's ``BatchNorm(fan_in)``,
``forward(x, eval=True)``; see ``modes.MODE_ARGUMENTS``).  A layer that keeps
none, or a class whose forward takes no argument for its mode, has the probe
it cannot take skipped, saying why.

The named mistakes: dx without its mean term, its variance term or both;
dgamma or dbeta summed over the features; dgamma summing dout times forward's
output instead of xhat.
"""
import numpy as np

from reference_layers.normalization import EPS, BatchNormCompact, BatchNormStaged

from ..compare import CheckResult
from ..forms import Form, Pair, UserError
from ..generic import finite_array
from . import Kind, Mistake

PROBE = np.array([[0.0, 0.0, 0.0], [2e-3, 2e-4, 2.0]])  # three groups of two values: variances 1e-6, 1e-8 and 1
BN_PARAM = {"mode": "train", "eps": EPS}  # what a cs231n function gets, a copy each call
MOMENTUM = 0.9  # the courses' default: cs231n's bn_param.get("momentum", 0.9), DLFS's BatchNormalization(momentum=0.9)
AVERAGES = {"running_mean": "mean", "running_var": "variance"}  # each running average, of the batch's what
PROBES = ("running-averages", "test-mode")
UPDATE = "running = momentum * running + (1 - momentum) * the batch's statistic"
SWAPPED = "momentum multiplies the batch's statistic in {names}, and 1 - momentum the old value: " + UPDATE
NEVER_UPDATED = ("train mode left {names} as the layer started them: every train-mode forward updates the running "
                 "averages, " + UPDATE)
UNBIASED = ("running_var averages the unbiased variance of each batch (divided by m - 1 for m values), as the batch "
            "norm paper and PyTorch do; cs231n and DLFS divide by m: either is accepted")
ON_THE_BATCH = "test mode normalizes with the batch's mean and variance: use running_mean and running_var"
UPDATED_IN_TEST = "test mode updated the running averages: only train mode updates them"


def eps_options(reference, arrange, what):
    """The ``options`` hook of a normalization kind: (``{"eps": the eps the layer's forward uses}``, a note saying
    so), or cs231n's with a note when the forward is no ``what`` ("batch normalization") with any eps.

    ``arrange(PROBE)`` is what the kind's forward takes, (x, gamma of ones, beta of zeros), with each column of
    PROBE one group the layer normalizes and PROBE[0, 0] first in x.  On that first group (x - mean = -+1e-3,
    variance 1e-6), out = (x - mean) / sqrt(1e-6 + eps), so eps = ((x - mean) / out)^2 - 1e-6; the eps is kept
    when ``reference`` with it gives the layer's output everywhere."""
    centered, variance = PROBE[0, 0] - PROBE[:, 0].mean(), PROBE[:, 0].var()

    def options(pair):
        try:
            out = np.asarray(pair.forward(*arrange(PROBE.copy()))[0], dtype=np.float64)
        except Exception:  # the layer's own failure: it shows again, in its checks
            out = None
        x, gamma, beta = arrange(PROBE.copy())
        if out is not None and out.shape == x.shape and np.all(np.isfinite(out)) and out.flat[0] != 0:
            eps = float((centered / out.flat[0]) ** 2 - variance)
            if eps > 0 and np.allclose(out, reference(gamma, beta, eps=eps).forward(x), rtol=1e-6, atol=1e-9):
                return {"eps": eps}, f"eps {eps:.3g}, read off the layer's forward (it changes every output)"
        return {"eps": EPS}, f"eps {EPS:g} (cs231n's): the layer's forward is no {what} with any eps on a probe"
    return options


def _normalized(inputs, eps):
    x = inputs["x"]
    std = np.sqrt(x.var(axis=0) + eps)
    return (x - x.mean(axis=0)) / std, std


def _output(inputs, eps):
    """Forward's output, gamma * xhat + beta."""
    return inputs["gamma"] * _normalized(inputs, eps)[0] + inputs["beta"]


def _dx(inputs, dout, eps, mean=True, variance=True):
    """dx with the mean term, the variance term, or neither left out."""
    xhat, std = _normalized(inputs, eps)
    dxhat = dout * inputs["gamma"]
    return (dxhat - mean * dxhat.mean(axis=0) - variance * xhat * (dxhat * xhat).mean(axis=0)) / std


def modes_probe(shape, axes, options):
    """probe(make) -> [running-averages, test-mode] CheckResults (see the module docstring) of a batch
    normalization of x of ``shape`` over ``axes``, the layer built by ``make(gamma, beta)`` as a
    ``modes.ModesLayer`` (``Kind.modes``; in grading, in the sandboxed child); ``options`` is the kind's, which
    reads the eps of its train mode."""
    rng = np.random.default_rng(0)
    x1, x2, x3 = (rng.normal(mean, scale, shape) for mean, scale in [(1.0, 1.0), (-2.0, 3.0), (0.5, 2.0)])
    features = np.mean(x1, axis=axes, keepdims=True).shape  # one running average a feature, as x broadcasts it
    gamma, beta = rng.uniform(0.5, 2.0, np.prod(features)), rng.standard_normal(np.prod(features))

    def probe(make):
        try:
            layer = make(gamma, beta)
            started = layer.kept(list(AVERAGES))
            _forward(layer, x1, "train")
            _forward(layer, x2, "train")
        except UserError as error:  # the layer's own failure: it shows again, in the search's checks
            return [CheckResult(name, "skip", f"the probe's forward failed: {error}") for name in PROBES]
        kept = {name: None if value is None else np.array(value, dtype=np.float64)
                for name, value in layer.kept(list(AVERAGES)).items()}
        missing = [name for name, value in kept.items() if value is None]
        if missing:
            why = (f"{layer.keeper} holds no {' or '.join(missing)} after two train-mode forwards: running averages "
                   "and test mode were not checked")
            return [CheckResult(name, "skip", why) for name in PROBES]
        normalized = _normalizing(features, gamma, beta, _eps(make, options))
        starts = {name: _start(started[name], kept[name]) for name in AVERAGES}
        return [_running_averages(kept, [x1, x2], axes, starts), _test_mode(layer, kept, x3, normalized, axes)]
    return probe


def _forward(layer, x, mode):
    return finite_array("forward", layer.forward(x, mode))


def _eps(make, options):
    """The eps the search's reference takes: what the kind's ``options`` read off the layer's train mode."""
    def forward(x, gamma, beta):
        return _forward(make(gamma, beta), x, "train"), None
    return options(Pair(forward, None))[0]["eps"]


def _start(started, kept):
    """Where a running average started: what the layer kept before its first forward, when that is numbers of
    the shape it keeps after; else zeros."""
    if started is None or np.shape(started) != kept.shape:
        return np.zeros_like(kept)
    return np.array(started, dtype=np.float64)


def _running_averages(kept, batches, axes, starts):
    """running-averages: each of ``kept`` after train-mode forwards on ``batches`` from ``starts``, what it is and
    what it should be."""
    conventions = {"running_mean": {"right": [x.mean(axis=axes) for x in batches]},
                   "running_var": {"right": [x.var(axis=axes) for x in batches],
                                   "unbiased": [x.var(axis=axes, ddof=1) for x in batches]}}
    verdicts = {name: _verdict(kept[name].ravel(), conventions[name], starts[name].ravel()) for name in AVERAGES}
    notes = [UNBIASED] if verdicts["running_var"] == "unbiased" else []
    wrong = [name for name, verdict in verdicts.items() if verdict not in ("right", "unbiased")]
    if not wrong:
        return CheckResult("running-averages", "pass", notes=notes)
    first = wrong[0]
    expected = _averaged(conventions[first]["right"], MOMENTUM, starts[first].ravel())
    message = (f"after two train-mode forwards {first} is {_shown(kept[first])}, where momentum * running + "
               f"(1 - momentum) * the batch's {AVERAGES[first]}, from {_start_shown(starts[first])}, gives "
               f"{_shown(expected)}")
    hints = [hint.format(names=" and ".join(names)) for hint, names in [
        (SWAPPED, [name for name in wrong if verdicts[name] == "swapped"]),
        (NEVER_UPDATED, [name for name in wrong if verdicts[name] == "unchanged"])] if names]
    return CheckResult("running-averages", "fail", message, notes=notes, hints=hints)


def _verdict(value, conventions, start):
    """What the running average ``value`` is, given each accepted convention's statistics of the batches and
    where it started: that convention's name, "swapped" (momentum on the batch's term), "unchanged", or None."""
    for name, statistics in conventions.items():
        if _close(value, _averaged(statistics, MOMENTUM, start)):
            return name
    if any(_close(value, _averaged(statistics, 1 - MOMENTUM, start)) for statistics in conventions.values()):
        return "swapped"
    return "unchanged" if _close(value, start) else None


def _averaged(statistics, momentum, start):
    running = start
    for statistic in statistics:
        running = momentum * running + (1 - momentum) * statistic
    return running


def _normalizing(features, gamma, beta, eps):
    """normalized(x, mean, var): gamma (x - mean) / sqrt(var + eps) + beta, each of one value a feature."""
    def normalized(x, mean, var):
        return gamma.reshape(features) * (x - mean.reshape(features)) / np.sqrt(var.reshape(features) + eps) \
            + beta.reshape(features)
    return normalized


def _test_mode(layer, kept, x, normalized, axes):
    """test-mode: a test-mode forward on ``x`` after the train-mode ones, which left ``kept``."""
    why = layer.test_mode_missing()
    if why:
        return CheckResult("test-mode", "skip", why)
    wrong_sizes = [name for name, value in kept.items() if value.size != x.mean(axis=axes).size]
    if wrong_sizes:
        return CheckResult("test-mode", "skip", f"{' and '.join(wrong_sizes)}: not one value a feature, so test mode "
                                                "was not checked")
    try:
        out = _forward(layer, x, "test")
    except UserError as error:
        return CheckResult("test-mode", "fail", f"test mode: {error}")
    problems, hints = [], []
    if not _close(out, normalized(x, kept["running_mean"], kept["running_var"])):
        problems.append("the output is not gamma (x - running_mean) / sqrt(running_var + eps) + beta, with the "
                        "running averages train mode left")
        if _close(out, normalized(x, x.mean(axis=axes), x.var(axis=axes))):
            hints.append(ON_THE_BATCH)
    after = layer.kept(list(AVERAGES))
    if not all(after[name] is not None and _close(np.asarray(after[name], dtype=np.float64), kept[name])
               for name in AVERAGES):
        problems.append("the running averages changed")
        hints.append(UPDATED_IN_TEST)
    if not problems:
        return CheckResult("test-mode", "pass")
    return CheckResult("test-mode", "fail", f"in test mode {' and '.join(problems)}", hints=hints)


def _close(value, expected):
    return value.shape == expected.shape and np.allclose(value, expected, rtol=1e-9, atol=1e-12)


def _start_shown(start):
    return "zeros" if not start.any() else "ones" if np.all(start == 1) else _shown(start)


def _shown(array):
    return np.array2string(np.ravel(array), precision=4)


OPTIONS = eps_options(BatchNormCompact, lambda x: (x, np.ones(x.shape[1]), np.zeros(x.shape[1])),
                      "batch normalization")

KIND = Kind(
    "batch normalization in training mode, out = gamma (x - mean) / sqrt(var + eps) + beta; its running "
    "averages and test mode probed",
    Form("batchnorm", {"x": "N,D", "gamma": "D", "beta": "D"}, extra=(BN_PARAM,)),
    (BatchNormCompact, BatchNormStaged), (
        Mistake("dx", lambda inputs, dout, eps=EPS: _dx(inputs, dout, eps, mean=False),
                "dx leaves out -mean(dxhat): the batch mean depends on every x of its column"),
        Mistake("dx", lambda inputs, dout, eps=EPS: _dx(inputs, dout, eps, variance=False),
                "dx leaves out -xhat * mean(dxhat * xhat): the batch variance depends on every x of its column"),
        Mistake("dx", lambda inputs, dout, eps=EPS: _dx(inputs, dout, eps, mean=False, variance=False),
                "dx is dout * gamma / std: the batch mean and variance depend on x too"),
        Mistake("dgamma", lambda inputs, dout, eps=EPS: (dout * _normalized(inputs, eps)[0]).sum(axis=1),
                "dgamma is summed over the features (axis 1): sum over the batch (axis 0)"),
        Mistake("dbeta", lambda inputs, dout: dout.sum(axis=1),
                "dbeta is summed over the features (axis 1): sum over the batch (axis 0)"),
        Mistake("dgamma", lambda inputs, dout, eps=EPS: (dout * _output(inputs, eps)).sum(axis=0),
                "dgamma sums dout * out, forward's output gamma * xhat + beta: it sums dout * xhat"),
    ), options=OPTIONS, probes=(modes_probe((8, 3), 0, OPTIONS),),
    probed=PROBES)
