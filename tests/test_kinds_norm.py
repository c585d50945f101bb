"""The normalization kinds of cs231n's assignment 2 beyond batch norm's training mode: layer norm, spatial batch
norm and group norm, and the running averages and test mode of batch norm and spatial batch norm.  Their
references agree with PyTorch, and so do the probes of the running averages and test mode; a student's right
layers pass, as classes and as cs231n functions, with the eps they use; each named mistake is named, and each
mistake of the running averages or of test mode gets its hint.

tests/test_kinds.py checks every catalogue kind's formulations against finite differences and each other."""
import inspect
import os

import numpy as np
import pytest

from gradcheck import kinds
from gradcheck.kinds import batchnorm
from gradcheck.userfiles import load_module
from kind_checks import SEEDS, assert_agrees_with_torch, failing, on_every_seed

CATALOGUE = kinds.catalogue()
NORMALIZATIONS = ("layernorm", "spatial_batchnorm", "groupnorm")
EPS, G = 1e-5, 2  # what the kinds pass a cs231n function


# ---- PyTorch as the oracle ----

TORCH = {
    "layernorm": lambda F, x, gamma, beta: F.layer_norm(x, x.shape[1:], gamma, beta, eps=EPS),
    "spatial_batchnorm": lambda F, x, gamma, beta: F.batch_norm(x, None, None, gamma, beta, training=True, eps=EPS),
    "groupnorm": lambda F, x, gamma, beta: F.group_norm(x, G, gamma.flatten(), beta.flatten(), eps=EPS),
}
SIZES = [{"N": 2, "D": 1, "C": 1, "H": 1, "W": 1, "K": 1},  # torch's batch norm refuses one value a channel
         {"N": 3, "D": 5, "C": 2, "H": 3, "W": 2, "K": 2}, {"N": 1, "D": 4, "C": 4, "H": 2, "W": 5, "K": 3}]
FORMULATIONS = [pytest.param(CATALOGUE[name], formulation, id=f"{name}-{formulation.__name__}")
                for name in NORMALIZATIONS for formulation in CATALOGUE[name].formulations]


@pytest.mark.slow
@pytest.mark.parametrize("kind,formulation", FORMULATIONS)
def test_each_formulation_agrees_with_pytorch(kind, formulation):
    # gradient_atol: torch's rounding, 3e-14, where a lone value's dx is 0
    assert_agrees_with_torch(kind, formulation, lambda torch, *tensors: TORCH[kind.name](torch.nn.functional, *tensors),
                             SIZES, gradient_atol=1e-13)


# ---- a student's layers: cs231n's functions, and classes as "Deep Learning from Scratch" writes its layers ----

class LayerNorm:
    """Layer norm with the DLFS book's eps, walking the graph back; the check reads the eps off its forward."""

    eps = 1e-6

    def __init__(self, gamma, beta):
        self.gamma, self.beta = gamma, beta

    def forward(self, x):
        self.xc = x - x.mean(axis=1, keepdims=True)
        self.std = np.sqrt(np.mean(self.xc ** 2, axis=1, keepdims=True) + self.eps)
        self.xn = self.xc / self.std
        return self.gamma * self.xn + self.beta

    def backward(self, dout):
        d = dout.shape[1]
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dvar = 0.5 * -np.sum(dxn * self.xc / self.std ** 2, axis=1, keepdims=True) / self.std
        dxc += (2.0 / d) * self.xc * dvar
        return dxc - np.sum(dxc, axis=1, keepdims=True) / d


class LayerNormAlongTheRows(LayerNorm):
    """Every sum over axis 1, dgamma's and dbeta's too, and dx without its mean term (the book's eps: the hints
    are computed with the eps read off the layer)."""

    def backward(self, dout):
        super().backward(dout)
        self.dgamma, self.dbeta = np.sum(self.xn * dout, axis=1), dout.sum(axis=1)
        dxn = self.gamma * dout
        return (dxn - self.xn * np.mean(dxn * self.xn, axis=1, keepdims=True)) / self.std


