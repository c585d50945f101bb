"""The catalogue's convolution family beyond gradcheck conv: global average pooling, and convolutions transposed
(stride 2), dilated (dilation 2) and grouped (2 groups).  Their references agree with PyTorch, at the kinds'
geometry and at others; every configuration the kinds draw is valid; a student's right layers pass, as cs231n
functions and as classes; each wrong layer fails its checks alone, with the hint of its mistake, on every seed.

tests/test_kinds.py checks every catalogue kind's formulations against finite differences and each other."""
import itertools

import numpy as np
import pytest

from gradcheck import generic, kinds
from gradcheck.forms import as_pair
from kind_checks import failing, on_every_seed

CATALOGUE = kinds.catalogue()
CONVOLUTIONS = ("conv_transpose", "conv_dilated", "conv_grouped")
KINDS = ("global_avg_pool",) + CONVOLUTIONS


# ---- PyTorch as the oracle ----

def torch_layer(name, stride, pad, number=None):
    """The PyTorch function of kind ``name`` with its stride, pad and own ``number`` (dilation or groups)."""
    functional = pytest.importorskip("torch").nn.functional
    return {"conv_transpose": lambda x, w, b: functional.conv_transpose2d(x, w, b, stride=stride, padding=pad),
            "conv_dilated": lambda x, w, b: functional.conv2d(x, w, b, stride=stride, padding=pad, dilation=number),
            "conv_grouped": lambda x, w, b: functional.conv2d(x, w, b, stride=stride, padding=pad, groups=number),
            }[name]


# the kinds' own geometry (stride, pad, dilation or groups: as made_with has them), then others
GEOMETRIES = {"conv_transpose": [(2, 0), (1, 0), (3, 1)], "conv_dilated": [(1, 0, 2), (2, 1, 3), (1, 2, 1)],
              "conv_grouped": [(1, 0, 2), (2, 1, 3), (1, 1, 1)]}
SIZES = [{"N": 1, "C": 1, "F": 1, "H": 5, "W": 5, "KH": 1, "KW": 1},
         {"N": 2, "C": 3, "F": 2, "H": 5, "W": 6, "KH": 2, "KW": 3},
         {"N": 3, "C": 2, "F": 3, "H": 7, "W": 5, "KH": 3, "KW": 2}]
CONV_FORMULATIONS = [pytest.param(name, formulation, id=f"{name}-{formulation.__name__}")
                     for name in CONVOLUTIONS for formulation in CATALOGUE[name].formulations]


def shapes_of(name, sizes, geometry):
    """x, w, b of kind ``name`` at ``sizes``, with ``geometry``'s groups (stride, pad, groups) for conv_grouped."""
    n, c, f, h, w, kh, kw = (sizes[symbol] for symbol in ("N", "C", "F", "H", "W", "KH", "KW"))
    groups = geometry[2] if name == "conv_grouped" else 1
    kernel = (c, f, kh, kw) if name == "conv_transpose" else (groups * f, c, kh, kw)
    return {"x": (n, groups * c, h, w), "w": kernel, "b": (groups * f,)}


def with_gradients(torch, function, inputs, dout):
    """(out, {name: its gradient}) of a PyTorch ``function`` at ``inputs`` (arrays), with ``dout``."""
    tensors = {name: torch.tensor(value, requires_grad=True) for name, value in inputs.items()}
    out = function(*tensors.values())
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), {name: tensor.grad.numpy() for name, tensor in tensors.items()}


