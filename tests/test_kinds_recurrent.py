"""The recurrent and temporal kinds (cs231n's assignment 3): each reference formulation agrees with PyTorch
(with finite differences and the other: tests/test_kinds.py); a student's right layers pass, as cs231n
functions and (temporal affine) as a class; each wrong layer fails its checks alone, with its hint, on every
seed."""
import inspect

import numpy as np
import pytest

from gradcheck import generic, kinds
from gradcheck.forms import as_pair
from gradcheck.grading.grade import grade
from gradcheck.grading.sandbox import sandbox_problem
from gradcheck.kinds.lstm import NOT_CARRIED, class_order_hint
from gradcheck.kinds.lstm_step import WITHOUT_DNEXT_C
from gradcheck.kinds.rnn import NOT_ACCUMULATED
from kind_checks import assert_agrees_with_torch, failing, on_every_seed

CATALOGUE = kinds.catalogue()
RECURRENT = ("temporal_affine", "rnn_step", "rnn", "lstm")  # lstm_step, of two outputs: its own test below


# ---- PyTorch's autograd on the layers built by hand from its ops (cs231n's gate order) ----

def torch_rnn_step(torch, x, prev_h, Wx, Wh, b):
    return torch.tanh(x @ Wx + prev_h @ Wh + b)


def torch_rnn(torch, x, h0, Wx, Wh, b):
    h = [h0]
    for t in range(x.shape[1]):
        h.append(torch_rnn_step(torch, x[:, t], h[-1], Wx, Wh, b))
    return torch.stack(h[1:], dim=1)


def torch_lstm(torch, x, h0, Wx, Wh, b):
    h, c = [h0], torch.zeros_like(h0)
    for t in range(x.shape[1]):
        i, f, o, g = (x[:, t] @ Wx + h[-1] @ Wh + b).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h.append(torch.sigmoid(o) * torch.tanh(c))
    return torch.stack(h[1:], dim=1)


TORCH = {"temporal_affine": lambda torch, x, W, b: torch.nn.functional.linear(x, W.T, b),
         "rnn_step": torch_rnn_step, "rnn": torch_rnn, "lstm": torch_lstm}
SIZES = [{"N": 1, "T": 1, "D": 1, "H": 1, "M": 1}, {"N": 2, "T": 3, "D": 4, "H": 5, "M": 3},
         {"N": 3, "T": 7, "D": 2, "H": 3, "M": 4}]
FORMULATIONS = [pytest.param(CATALOGUE[name], formulation, id=f"{name}-{formulation.__name__}")
                for name in RECURRENT for formulation in CATALOGUE[name].formulations]


@pytest.mark.slow
@pytest.mark.parametrize("kind,formulation", FORMULATIONS)
def test_each_formulation_agrees_with_pytorch(kind, formulation):
    assert_agrees_with_torch(kind, formulation, TORCH[kind.name], SIZES)


# ---- a student's layers, written as cs231n's assignment 3 asks ----

def temporal_affine_forward(x, w, b):
    return np.dot(x, w) + b, (x, w)


def temporal_affine_backward(dout, cache):
    x, w = cache
    return np.dot(dout, w.T), np.tensordot(x, dout, axes=([0, 1], [0, 1])), dout.sum(axis=(0, 1))


class TimeAffine:
    """The temporal affine layer as a class, its gradients kept in dW and db."""

    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        N, T, M = dout.shape
        self.dW = self.x.reshape(N * T, -1).T @ dout.reshape(N * T, M)
        self.db = dout.sum(axis=(0, 1))
        return dout @ self.W.T


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(prev_h.dot(Wh) + x.dot(Wx) + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dtanh = (1 - next_h * next_h) * dnext_h
    return dtanh.dot(Wx.T), dtanh.dot(Wh.T), x.T.dot(dtanh), prev_h.T.dot(dtanh), np.sum(dtanh, axis=0)


class RNN:
    """One RNN step as "Deep Learning from Scratch 2" writes it: forward(x, h_prev), backward(dh_next) -> (dx,
    dh_prev), the weights' gradients written into grads beside params."""

    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]

    def forward(self, x, h_prev):
        Wx, Wh, b = self.params
        self.cache = (x, h_prev, np.tanh(h_prev @ Wh + x @ Wx + b))
        return self.cache[2]

    def backward(self, dh_next):
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        dt = dh_next * (1 - h_next ** 2)
        for grad, value in zip(self.grads, (x.T @ dt, h_prev.T @ dt, dt.sum(axis=0))):
            grad[...] = value
        return dt @ Wx.T, dt @ Wh.T