def layernorm_forward(x, gamma, beta, ln_param):
    std = np.sqrt(x.var(axis=1, keepdims=True) + ln_param.get("eps", 1e-5))
    xhat = (x - x.mean(axis=1, keepdims=True)) / std
    return gamma * xhat + beta, (xhat, gamma, std)


def layernorm_backward(dout, cache):
    xhat, gamma, std = cache
    d = dout.shape[1]
    dxhat = dout * gamma
    dx = (d * dxhat - dxhat.sum(axis=1, keepdims=True) - xhat * np.sum(dxhat * xhat, axis=1, keepdims=True)) / d
    return dx / std, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def layernorm_forward_no_variance_term(x, gamma, beta, ln_param):
    return layernorm_forward(x, gamma, beta, ln_param)


def layernorm_backward_no_variance_term(dout, cache):
    xhat, gamma, std = cache
    dxhat = dout * gamma
    return (dxhat - dxhat.mean(axis=1, keepdims=True)) / std, *layernorm_backward(dout, cache)[1:]


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch norm as cs231n's solution writes it, in train and test mode, its running averages kept in bn_param;
    spatial batch norm reuses it."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(x.shape[1]))
    running_var = bn_param.get("running_var", np.zeros(x.shape[1]))
    cache = None
    if mode == "train":
        sample_mean, sample_var = x.mean(axis=0), x.var(axis=0)
        std = np.sqrt(sample_var + eps)
        xhat = (x - sample_mean) / std
        cache = (xhat, gamma, std)
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
    elif mode == "test":
        xhat = (x - running_mean) / np.sqrt(running_var + eps)
    else:
        raise ValueError(f'Invalid forward batchnorm mode "{mode}"')
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return gamma * xhat + beta, cache


def batchnorm_backward(dout, cache):
    xhat, gamma, std = cache
    dxhat = dout * gamma
    dx = (dxhat - dxhat.mean(axis=0) - xhat * np.mean(dxhat * xhat, axis=0)) / std
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    n, c, h, w = x.shape
    out, cache = batchnorm_forward(x.transpose(0, 2, 3, 1).reshape(-1, c), gamma, beta, bn_param)
    return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(dout, cache):
    n, c, h, w = dout.shape
    dx, dgamma, dbeta = batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, c), cache)
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta


def spatial_batchnorm_forward_channels_mixed(x, gamma, beta, bn_param):
    out, cache = batchnorm_forward(x.reshape(-1, x.shape[1]), gamma, beta, bn_param)
    return out.reshape(x.shape), cache


