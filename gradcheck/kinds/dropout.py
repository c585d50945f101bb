"""dropout in train mode, its mask made reproducible, and what its modes must agree on.

cs231n: ``dropout_forward(x, dropout_param) -> (out, cache)`` with
``dropout_param = {"mode": "train", "p": 0.75, "seed": 0}`` (p: the
probability of keeping) and ``dropout_backward(dout, cache) -> dx``; "Deep
Learning from Scratch": ``Dropout(0.25)`` (the ratio dropped) with
``forward(x, train_flg=True)`` and ``backward(dout)``.  numpy's global random
state is seeded before every call, so the mask repeats; dx is checked
against finite differences of the layer's own forward, which with one mask
is linear in x: dx = dout keep * scale, whatever the layer's mask and scale.
What those must be is checked once, on a probe of PROBE_SIZE elements:

- ``keep-rate``: the share of elements kept is p, within 5 binomial
  standard deviations;
- ``train-scale``: every kept element is x times one scale, 1/p (inverted
  dropout, cs231n's) or 1 (plain dropout, the DLFS book's);
- ``test-mode``: the output in test mode is the expected output in train
  mode, x p * scale: x for inverted dropout, x p for plain dropout.
"""
import numpy as np

from reference_layers.dropout import Dropout, dropout_forward

from ..compare import CheckResult
from ..forms import Form, UserError
from ..generic import finite_array
from . import Kind

KEEP = 0.75  # not 1/2: a layer that reads p as the probability of dropping keeps 1/4 instead
PROBE_SIZE = (200, 50)
PROBED = ("keep-rate", "train-scale", "test-mode")


def _train_and_test(make):
    """(x, out in train mode, out in test mode or a UserError saying why there is none, whether the layer is a
    class) on the probe, the layer built by ``make()`` as a ``modes.ModesLayer``."""
    x = np.random.default_rng(0).standard_normal(PROBE_SIZE)  # no element is 0: out != 0 is the mask
    layer = make()
    train = finite_array("forward", layer.forward(x, "train"))
    why = layer.test_mode_missing()
    test = UserError(why) if why else finite_array("forward", layer.forward(x, "test"))
    return x, train, test, layer.from_class


def probes(make):
    """[keep-rate, train-scale, test-mode] CheckResults (see the module docstring)."""
    try:
        x, train, test, from_class = _train_and_test(make)
    except UserError as error:
        return [CheckResult(name, "skip", f"the probe's forward failed: {error}") for name in PROBED]
    kept = train != 0
    scales = train[kept] / x[kept]
    scale = float(np.median(scales)) if kept.any() else 0.0
    return [_keep_rate(kept, from_class), _train_scale(scales, scale), _test_mode(x, test, scale)]


def _keep_rate(kept, from_class):
    rate, spread = kept.mean(), 5 * np.sqrt(KEEP * (1 - KEEP) / kept.size)
    if abs(rate - KEEP) <= spread:
        return CheckResult("keep-rate", "pass")
    told = "Dropout(0.25): dropout_ratio is the share dropped" if from_class else \
        "dropout_param p = 0.75: p is the probability of keeping an element"
    result = CheckResult("keep-rate", "fail", f"forward kept {rate:.1%} of {kept.size} elements; {told}, so "
                                              f"{KEEP:.0%} should be kept (within {spread:.1%})")
    if abs(rate - (1 - KEEP)) <= spread:
        result.hints = ["the mask keeps with the probability of dropping: keep where rand < p (cs231n), or where "
                        "rand > dropout_ratio (DLFS)"]
    return result


def _train_scale(scales, scale):
    if not np.allclose(scales, scale, rtol=1e-12, atol=0):
        return CheckResult("train-scale", "fail", "the kept elements are x times different factors: each should "
                                                  f"be x times one scale, 1/p = {1 / KEEP:.4g} or 1")
    if not (np.isclose(scale, 1 / KEEP, rtol=1e-12) or np.isclose(scale, 1.0, rtol=1e-12)):
        return CheckResult("train-scale", "fail", f"the kept elements are x times {scale:.6g}: inverted dropout "
                                                  f"scales them by 1/p = {1 / KEEP:.4g}, plain dropout by 1")
    return CheckResult("train-scale", "pass")


def _test_mode(x, test, scale):
    if isinstance(test, UserError):
        return CheckResult("test-mode", "skip", str(test))
    expected = x * KEEP * scale  # the expected output of train mode
    if test.shape == x.shape and np.allclose(test, expected, rtol=1e-12, atol=0):
        return CheckResult("test-mode", "pass")
    result = CheckResult("test-mode", "fail", f"test mode is not the expected output of train mode, x * p * "
                                              f"{scale:.4g} (train mode's scale)")
    if test.shape == x.shape and np.allclose(test, x, rtol=1e-12) and np.isclose(scale, 1.0):
        result.hints = ["train mode does not scale by 1/p and test mode returns x: scale the kept elements by 1/p "
                        "in train mode (inverted dropout), or x by p in test mode (plain dropout)"]
    elif test.shape == x.shape and np.allclose(test, x * KEEP, rtol=1e-12) and np.isclose(scale, 1 / KEEP):
        result.hints = ["test mode scales by p, but train mode already scaled by 1/p (inverted dropout): in test "
                        "mode return x as it is"]
    return result


def options(pair):
    """No reference to choose: the note says what the probes ask."""
    return {}, (f"p = {KEEP} kept (Dropout({1 - KEEP:g}) for a class); keep-rate, train-scale and test-mode are "
                f"checked once, on {np.prod(PROBE_SIZE)} elements")


KIND = Kind(
    f"train mode, each element kept with p = {KEEP}: out = x * mask * scale (1/p inverted, or 1)",
    Form("dropout", {"x": "N,D"}, extra=({"mode": "train", "p": KEEP, "seed": 0},),
         made_with={"dropout_ratio": 1 - KEEP}, seeded=True),
    (dropout_forward, Dropout), by_reference=False, probes=(probes,), probed=PROBED,
    options=options,
    hints={"repeatable": "the mask differs from call to call: draw it from numpy's global random state "
                         "(np.random.rand), which gradcheck seeds before every call, or seed it with "
                         "dropout_param['seed']"})
