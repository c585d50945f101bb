"""The catalogue's dropout: a right layer passes in either form (inverted, cs231n's; plain, the DLFS book's),
and each mistake fails its checks alone, with its hint: a mask kept with the probability of dropping, train mode
not scaled by 1/p, test mode scaled after train mode was, a backward without the scale, a mask drawn afresh on
every call."""
import os

import numpy as np
import pytest

from gradcheck import kinds
from gradcheck.kinds.dropout import KEEP
from gradcheck.userfiles import load_module
from kind_checks import failing, on_every_seed

DROPOUT = kinds.catalogue()["dropout"]
DLFS = load_module(os.path.join(os.path.dirname(__file__), os.pardir, "examples", "dlfs_layers.py"))


def dropout_forward(x, dropout_param):
    """cs231n's, as a student writes it."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    else:
        out = x
    return out, (dropout_param, mask)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout


class DropoutNotScaled(DLFS.Dropout):
    """Train mode keeps x as it is, and test mode returns x too."""

    def forward(self, x, train_flg=True):
        return super().forward(x) if train_flg else x


def scaled_twice_forward(x, dropout_param):
    out, cache = dropout_forward(x, dropout_param)
    return (x * dropout_param["p"], cache) if dropout_param["mode"] == "test" else (out, cache)


def p_dropped_forward(x, dropout_param):
    """Reads p as the probability of dropping."""
    np.random.seed(dropout_param["seed"])
    if dropout_param["mode"] == "test":
        return x, (dropout_param, None)
    keep = 1 - dropout_param["p"]
    mask = (np.random.rand(*x.shape) < keep) / keep
    return x * mask, (dropout_param, mask)


def unscaled_backward_forward(x, dropout_param):
    out, (param, mask) = dropout_forward(x, dropout_param)
    return out, (param, None if mask is None else mask != 0)


def fresh_mask_forward(x, dropout_param):
    """Draws its mask from a generator of its own, unseeded: another mask on every call."""
    if dropout_param["mode"] == "test":
        return x, (dropout_param, None)
    mask = (np.random.default_rng().random(x.shape) < dropout_param["p"]) / dropout_param["p"]
    return x * mask, (dropout_param, mask)


RIGHT = [dropout_forward, DLFS.Dropout]
WRONG = {  # name -> (layer, its backward, the checks that fail, the hint of the first failing probe or None)
    "DropoutNotScaled": (DropoutNotScaled, None, ["test-mode"],
                         "train mode does not scale by 1/p and test mode returns x: scale the kept elements by 1/p in "
                         "train mode (inverted dropout), or x by p in test mode (plain dropout)"),
    "scaled in test mode": (scaled_twice_forward, dropout_backward, ["test-mode"],
                            "test mode scales by p, but train mode already scaled by 1/p (inverted dropout): in test "
                            "mode return x as it is"),
    "p read as dropped": (p_dropped_forward, dropout_backward, ["keep-rate", "train-scale", "test-mode"],
                          "the mask keeps with the probability of dropping: keep where rand < p (cs231n), or where "
                          "rand > dropout_ratio (DLFS)"),
    "backward without 1/p": (unscaled_backward_forward, dropout_backward, ["dx"], None),
    "a fresh mask each call": (fresh_mask_forward, dropout_backward, ["repeatable", "dx"],
                               DROPOUT.hints["repeatable"]),
}


@pytest.mark.parametrize("seed", [pytest.param(seed, marks=[pytest.mark.slow] if seed else []) for seed in range(5)])
@pytest.mark.parametrize("layer", RIGHT, ids=lambda layer: layer.__name__)
def test_right_layers_pass_in_either_form(layer, seed):
    report = kinds.check_kind(DROPOUT, layer, seed=seed)
    assert report.passed, [check.message for check in report.checks if not check.passed]
    assert [check.name for check in report.checks][-3:] == ["keep-rate", "train-scale", "test-mode"]


FAST = ("DropoutNotScaled", "scaled in test mode")


@pytest.mark.parametrize("name,seed", on_every_seed(WRONG, FAST))
def test_each_wrong_layer_fails_its_checks_alone_with_its_hint_on_every_seed(name, seed):
    layer, backward, checks, hint = WRONG[name]
    report = kinds.check_kind(DROPOUT, layer, backward=backward, seed=seed)
    assert failing(report) == checks
    if hint:
        (first,) = [check for check in report.checks if check.name == checks[0]]
        assert first.hints == [hint]


def test_a_probe_says_how_much_was_kept_and_what_p_means():
    report = kinds.check_kind(DROPOUT, p_dropped_forward, backward=dropout_backward, seed=0)
    (rate,) = [check for check in report.checks if check.name == "keep-rate"]
    assert rate.message.startswith("forward kept 2") and rate.message.endswith(
        f"of 10000 elements; dropout_param p = 0.75: p is the probability of keeping an element, so {KEEP:.0%} "
        "should be kept (within 2.2%)")
    (finding,) = [finding for finding in report.findings if "keep-rate" in finding.names]
    assert finding.example is None and finding.reproduce == report.reproduce