def spatial_batchnorm_backward_channels_mixed(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward(dout.reshape(-1, dout.shape[1]), cache)
    return dx.reshape(dout.shape), dgamma, dbeta


class SpatialBatchNorm:
    """Spatial batch norm, its statistics summed over axes (0, 2, 3) directly, with the compact formula."""

    eps = 1e-5

    def __init__(self, gamma, beta):
        self.gamma, self.beta = gamma.reshape(1, -1, 1, 1), beta.reshape(1, -1, 1, 1)

    def forward(self, x):
        self.std = np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + self.eps)
        self.xhat = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / self.std
        return self.gamma * self.xhat + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=(0, 2, 3))
        self.dgamma = np.sum(dout * self.xhat, axis=(0, 2, 3))
        dxhat = dout * self.gamma
        return self.dx(dxhat, dout.size // dout.shape[1])

    def dx(self, dxhat, m):
        """The compact formula, m values a channel."""
        sums = dxhat.sum(axis=(0, 2, 3), keepdims=True)
        return (m * dxhat - sums - self.xhat * np.sum(dxhat * self.xhat, axis=(0, 2, 3), keepdims=True)) / (
            m * self.std)


class SpatialBatchNormOverTheBatch(SpatialBatchNorm):
    """Backward as 2-D batch norm's: N values a channel in dx, dgamma and dbeta summed over axis 0."""

    def backward(self, dout):
        super().backward(dout)
        self.dgamma, self.dbeta = np.sum(dout * self.xhat, axis=0), dout.sum(axis=0)
        return self.dx(dout * self.gamma, len(dout))


class GroupNorm:
    """Group norm as a class, G given after its parameters: the layer norm of one row a group, then per channel
    scale and shift."""

    def __init__(self, gamma, beta, G):
        self.gamma, self.beta, self.G = gamma, beta, G
        self.rows = LayerNorm(1.0, 0.0)

    def forward(self, x):
        self.xn = self.rows.forward(x.reshape(len(x) * self.G, -1)).reshape(x.shape)
        return self.gamma * self.xn + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
        self.dgamma = np.sum(self.xn * dout, axis=(0, 2, 3), keepdims=True)
        return self.rows.backward((self.gamma * dout).reshape(len(dout) * self.G, -1)).reshape(dout.shape)


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    n, c, h, w = x.shape
    groups = x.reshape(n * G, -1)  # one row a (sample, group): cs231n's hint, layer norm of the rows
    xhat, cache = layernorm_forward(groups, 1.0, 0.0, gn_param)
    xhat = xhat.reshape(x.shape)
    return gamma * xhat + beta, (xhat, gamma, G, cache)


def spatial_groupnorm_backward(dout, cache):
    xhat, gamma, G, rows = cache
    dgamma = np.sum(dout * xhat, axis=(0, 2, 3), keepdims=True)
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dx = layernorm_backward((dout * gamma).reshape(len(dout) * G, -1), rows)[0]
    return dx.reshape(dout.shape), dgamma, dbeta


def spatial_groupnorm_forward_as_layer_norm(x, gamma, beta, G, gn_param):
    return spatial_groupnorm_forward(x, gamma, beta, 1, gn_param)


def spatial_groupnorm_backward_as_layer_norm(dout, cache):
    return spatial_groupnorm_backward(dout, cache)


def spatial_groupnorm_forward_over_the_sample(x, gamma, beta, G, gn_param):
    return spatial_groupnorm_forward(x, gamma, beta, G, gn_param)


def spatial_groupnorm_backward_over_the_sample(dout, cache):
    """The compact formula with m a sample's values, C*H*W, where a group has C/G*H*W; dgamma and dbeta
    without their kept dimensions (right values: a note, not a failure)."""
    xhat, gamma, G, (_, _, std) = cache
    m = dout[0].size
    dxhat = (dout * gamma).reshape(len(dout) * G, -1)
    xhat = xhat.reshape(dxhat.shape)
    dx = (m * dxhat - dxhat.sum(axis=1, keepdims=True) - xhat * np.sum(dxhat * xhat, axis=1, keepdims=True)) / (
        m * std)
    _, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
    return dx.reshape(dout.shape), dgamma.flatten(), dbeta.flatten()


# ---- right layers pass, on every seed ----

RIGHT = [("layernorm", LayerNorm, "eps 1e-06"), ("layernorm", layernorm_forward, "eps 1e-05"),
         ("spatial_batchnorm", SpatialBatchNorm, "eps 1e-05"),
         ("spatial_batchnorm", spatial_batchnorm_forward, "eps 1e-05"),
         ("groupnorm", GroupNorm, "eps 1e-06"), ("groupnorm", spatial_groupnorm_forward, "eps 1e-05")]
FAST_RIGHT = (LayerNorm, spatial_groupnorm_forward)


@pytest.mark.parametrize("kind,layer,eps,seed", on_every_seed(RIGHT, FAST_RIGHT, key=lambda case: case[1]))
def test_right_layers_pass_as_classes_and_as_functions_with_the_eps_they_use(kind, layer, eps, seed):
    report = kinds.check_kind(CATALOGUE[kind], layer, seed=seed)
    assert report.passed and report.notes == [f"{eps}, read off the layer's forward (it changes every output)"]


# ---- wrong layers fail the checks they get wrong, alone, with the hint of their mistake ----

def hint(kind, index):
    mistake = CATALOGUE[kind].mistakes[index]
    return mistake.check, mistake.hint


# layer -> (kind, the layer, the checks that fail, the hints named: (check, hint))
WRONG = {
    "LayerNormAlongTheRows": ("layernorm", LayerNormAlongTheRows, ["dx", "dgamma", "dbeta"],
                              [hint("layernorm", 0), hint("layernorm", 2), hint("layernorm", 3)]),
    "layernorm no variance term": ("layernorm", layernorm_forward_no_variance_term, ["dx"], [hint("layernorm", 1)]),
    "spatial batchnorm channels mixed": ("spatial_batchnorm", spatial_batchnorm_forward_channels_mixed,
                                         ["forward", "dx", "dgamma", "dbeta", "running-averages", "test-mode"],
                                         [hint("spatial_batchnorm", 0)]),  # its running averages mix them too
    "SpatialBatchNormOverTheBatch": ("spatial_batchnorm", SpatialBatchNormOverTheBatch, ["dx", "dgamma", "dbeta"],
                                     [hint("spatial_batchnorm", 1), hint("spatial_batchnorm", 2),
                                      hint("spatial_batchnorm", 3)]),
    "groupnorm as layer norm": ("groupnorm", spatial_groupnorm_forward_as_layer_norm, ["forward", "dx", "dgamma"],
                                [hint("groupnorm", 0)]),
    "groupnorm over the sample": ("groupnorm", spatial_groupnorm_forward_over_the_sample, ["dx"],
                                  [hint("groupnorm", 1)]),
}
FAST_WRONG = ("groupnorm as layer norm",)


def test_every_mistake_is_made_by_a_wrong_layer():
    named = {named for _, _, _, hints in WRONG.values() for named in hints}
    assert named == {(mistake.check, mistake.hint) for name in NORMALIZATIONS for mistake in CATALOGUE[name].mistakes}


@pytest.mark.parametrize("name,seed", on_every_seed(WRONG, FAST_WRONG))
def test_each_wrong_layer_fails_its_checks_alone_with_its_hint_on_every_seed(name, seed):
    kind, layer, checks, hints = WRONG[name]
    report = kinds.check_kind(CATALOGUE[kind], layer, seed=seed)
    assert failing(report) == checks
    results = {check.name: check for check in report.checks}
    for check, expected in hints:
        assert expected in results[check].hints


# ---- batch norm's running averages and test mode, probed once after the search ----

DLFS = load_module(os.path.join(os.path.dirname(__file__), os.pardir, "examples", "dlfs_layers.py"))
PROBES = ["running-averages", "test-mode"]


def probed(report):
    """{probe's name: its CheckResult} of a report."""
    return {check.name: check for check in report.checks if check.name in PROBES}


class BatchNormalizationTorchMomentum(DLFS.BatchNormalization):
    """momentum=0.1 as PyTorch's BatchNorm1d means it, the batch's weight, in the book's update, where momentum
    weighs the old average: running = 0.1 running + 0.9 batch."""

    def __init__(self, gamma, beta):
        super().__init__(gamma, beta, momentum=0.1)


class BatchNormalizationUpdatedInTest(DLFS.BatchNormalization):
    """Test mode normalizes with the running averages, then updates them with the batch's statistics, as train
    mode does."""

    def forward(self, x, train_flg=True):
        out = super().forward(x, train_flg)
        if not train_flg:
            super().forward(x, True)
        return out


class BatchNormalizationWithoutTrainFlag(DLFS.BatchNormalization):
    """Right running averages, and no test mode to call."""

    def forward(self, x):
        return super().forward(x)


class BatchNormalizationWithEval(DLFS.BatchNormalization):
    """Right, its mode asked as CMU 11-785's BatchNorm asks it: forward(x, eval=False)."""

    def forward(self, x, eval=False):
        return super().forward(x, not eval)


class BatchNormalizationWithMode(DLFS.BatchNormalization):
    """Right, its mode a string: forward(x, mode="train")."""

    def forward(self, x, mode="train"):
        return super().forward(x, mode == "train")


def batchnorm_forward_never_updated(x, gamma, beta, bn_param):
    """Stores back the running averages it found (zeros at first): as if the update were left out."""
    found = {name: bn_param.get(name, np.zeros(x.shape[1])) for name in ("running_mean", "running_var")}
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    bn_param.update(found)
    return out, cache


def batchnorm_forward_test_on_the_batch(x, gamma, beta, bn_param):
    """Test mode normalizes as train mode does, with the batch's mean and variance, on a copy of bn_param: the
    running averages stay as they were."""
    if bn_param["mode"] == "test":
        return batchnorm_forward(x, gamma, beta, {**bn_param, "mode": "train"})
    return batchnorm_forward(x, gamma, beta, bn_param)


def batchnorm_forward_unbiased(x, gamma, beta, bn_param):
    """Averages the unbiased variance of each batch (divided by N - 1) into running_var, as PyTorch does."""
    momentum, running_var = bn_param.get("momentum", 0.9), bn_param.get("running_var", np.zeros(x.shape[1]))
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    if bn_param["mode"] == "train":
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * x.var(axis=0, ddof=1)
    return out, cache


def batchnorm_forward_train_only(x, gamma, beta, bn_param):
    """Keeps no running averages in bn_param: the solution runs on a copy of it."""
    return batchnorm_forward(x, gamma, beta, dict(bn_param))


def torch_batchnorm_forward(x, gamma, beta, bn_param):
    """PyTorch's batch norm as a cs231n function, its running averages kept in bn_param; PyTorch's momentum is the
    batch's weight, 1 - cs231n's."""
    import torch
    running = {name: torch.tensor(bn_param.get(name, np.zeros(x.shape[1]))) for name in ("running_mean", "running_var")}
    out = torch.nn.functional.batch_norm(torch.tensor(x), running["running_mean"], running["running_var"],
                                         torch.tensor(gamma), torch.tensor(beta), training=bn_param["mode"] == "train",
                                         momentum=1 - bn_param.get("momentum", 0.9), eps=bn_param["eps"])
    bn_param.update({name: average.numpy() for name, average in running.items()})
    return out.numpy(), None


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["batchnorm", "spatial_batchnorm"])
def test_the_probes_agree_with_pytorch_whose_running_variance_is_the_unbiased_one(kind):
    pytest.importorskip("torch")
    (probe,) = CATALOGUE[kind].probes
    running, test = probe(CATALOGUE[kind].modes(torch_batchnorm_forward))
    assert running.status == test.status == "pass" and running.notes == [batchnorm.UNBIASED]