@pytest.mark.slow
@pytest.mark.parametrize("name,formulation", CONV_FORMULATIONS)
def test_each_convolution_agrees_with_pytorch_at_its_geometry_and_at_others(name, formulation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for geometry, sizes in itertools.product(GEOMETRIES[name], SIZES):
        inputs = {key: rng.standard_normal(shape) for key, shape in shapes_of(name, sizes, geometry).items()}
        layer = formulation(inputs["w"], inputs["b"], *geometry)
        out = layer.forward(inputs["x"])
        dout = rng.standard_normal(out.shape)
        gradients = {"x": layer.backward(dout), "w": layer.dw, "b": layer.db}
        expected_out, expected = with_gradients(torch, torch_layer(name, *geometry), inputs, dout)
        np.testing.assert_allclose(out, expected_out, rtol=1e-12, atol=1e-12, err_msg=f"{geometry} {sizes}")
        for key, gradient in gradients.items():
            np.testing.assert_allclose(gradient, expected[key], rtol=1e-12, atol=1e-12,
                                       err_msg=f"d{key} at {geometry} {sizes}")


@pytest.mark.slow
@pytest.mark.parametrize("formulation", CATALOGUE["global_avg_pool"].formulations)
def test_each_global_average_pooling_agrees_with_pytorch(formulation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for shape in [(1, 1, 1, 1), (2, 3, 4, 5), (3, 2, 1, 6)]:
        x = rng.standard_normal(shape)
        layer = formulation()
        out = layer.forward(x)
        dout = rng.standard_normal(out.shape)
        expected_out, expected = with_gradients(
            torch, lambda x: torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1), {"x": x}, dout)
        np.testing.assert_allclose(out, expected_out, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(layer.backward(dout), expected["x"], rtol=1e-12, atol=1e-14)


# out's shape as each kind's summary says, at N = C = F = 1
OUT_SHAPES = {"global_avg_pool": lambda sizes: (1, 1),
              "conv_transpose": lambda sizes: (1, 1, (sizes["H"] - 1) * 2 + sizes["KH"],
                                               (sizes["W"] - 1) * 2 + sizes["KW"]),
              "conv_dilated": lambda sizes: (1, 1, sizes["H"] - 2 * (sizes["KH"] - 1),
                                             sizes["W"] - 2 * (sizes["KW"] - 1)),
              "conv_grouped": lambda sizes: (1, 2, sizes["H"] - sizes["KH"] + 1, sizes["W"] - sizes["KW"] + 1)}


@pytest.mark.parametrize("name", KINDS)
def test_every_configuration_the_kind_draws_is_valid(name):
    """Every combination of the kind's H, W, KH, KW over their ranges (N, C, F at 1): each formulation runs, through
    the adapter the checks use, and its out has the shape the summary says, at least 1 along every axis."""
    kind = CATALOGUE[name]
    bounds = kinds.symbols(kind)
    geometry = [symbol for symbol in bounds if symbol in ("H", "W", "KH", "KW")]
    signature = generic.Signature.parse(kind.form.shapes, kind.dims)
    for values in itertools.product(*(range(bounds[symbol][0], bounds[symbol][1] + 1) for symbol in geometry)):
        sizes = dict(dict.fromkeys(bounds, 1), **dict(zip(geometry, values)))
        inputs = [np.ones(signature.shape(key, sizes)) for key in kind.form.shapes]
        assert min(OUT_SHAPES[name](sizes)) >= 1, sizes
        for formulation in kind.formulations:
            out, _ = as_pair(formulation, kind.form).forward(*inputs)
            assert out.shape == OUT_SHAPES[name](sizes), (formulation, sizes)


# ---- a student's layers: cs231n's functions, and classes as "Deep Learning from Scratch" writes its layers ----
# They compute the kinds' geometry: stride 1 (2 for the transposed convolution) and pad 0, which they do not read.

def global_avg_pool_forward(x):
    return x.mean(axis=(2, 3)), x.shape


def global_avg_pool_backward(dout, cache):
    n, c, h, w = cache
    return np.repeat(np.repeat(dout[:, :, None, None], h, axis=2), w, axis=3) / (h * w)


class GlobalAvgPool:
    def forward(self, x):
        out, self.cache = global_avg_pool_forward(x)
        return out

    def backward(self, dout):
        return global_avg_pool_backward(dout, self.cache)


class GlobalAvgPoolUndivided(GlobalAvgPool):
    def backward(self, dout):
        return np.ones(self.cache) * dout[:, :, None, None]


class GlobalSumPool(GlobalAvgPoolUndivided):
    """Pools by the sum, and its backward is the right one of that sum."""

    def forward(self, x):
        return super().forward(x) * x.shape[2] * x.shape[3]


def taps(w):
    """Each tap (s, t) of a kernel (A, B, KH, KW)."""
    return np.ndindex(w.shape[2:])


def conv_transpose_forward(x, w, b, conv_param):
    """Tap by tap: tap (s, t) adds x times w[:, :, s, t] at rows s, s + stride, ..., columns t, t + stride, ..."""
    stride, (h, wide), (f, kh, kw) = conv_param["stride"], x.shape[2:], w.shape[1:]
    out = np.zeros((len(x), f, (h - 1) * stride + kh, (wide - 1) * stride + kw)) + b[:, None, None]
    for s, t in taps(w):
        out[:, :, s::stride, t::stride][:, :, :h, :wide] += np.einsum("nchw,cf->nfhw", x, w[:, :, s, t])
    return out, (x, w, stride)


def conv_transpose_backward(dout, cache):
    x, w, stride = cache
    h, wide = x.shape[2:]
    dx, dw = np.zeros(x.shape), np.zeros(w.shape)
    for s, t in taps(w):
        read = dout[:, :, s::stride, t::stride][:, :, :h, :wide]
        dx += np.einsum("nfhw,cf->nchw", read, w[:, :, s, t])
        dw[:, :, s, t] = np.einsum("nchw,nfhw->cf", x, read)
    return dx, dw, dout.sum(axis=(0, 2, 3))


def conv_transpose_forward_unflipped(x, w, b, conv_param):
    """x spread out and padded, then w slid over it unflipped as a convolution does: which is the transposed
    convolution with the kernel rotated by 180 degrees; backward is the right one of that forward."""
    return conv_transpose_forward(x, w[:, :, ::-1, ::-1], b, conv_param)


def conv_transpose_backward_unflipped(dout, cache):
    dx, dw, db = conv_transpose_backward(dout, cache)
    return dx, dw[:, :, ::-1, ::-1], db


class ConvTranspose:
    def __init__(self, W, b, stride, pad):
        self.W, self.b, self.conv_param = W, b, {"stride": stride, "pad": pad}

    def forward(self, x):
        out, self.cache = conv_transpose_forward(x, self.W, self.b, self.conv_param)
        return out

    def backward(self, dout):
        dx, self.dW, self.db = conv_transpose_backward(dout, self.cache)
        return dx


class ConvTransposeDwAsConv(ConvTranspose):
    """dW laid out as conv's, (F, C, KH, KW): its first two axes swapped."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = self.dW.transpose(1, 0, 2, 3)
        return dx


def dilated_conv_forward(x, w, b, conv_param):
    """Tap by tap: tap (s, t) reads x shifted by dilation * (s, t)."""
    dilation, (h, wide), (kh, kw) = conv_param["dilation"], x.shape[2:], w.shape[2:]
    out_h, out_w = h - dilation * (kh - 1), wide - dilation * (kw - 1)
    out = np.zeros((len(x), len(w), out_h, out_w)) + b[:, None, None]
    for s, t in taps(w):
        read = x[:, :, s * dilation:s * dilation + out_h, t * dilation:t * dilation + out_w]
        out += np.einsum("nchw,fc->nfhw", read, w[:, :, s, t])
    return out, (x, w, dilation)


def dilated_conv_backward(dout, cache):
    x, w, dilation = cache
    out_h, out_w = dout.shape[2:]
    dx, dw = np.zeros(x.shape), np.zeros(w.shape)
    for s, t in taps(w):
        rows, cols = slice(s * dilation, s * dilation + out_h), slice(t * dilation, t * dilation + out_w)
        dx[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, s, t])
        dw[:, :, s, t] = np.einsum("nfhw,nchw->fc", dout, x[:, :, rows, cols])
    return dx, dw, dout.sum(axis=(0, 2, 3))


def dilated_conv_forward_undilated_backward(x, w, b, conv_param):
    return dilated_conv_forward(x, w, b, conv_param)


def dilated_conv_backward_undilated_backward(dout, cache):
    """The backward of a plain convolution, its windows' taps 1 apart."""
    x, w, _ = cache
    return dilated_conv_backward(dout, (x, w, 1))


class DilatedConvolution:
    def __init__(self, W, b, stride, pad, dilation):
        self.W, self.b, self.conv_param = W, b, {"stride": stride, "pad": pad, "dilation": dilation}

    def forward(self, x):
        out, self.cache = dilated_conv_forward(x, self.W, self.b, self.conv_param)
        return out

    def backward(self, dout):
        dx, self.dW, self.db = dilated_conv_backward(dout, self.cache)
        return dx


def grouped_conv_forward(x, w, b, conv_param):
    """One plain convolution (dilation 1) a group, of its channels with its filters."""
    groups = conv_param["groups"]
    outs, caches = zip(*(dilated_conv_forward(x_g, w_g, b_g, {"dilation": 1}) for x_g, w_g, b_g in
                         zip(np.split(x, groups, axis=1), np.split(w, groups), np.split(b, groups))))
    return np.concatenate(outs, axis=1), caches


def grouped_conv_backward(dout, cache):
    gradients = [dilated_conv_backward(dout_g, cache_g)
                 for dout_g, cache_g in zip(np.split(dout, len(cache), axis=1), cache)]
    dxs, dws, dbs = zip(*gradients)
    return np.concatenate(dxs, axis=1), np.concatenate(dws), np.concatenate(dbs)


def grouped_conv_forward_mixed(x, w, b, conv_param):
    return grouped_conv_forward(x, w, b, conv_param)


def grouped_conv_backward_mixed(dout, cache):
    """Each group's channels backpropagated through every filter and the whole dout; dw summed over the groups."""
    x, w = np.concatenate([x_g for x_g, _, _ in cache], axis=1), np.concatenate([w_g for _, w_g, _ in cache])
    dxs, dw = [], np.zeros(w.shape)
    for x_g in np.split(x, len(cache), axis=1):
        dx_g, dw_g, db = dilated_conv_backward(dout, (x_g, w, 1))
        dxs.append(dx_g)
        dw += dw_g
    return np.concatenate(dxs, axis=1), dw, db


class GroupedConvolution:
    def __init__(self, W, b, stride, pad, groups):
        self.W, self.b, self.conv_param = W, b, {"stride": stride, "pad": pad, "groups": groups}

    def forward(self, x):
        out, self.cache = grouped_conv_forward(x, self.W, self.b, self.conv_param)
        return out

    def backward(self, dout):
        dx, self.dW, self.db = grouped_conv_backward(dout, self.cache)
        return dx


# ---- right layers pass, on every seed ----

RIGHT = [("global_avg_pool", GlobalAvgPool), ("global_avg_pool", global_avg_pool_forward),
         ("conv_transpose", ConvTranspose), ("conv_transpose", conv_transpose_forward),
         ("conv_dilated", DilatedConvolution), ("conv_dilated", dilated_conv_forward),
         ("conv_grouped", GroupedConvolution), ("conv_grouped", grouped_conv_forward)]
FAST_RIGHT = (conv_transpose_forward,)


@pytest.mark.parametrize("kind,layer,seed", on_every_seed(RIGHT, FAST_RIGHT, key=lambda case: case[1]))
def test_right_layers_pass_as_classes_and_as_functions(kind, layer, seed):
    assert kinds.check_kind(CATALOGUE[kind], layer, seed=seed).passed


# ---- wrong layers fail the checks they get wrong, alone, with the hint of their mistake ----

def hint(kind, index):
    mistake = CATALOGUE[kind].mistakes[index]
    return mistake.check, mistake.hint


# layer -> (kind, the layer, the checks that fail, the hints named: (check, hint))
WRONG = {
    "GlobalAvgPoolUndivided": ("global_avg_pool", GlobalAvgPoolUndivided, ["dx"], [hint("global_avg_pool", 1)]),
    "GlobalSumPool": ("global_avg_pool", GlobalSumPool, ["forward", "dx"],
                      [hint("global_avg_pool", 0), hint("global_avg_pool", 1)]),
    "conv transpose unflipped": ("conv_transpose", conv_transpose_forward_unflipped, ["forward", "dx", "dw"],
                                 [hint("conv_transpose", 0), hint("conv_transpose", 1), hint("conv_transpose", 2)]),
    "ConvTransposeDwAsConv": ("conv_transpose", ConvTransposeDwAsConv, ["dw"], [hint("conv_transpose", 3)]),
    "dilated conv, undilated backward": ("conv_dilated", dilated_conv_forward_undilated_backward, ["dx", "dw"],
                                         [hint("conv_dilated", 0), hint("conv_dilated", 1)]),
    "grouped conv, groups mixed": ("conv_grouped", grouped_conv_forward_mixed, ["dx", "dw"],
                                   [hint("conv_grouped", 0), hint("conv_grouped", 1)]),
}
FAST_WRONG = ("dilated conv, undilated backward",)


def test_every_mistake_is_made_by_a_wrong_layer():
    named = {named for _, _, _, hints in WRONG.values() for named in hints}
    assert named == {(mistake.check, mistake.hint) for name in KINDS for mistake in CATALOGUE[name].mistakes}


@pytest.mark.parametrize("name,seed", on_every_seed(WRONG, FAST_WRONG))
def test_each_wrong_layer_fails_its_checks_alone_with_its_hint_on_every_seed(name, seed):
    kind, layer, checks, hints = WRONG[name]
    report = kinds.check_kind(CATALOGUE[kind], layer, seed=seed)
    assert failing(report) == checks
    results = {check.name: check for check in report.checks}
    for check, expected in hints:
        assert expected in results[check].hints