class RNNReturnsDxAlone(RNN):
    def backward(self, dh_next):
        return super().backward(dh_next)[0]


def rnn_forward(x, h0, Wx, Wh, b):
    h, cache = [h0], []
    for t in range(x.shape[1]):
        next_h, step = rnn_step_forward(x[:, t, :], h[-1], Wx, Wh, b)
        h.append(next_h)
        cache.append(step)
    return np.stack(h[1:], axis=1), cache


def rnn_backward(dh, cache, through_time=True):
    """``through_time`` False: each step's backward gets dh[:, t] alone, the named mistake."""
    dx, dWx, dWh, db = np.zeros(dh.shape[:2] + cache[0][0].shape[1:]), 0, 0, 0
    dprev_h = np.zeros_like(dh[:, 0])
    for t in range(dh.shape[1] - 1, -1, -1):
        dnext_h = dh[:, t] + dprev_h if through_time else dh[:, t]
        dx[:, t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dnext_h, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db


def rnn_backward_each_step_alone(dh, cache):
    return rnn_backward(dh, cache, through_time=False)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm_functions(order="ifog", carry_cell=True):
    """A student's (lstm_forward, lstm_backward): the gates of a read in ``order`` (cs231n's i, f, o, g), the cell
    state's gradient carried back through time or (``carry_cell`` False) not."""
    def gates(a):
        return dict(zip(order, np.split(a, 4, axis=1)))

    def lstm_forward(x, h0, Wx, Wh, b):
        h, c, cache = [h0], np.zeros_like(h0), []
        for t in range(x.shape[1]):
            a = gates(x[:, t] @ Wx + h[-1] @ Wh + b)
            i, f, o, g = sigmoid(a["i"]), sigmoid(a["f"]), sigmoid(a["o"]), np.tanh(a["g"])
            cache.append((x[:, t], h[-1], c, i, f, o, g))
            c = f * c + i * g
            h.append(o * np.tanh(c))
        return np.stack(h[1:], axis=1), (cache, Wx, Wh)

    def lstm_backward(dh, cache):
        steps, Wx, Wh = cache
        dx, dWx, dWh, db = np.zeros(dh.shape[:2] + (Wx.shape[0],)), 0, 0, 0
        dprev_h, dprev_c = np.zeros_like(dh[:, 0]), np.zeros_like(dh[:, 0])
        for t in reversed(range(dh.shape[1])):
            x, prev_h, prev_c, i, f, o, g = steps[t]
            tanh_c = np.tanh(f * prev_c + i * g)
            dnext_h = dh[:, t] + dprev_h
            dc = dnext_h * o * (1 - tanh_c ** 2) + (dprev_c if carry_cell else 0)
            da = {"i": dc * g * i * (1 - i), "f": dc * prev_c * f * (1 - f), "o": dnext_h * tanh_c * o * (1 - o),
                  "g": dc * i * (1 - g ** 2)}
            da = np.concatenate([da[gate] for gate in order], axis=1)
            dx[:, t], dprev_h, dprev_c = da @ Wx.T, da @ Wh.T, dc * f
            dWx, dWh, db = dWx + x.T @ da, dWh + prev_h.T @ da, db + da.sum(axis=0)
        return dx, dprev_h, dWx, dWh, db
    return lstm_forward, lstm_backward


def lstm_step_functions(order="ifog", with_dnext_c=True):
    """A student's (lstm_step_forward, lstm_step_backward): the gates of a read in ``order``, the cell's gradient
    with dnext_c or (``with_dnext_c`` False) without."""
    def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
        a = dict(zip(order, np.split(x @ Wx + prev_h @ Wh + b, 4, axis=1)))
        i, f, o, g = sigmoid(a["i"]), sigmoid(a["f"]), sigmoid(a["o"]), np.tanh(a["g"])
        next_c = f * prev_c + i * g
        next_h = o * np.tanh(next_c)
        return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)

    def lstm_step_backward(dnext_h, dnext_c, cache):
        x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
        tanh_c = np.tanh(next_c)
        dc = dnext_h * o * (1 - tanh_c ** 2) + (dnext_c if with_dnext_c else 0)
        da = {"i": dc * g * i * (1 - i), "f": dc * prev_c * f * (1 - f), "o": dnext_h * tanh_c * o * (1 - o),
              "g": dc * i * (1 - g ** 2)}
        da = np.concatenate([da[gate] for gate in order], axis=1)
        return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)
    return lstm_step_forward, lstm_step_backward