PROBED_RIGHT = [("batchnorm", DLFS.BatchNormalization, "eps 1e-06"), ("batchnorm", batchnorm_forward, "eps 1e-05"),
                ("spatial_batchnorm", spatial_batchnorm_forward, "eps 1e-05")]


@pytest.mark.parametrize("kind,layer,eps,seed", on_every_seed(PROBED_RIGHT, (DLFS.BatchNormalization,),
                                                             key=lambda case: case[1]))
def test_the_courses_batch_norms_pass_their_running_averages_and_test_mode(kind, layer, eps, seed):
    report = kinds.check_kind(CATALOGUE[kind], layer, seed=seed)
    assert report.passed and report.notes == [f"{eps}, read off the layer's forward (it changes every output)"]
    assert [(check.status, check.notes) for check in probed(report).values()] == [("pass", []), ("pass", [])]


# layer -> (kind, the layer, the checks that fail, {check: its hints})
PROBED_WRONG = {
    "momentum swapped": ("batchnorm", BatchNormalizationTorchMomentum, ["running-averages"],
                         {"running-averages": [batchnorm.SWAPPED.format(names="running_mean and running_var")]}),
    "never updated": ("batchnorm", batchnorm_forward_never_updated, ["running-averages"],
                      {"running-averages": [batchnorm.NEVER_UPDATED.format(names="running_mean and running_var")]}),
    "test mode on the batch": ("batchnorm", batchnorm_forward_test_on_the_batch, ["test-mode"],
                               {"test-mode": [batchnorm.ON_THE_BATCH]}),
    "updated in test mode": ("batchnorm", BatchNormalizationUpdatedInTest, ["test-mode"],
                             {"test-mode": [batchnorm.UPDATED_IN_TEST]}),
}
FAST_PROBED_WRONG = ("momentum swapped",)


@pytest.mark.parametrize("name,seed", on_every_seed(PROBED_WRONG, FAST_PROBED_WRONG))
def test_each_wrong_running_average_or_test_mode_fails_its_probe_alone_with_its_hint(name, seed):
    kind, layer, checks, hints = PROBED_WRONG[name]
    backward = None if inspect.isclass(layer) else batchnorm_backward
    report = kinds.check_kind(CATALOGUE[kind], layer, backward=backward, seed=seed)
    assert failing(report) == checks
    assert {probe: check.hints for probe, check in probed(report).items() if not check.passed} == hints
    (finding,) = report.findings
    assert finding.names == checks and finding.example is None


def test_the_unbiased_running_variance_is_accepted_with_a_note():
    running, test = CATALOGUE["batchnorm"].probes[0](CATALOGUE["batchnorm"].modes(batchnorm_forward_unbiased))
    assert (running.status, running.notes, test.status) == ("pass", [batchnorm.UNBIASED], "pass")


@pytest.mark.parametrize("layer", [BatchNormalizationWithEval, BatchNormalizationWithMode])
def test_test_mode_is_asked_for_by_the_name_forward_takes_it_by(layer):
    """eval=True, mode="test": given False as train_flg would be, the first ran train mode and failed test-mode."""
    (probe,) = CATALOGUE["batchnorm"].probes
    assert [result.status for result in probe(CATALOGUE["batchnorm"].modes(layer))] == ["pass", "pass"]