class LSTM:
    """One LSTM step as "Deep Learning from Scratch 2" writes it: the gates of a in the order f, g, i, o,
    forward(x, h_prev, c_prev) -> (h_next, c_next), backward(dh_next, dc_next) -> (dx, dh_prev, dc_prev), the
    weights' gradients written into grads beside params; ``order`` and ``with_dc_next`` make it wrong."""

    order, with_dc_next = "fgio", True

    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]

    def forward(self, x, h_prev, c_prev):
        Wx, Wh, b = self.params
        a = dict(zip(self.order, np.split(x @ Wx + h_prev @ Wh + b, 4, axis=1)))
        f, g, i, o = sigmoid(a["f"]), np.tanh(a["g"]), sigmoid(a["i"]), sigmoid(a["o"])
        c_next = f * c_prev + g * i
        self.cache = (x, h_prev, c_prev, f, g, i, o, np.tanh(c_next))
        return o * self.cache[-1], c_next

    def backward(self, dh_next, dc_next):
        Wx, Wh, _ = self.params
        x, h_prev, c_prev, f, g, i, o, tanh_c = self.cache
        ds = dh_next * o * (1 - tanh_c ** 2) + (dc_next if self.with_dc_next else 0)
        da = {"f": ds * c_prev * f * (1 - f), "g": ds * i * (1 - g ** 2), "i": ds * g * i * (1 - i),
              "o": dh_next * tanh_c * o * (1 - o)}
        da = np.hstack([da[gate] for gate in self.order])
        for grad, value in zip(self.grads, (x.T @ da, h_prev.T @ da, da.sum(axis=0))):
            grad[...] = value
        return da @ Wx.T, da @ Wh.T, ds * f


class LSTMInCs231nOrder(LSTM):
    order = "ifog"


class LSTMWithoutDcNext(LSTM):
    with_dc_next = False


class LSTMReturningHAlone(LSTM):
    def forward(self, x, h_prev, c_prev):
        return super().forward(x, h_prev, c_prev)[0]


class TimeRNN:
    """The DLFS 2 book's RNN over a sequence, made of its RNN steps: its first h kept as state (set_state), dh0 kept
    in dh after backward, its outputs in float32 buffers as the book fills them; ``carry`` False makes it wrong
    (each step's backward given dhs[:, t] alone)."""

    carry = True

    def __init__(self, Wx, Wh, b, stateful=False):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.stateful, self.h, self.dh = stateful, None, None

    def set_state(self, h):
        self.h = h

    def forward(self, xs):
        N, T, _ = xs.shape
        H = self.params[1].shape[0]
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H))
        self.layers, hs = [], np.empty((N, T, H), dtype="f")
        for t in range(T):
            self.layers.append(RNN(*self.params))
            self.h = hs[:, t] = self.layers[-1].forward(xs[:, t], self.h)
        return hs

    def backward(self, dhs):
        dxs, dh, grads = np.empty(dhs.shape[:2] + self.params[0].shape[:1], dtype="f"), 0, [0, 0, 0]
        for t in reversed(range(dhs.shape[1])):
            dxs[:, t], dh = self.layers[t].backward(dhs[:, t] + (dh if self.carry else 0))
            grads = [total + grad for total, grad in zip(grads, self.layers[t].grads)]
        for kept, grad in zip(self.grads, grads):
            kept[...] = grad
        self.dh = dh
        return dxs


class TimeRNNEachStepAlone(TimeRNN):
    carry = False


class TimeLSTM:
    """The DLFS 2 book's LSTM over a sequence, made of its LSTM steps (gates f, g, i, o): h0 by set_state, c0 = 0,
    dh0 kept in dh; ``carry_cell`` False makes it wrong (dc not carried back through time)."""

    carry_cell, step = True, LSTM

    def __init__(self, Wx, Wh, b, stateful=False):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.stateful, self.h, self.c, self.dh = stateful, None, None, None

    def set_state(self, h, c=None):
        self.h, self.c = h, c

    def forward(self, xs):
        N, T, _ = xs.shape
        H = self.params[1].shape[0]
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H))
        if not self.stateful or self.c is None:
            self.c = np.zeros((N, H))
        self.layers, hs = [], np.empty((N, T, H), dtype="f")
        for t in range(T):
            self.layers.append(self.step(*self.params))
            self.h, self.c = self.layers[-1].forward(xs[:, t], self.h, self.c)
            hs[:, t] = self.h
        return hs

    def backward(self, dhs):
        dxs, dh, dc, grads = np.empty(dhs.shape[:2] + self.params[0].shape[:1], dtype="f"), 0, 0, [0, 0, 0]
        for t in reversed(range(dhs.shape[1])):
            dxs[:, t], dh, dc = self.layers[t].backward(dhs[:, t] + dh, dc if self.carry_cell else 0)
            grads = [total + grad for total, grad in zip(grads, self.layers[t].grads)]
        for kept, grad in zip(self.grads, grads):
            kept[...] = grad
        self.dh = dh
        return dxs