def test_a_probe_a_layer_cannot_take_is_skipped_saying_why():
    (probe,) = CATALOGUE["batchnorm"].probes
    running, test = probe(CATALOGUE["batchnorm"].modes(BatchNormalizationWithoutTrainFlag))
    assert (running.status, test.status, test.message) == (
        "pass", "skip", "forward takes no train_flg, eval or mode argument: test mode was not checked")
    running, test = probe(CATALOGUE["batchnorm"].modes(batchnorm_forward_train_only))
    assert running.status == test.status == "skip"
    assert running.message == test.message == ("bn_param holds no running_mean or running_var after two train-mode "
                                               "forwards: running averages and test mode were not checked")
    running, test = CATALOGUE["spatial_batchnorm"].probes[0](CATALOGUE["spatial_batchnorm"].modes(SpatialBatchNorm))
    assert running.message == test.message == ("SpatialBatchNorm holds no running_mean or running_var after two "
                                               "train-mode forwards: running averages and test mode were not checked")


def spatial_groupnorm_forward_channel_gamma(x, gamma, beta, G, gn_param):
    """As cs231n's 2019 docstring has it: gamma and beta of shape (C,)."""
    return spatial_groupnorm_forward(x, gamma[None, :, None, None], beta[None, :, None, None], G, gn_param)


def spatial_groupnorm_backward_channel_gamma(dout, cache):
    """Found by its forward's name."""
    return spatial_groupnorm_backward(dout, cache)


def spatial_groupnorm_backward_channel_gamma_over_the_sample(dout, cache):
    return spatial_groupnorm_backward_over_the_sample(dout, cache)


@pytest.mark.parametrize("seed", [pytest.param(seed, marks=[pytest.mark.slow] if seed else []) for seed in SEEDS])
def test_a_group_norm_taking_gamma_of_shape_c_is_given_it_so_and_still_judged(seed):
    kind = CATALOGUE["groupnorm"]
    report = kinds.check_kind(kind, spatial_groupnorm_forward_channel_gamma, seed=seed)
    assert report.passed and report.notes[0] == ("gamma and beta are given of shape (C,), as the layer's forward "
                                                 "takes them (cs231n's 2019 assignment)")
    wrong = kinds.check_kind(kind, spatial_groupnorm_forward_channel_gamma,
                             backward=spatial_groupnorm_backward_channel_gamma_over_the_sample, seed=seed)
    assert failing(wrong) == ["dx"] and hint("groupnorm", 1)[1] in wrong.findings[0].results[0].hints
    assert kinds.check_kind(kind, spatial_groupnorm_forward, seed=seed).notes == ["eps 1e-05, read off the layer's "
                                                                                  "forward (it changes every output)"]