class TimeLSTMCellNotCarried(TimeLSTM):
    carry_cell = False


class TimeLSTMInCs231nOrder(TimeLSTM):
    step = LSTMInCs231nOrder


@pytest.mark.slow
@pytest.mark.parametrize("formulation", CATALOGUE["lstm_step"].formulations, ids=lambda f: f.__name__)
def test_each_lstm_step_agrees_with_pytorch(formulation):
    """Its two outputs, next_h and next_c, each against PyTorch's, and every gradient given a dout for each."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    signature = generic.Signature.parse(CATALOGUE["lstm_step"].form.shapes)
    for sizes in SIZES:
        inputs = {name: rng.standard_normal(signature.shape(name, sizes)) for name in signature.shapes}
        tensors = {name: torch.tensor(value, requires_grad=True) for name, value in inputs.items()}
        i, f, o, g = (tensors["x"] @ tensors["Wx"] + tensors["prev_h"] @ tensors["Wh"] + tensors["b"]).chunk(4, 1)
        next_c = torch.sigmoid(f) * tensors["prev_c"] + torch.sigmoid(i) * torch.tanh(g)
        next_h = torch.sigmoid(o) * torch.tanh(next_c)
        dnext_h, dnext_c = rng.standard_normal(tuple(next_h.shape)), rng.standard_normal(tuple(next_c.shape))
        torch.autograd.backward([next_h, next_c], [torch.tensor(dnext_h), torch.tensor(dnext_c)])
        ours_h, ours_c, cache = formulation(*inputs.values())
        np.testing.assert_allclose(ours_h, next_h.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ours_c, next_c.detach().numpy(), rtol=1e-12, atol=1e-14)
        backward = as_pair(formulation, CATALOGUE["lstm_step"].form).backward
        for name, gradient in zip(inputs, backward(dnext_h, dnext_c, cache)):
            np.testing.assert_allclose(gradient, tensors[name].grad.numpy(), rtol=1e-12, atol=1e-14, err_msg=name)


# kind -> the layer (a class, or a forward function and its backward), each right
RIGHT = {
    "TimeAffine": ("temporal_affine", TimeAffine, None),
    "temporal_affine_forward": ("temporal_affine", temporal_affine_forward, None),
    "rnn_step_forward": ("rnn_step", rnn_step_forward, None),
    "RNN": ("rnn_step", RNN, None),
    "rnn_forward": ("rnn", rnn_forward, None),
    "lstm_forward": ("lstm", *lstm_functions()),
    "lstm_step_forward": ("lstm_step", *lstm_step_functions()),
    "LSTM": ("lstm_step", LSTM, None),
    "TimeRNN": ("rnn", TimeRNN, None),
    "TimeLSTM": ("lstm", TimeLSTM, None),
}


@pytest.mark.parametrize("name,seed", on_every_seed(RIGHT, ("lstm_forward", "RNN", "LSTM", "TimeLSTM")))
def test_right_layers_pass_as_functions_and_as_a_class_on_every_seed(name, seed):
    kind, layer, backward = RIGHT[name]
    assert kinds.check_kind(CATALOGUE[kind], layer, backward=backward, seed=seed).passed


GRADIENTS = ["dx", "dh0", "dWx", "dWh", "db"]
THROUGH_TIME = "fails only when T > 1"
# layer -> (kind, forward, backward, the checks that fail, the hint of its finding, a fact of it or None)
WRONG = {
    "rnn_backward_each_step_alone": ("rnn", rnn_forward, rnn_backward_each_step_alone, GRADIENTS, NOT_ACCUMULATED,
                                     THROUGH_TIME),
    "lstm in PyTorch's gate order": ("lstm", *lstm_functions(order="ifgo"), ["forward", *GRADIENTS],
                                     CATALOGUE["lstm"].mistakes[0].hint, None),
    "lstm in DLFS 2's gate order": ("lstm", *lstm_functions(order="fgio"), ["forward", *GRADIENTS],
                                    CATALOGUE["lstm"].mistakes[1].hint, None),
    "lstm without dc carried": ("lstm", *lstm_functions(carry_cell=False), GRADIENTS, NOT_CARRIED, THROUGH_TIME),
    "lstm_step in PyTorch's gate order": ("lstm_step", *lstm_step_functions(order="ifgo"),
                                          ["forward", "dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"],
                                          CATALOGUE["lstm_step"].mistakes[0].hint, None),
    "lstm_step without dnext_c": ("lstm_step", *lstm_step_functions(with_dnext_c=False),
                                  ["dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"], WITHOUT_DNEXT_C, None),
    "LSTM without dc_next": ("lstm_step", LSTMWithoutDcNext, None, ["dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"],
                             WITHOUT_DNEXT_C, None),
    "TimeRNN each step alone": ("rnn", TimeRNNEachStepAlone, None, GRADIENTS, NOT_ACCUMULATED, THROUGH_TIME),
    "TimeLSTM without dc carried": ("lstm", TimeLSTMCellNotCarried, None, GRADIENTS, NOT_CARRIED, THROUGH_TIME),
    # given its weights in its own order f, g, i, o, the DLFS 2 class that reads them as i, f, o, g is wrong everywhere
    "LSTM in cs231n's gate order": ("lstm_step", LSTMInCs231nOrder, None,
                                    ["forward", "dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"],
                                    class_order_hint("ifog", "cs231n's"), None),
    "TimeLSTM in cs231n's gate order": ("lstm", TimeLSTMInCs231nOrder, None, ["forward", *GRADIENTS],
                                        class_order_hint("ifog", "cs231n's"), None),
}


@pytest.mark.parametrize("name,seed", on_every_seed(WRONG, ("rnn_backward_each_step_alone", "LSTM without dc_next",
                                                    "TimeLSTM without dc carried", "LSTM in cs231n's gate order")))
def test_each_wrong_layer_fails_its_checks_alone_with_its_hint_on_every_seed(name, seed):
    kind, forward, backward, checks, hint, fact = WRONG[name]
    report = kinds.check_kind(CATALOGUE[kind], forward, backward=backward, seed=seed)
    assert failing(report) == checks
    assert hint in report.findings[0].results[0].hints
    assert fact is None or report.findings[0].facts[0].startswith(fact)


def test_a_class_whose_backward_returns_one_of_its_two_input_gradients_fails_both_saying_what_it_must_return():
    report = kinds.check_kind(CATALOGUE["rnn_step"], RNNReturnsDxAlone, seed=0)
    assert failing(report) == ["dx", "dprev_h"]
    assert {check.message for check in report.checks if not check.passed} == {
        "backward must return (dx, dprev_h); it returned ndarray"}


def test_a_class_whose_forward_returns_one_of_its_two_outputs_fails_forward_saying_what_it_must_return():
    report = kinds.check_kind(CATALOGUE["lstm_step"], LSTMReturningHAlone, seed=0)
    assert "forward" in failing(report)
    assert report.checks[0].message == "forward must return its 2 outputs as a tuple; it returned ndarray"


def test_where_a_class_of_other_gates_differs_is_said_in_the_kinds_gate_order():
    note = "dWx, dWh, db: positions are in the gate order i, f, o, g; a class's gradients (its gates f, g, i, o) " \
           "are moved to that order before they are compared"
    assert note in kinds.check_kind(CATALOGUE["lstm_step"], LSTMWithoutDcNext, seed=0).notes
    assert note not in kinds.check_kind(CATALOGUE["lstm_step"], LSTM, seed=0).notes


@pytest.mark.slow
@pytest.mark.skipif(sandbox_problem() is not None, reason=f"no bwrap sandbox here: {sandbox_problem()}")
def test_a_dlfs2_lstm_class_is_graded_in_its_own_gate_order_under_the_sandbox(tmp_path):
    """The class is made in the sandboxed child from the form the grading process sends (its gate order
    included): the right one gets every point, the one without dc_next loses the six gradients, with its hint."""
    header = "import numpy as np\n\n\n" + inspect.getsource(sigmoid) + "\n\n"
    (tmp_path / "right.py").write_text(header + inspect.getsource(LSTM))
    (tmp_path / "wrong.py").write_text(header + inspect.getsource(LSTM).replace(
        'order, with_dc_next = "fgio", True', 'order, with_dc_next = "fgio", False'))
    right, wrong = grade([tmp_path / "right.py", tmp_path / "wrong.py"], "lstm_step", "LSTM", seed=0, examples=5,
                         timeout=10, memory=512, workers=2).submissions
    assert (right.score, right.passed) == (9, True)
    assert (wrong.score, [check.name for check in wrong.checks if not check.passed]) == (
        3, ["dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"])
    assert WITHOUT_DNEXT_C in wrong.report.findings[0].results[0].hints
