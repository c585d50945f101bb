"""Recurrent and temporal layers (cs231n's assignment 3), each in two independent formulations.

N is the batch, T the time steps, D the input features, H the hidden units
and M the outputs; dout (dh for a sequence) is the gradient of the loss with
respect to the layer's output.

Temporal affine, the same affine map at every step; x (N, T, D), W (D, M), b (M,):

    out[:, t] = x[:, t] W + b
    dx[:, t] = dout[:, t] W^T    dW = sum over n, t of x[n, t]^T dout[n, t]    db = sum over n, t of dout[n, t]

RNN step; x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,):

    next_h = tanh(a),   a = x Wx + prev_h Wh + b
    da = dnext_h (1 - next_h^2)
    dx = da Wx^T    dprev_h = da Wh^T    dWx = x^T da    dWh = prev_h^T da    db = sum over the batch of da

RNN over a sequence; x (N, T, D), h0 (N, H), h (N, T, H).  Step t takes
x[:, t] and h_{t-1} = h[:, t - 1] (h0 at t = 0), so h_t reaches the loss
directly and through every later step.  Its whole gradient is dh[:, t] plus
what step t + 1 sends back through its prev_h:

    dh_t = dh[:, t] + da_{t+1} Wh^T  (dh[:, T - 1] alone at the last step)    dh0 = da_0 Wh^T
    dx[:, t] = da_t Wx^T    dWx, dWh and db: every step's, added up

LSTM over a sequence; Wx (D, 4H), Wh (H, 4H), b (4H,), the cell c_{-1} = 0.
At each step a = x[:, t] Wx + h_{t-1} Wh + b holds the gates in cs231n's order:

    i = sigmoid(a[:, :H])    f = sigmoid(a[:, H:2H])    o = sigmoid(a[:, 2H:3H])    g = tanh(a[:, 3H:])
    c_t = f c_{t-1} + i g    h_t = o tanh(c_t)

One step (``lstm_step``) takes prev_h and prev_c and returns next_h and
next_c; its backward takes dnext_h and dnext_c, and the cell's gradient
adds both roads from next_c to the loss, dc = dnext_c + dnext_h o
(1 - tanh(next_c)^2), then dprev_c = dc f.  Over a sequence, with dh_t the
whole gradient of h_t, as for the RNN, the whole gradient of c_t adds what
step t + 1 sends back through its prev_c:

    dc_t = dh_t o (1 - tanh(c_t)^2) + f_{t+1} dc_{t+1}
    da_t = [dc_t g i (1 - i),  dc_t c_{t-1} f (1 - f),  dh_t tanh(c_t) o (1 - o),  dc_t i (1 - g^2)]

and from da_t the products of the RNN: dx[:, t] = da_t Wx^T, h_{t-1} gets
da_t Wh^T, and dWx, dWh, db add up x^T da_t, h_{t-1}^T da_t and da_t.

The first formulation of each is cs231n's: matrix products over the batch,
a sequence as a loop over the step's forward and backward functions, which
add the parameters' gradients up step by step (the temporal affine layer
reshapes the sequence into N T rows).  The second takes another road:
``TemporalAffineEinsum`` contracts the named axes with einsum, no reshape;
``rnn_step_loops`` writes every sum element by element; ``rnn_einsum`` and
``lstm_einsum`` compute every step's input term x Wx + b at once, loop over
time for the recurrence alone, keep every step's da in one (N, T, ...)
array and get dx, dWx, dWh and db from it at the end, contracted over the
whole sequence.  ``lstm_einsum`` and ``lstm_step_gates`` (the LSTM step, whose forward
returns next_h, next_c and the cache, and whose backward takes dnext_h and
dnext_c) read the gates off an (N, 4, H) view of a instead of slices, and
write the sigmoid with tanh.
"""
import numpy as np


# ---- cs231n's formulation: matrix products, a sequence as a loop of steps ----

def temporal_affine_forward(x, w, b):
    N, T, D = x.shape
    out = x.reshape(N * T, D) @ w + b
    return out.reshape(N, T, -1), (x, w)


def temporal_affine_backward(dout, cache):
    x, w = cache
    N, T, D = x.shape
    dout_rows = dout.reshape(N * T, -1)
    dx = (dout_rows @ w.T).reshape(N, T, D)
    dw = x.reshape(N * T, D).T @ dout_rows
    return dx, dw, dout_rows.sum(axis=0)


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h, caches, h_t = np.zeros((N, T, h0.shape[1])), [], h0
    for t in range(T):
        h_t, cache = rnn_step_forward(x[:, t], h_t, Wx, Wh, b)
        h[:, t] = h_t
        caches.append(cache)
    return h, caches


def rnn_backward(dh, caches):
    dx, dWx, dWh, db = [], 0.0, 0.0, 0.0
    dprev_h = np.zeros_like(dh[:, 0])  # what step t + 1 sends back to h_t: nothing at the last step
    for t in reversed(range(dh.shape[1])):
        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, caches[t])
        dx.append(dx_t)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dx[::-1], axis=1), dprev_h, dWx, dWh, db


def sigmoid(a):
    """1 / (1 + exp(-a)), with exp of -|a| alone (no overflow)."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    return o * tanh_c, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    da = np.hstack([dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dnext_h * tanh_c * o * (1 - o),
                    dc * i * (1 - g ** 2)])
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h, caches, h_t, c_t = np.zeros((N, T, h0.shape[1])), [], h0, np.zeros_like(h0)
    for t in range(T):
        h_t, c_t, cache = lstm_step_forward(x[:, t], h_t, c_t, Wx, Wh, b)
        h[:, t] = h_t
        caches.append(cache)
    return h, caches


def lstm_backward(dh, caches):
    dx, dWx, dWh, db = [], 0.0, 0.0, 0.0
    dprev_h, dprev_c = np.zeros_like(dh[:, 0]), np.zeros_like(dh[:, 0])  # what step t + 1 sends back
    for t in reversed(range(dh.shape[1])):
        dx_t, dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, caches[t])
        dx.append(dx_t)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dx[::-1], axis=1), dprev_h, dWx, dWh, db


# ---- the second formulation: einsum over the named axes, element-wise loops, whole-sequence contractions ----

class TemporalAffineEinsum:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return np.einsum("ntd,dm->ntm", x, self.W) + self.b

    def backward(self, dout):
        self.dW = np.einsum("ntd,ntm->dm", self.x, dout)
        self.db = np.einsum("ntm->m", dout)
        return np.einsum("ntm,dm->ntd", dout, self.W)


def rnn_step_loops_forward(x, prev_h, Wx, Wh, b):
    (N, D), H = x.shape, b.shape[0]
    next_h = np.zeros((N, H))
    for n in range(N):
        for k in range(H):
            a = sum(x[n, d] * Wx[d, k] for d in range(D)) + sum(prev_h[n, j] * Wh[j, k] for j in range(H)) + b[k]
            next_h[n, k] = np.tanh(a)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_loops_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    (N, D), H = x.shape, next_h.shape[1]
    da = [[dnext_h[n, k] * (1 - next_h[n, k] ** 2) for k in range(H)] for n in range(N)]
    dx = [[sum(da[n][k] * Wx[d, k] for k in range(H)) for d in range(D)] for n in range(N)]
    dprev_h = [[sum(da[n][k] * Wh[j, k] for k in range(H)) for j in range(H)] for n in range(N)]
    dWx = [[sum(x[n, d] * da[n][k] for n in range(N)) for k in range(H)] for d in range(D)]
    dWh = [[sum(prev_h[n, j] * da[n][k] for n in range(N)) for k in range(H)] for j in range(H)]
    db = [sum(da[n][k] for n in range(N)) for k in range(H)]
    return tuple(np.array(gradient, dtype=np.float64) for gradient in (dx, dprev_h, dWx, dWh, db))


def _taken_by_each_step(first, sequence):
    """The value each step takes from the step before it: ``first`` at step 0, then sequence[:, t - 1]."""
    return np.concatenate([first[:, None], sequence[:, :-1]], axis=1)


def _contracted_over_the_sequence(da, x, previous_h, Wx):
    """dx, dWx, dWh and db from every step's da (N, T, K): one contraction over the batch and the steps each."""
    return (np.einsum("ntk,dk->ntd", da, Wx), np.einsum("ntd,ntk->dk", x, da),
            np.einsum("ntj,ntk->jk", previous_h, da), np.einsum("ntk->k", da))


def rnn_einsum_forward(x, h0, Wx, Wh, b):
    from_x = np.einsum("ntd,dk->ntk", x, Wx) + b  # every step's x Wx + b at once
    h, h_t = np.zeros(from_x.shape), h0
    for t in range(x.shape[1]):
        h_t = h[:, t] = np.tanh(from_x[:, t] + np.einsum("nj,jk->nk", h_t, Wh))
    return h, (x, h0, Wx, Wh, h)


def rnn_einsum_backward(dh, cache):
    x, h0, Wx, Wh, h = cache
    da = np.zeros(h.shape)
    from_next = np.zeros_like(h0)  # what step t + 1 sends back to h_t
    for t in reversed(range(h.shape[1])):
        da[:, t] = (dh[:, t] + from_next) * (1 - h[:, t] ** 2)
        from_next = np.einsum("nk,jk->nj", da[:, t], Wh)
    dx, dWx, dWh, db = _contracted_over_the_sequence(da, x, _taken_by_each_step(h0, h), Wx)
    return dx, from_next, dWx, dWh, db


def _gates(a):
    """i, f, o, g from a of shape (N, 4, H): the sigmoid, written (1 + tanh(a / 2)) / 2, on the first three."""
    gates = np.zeros(a.shape)
    gates[:, :3] = (1 + np.tanh(a[:, :3] / 2)) / 2
    gates[:, 3] = np.tanh(a[:, 3])
    return gates


def lstm_step_gates_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = np.einsum("nd,dgk->ngk", x, Wx.reshape(-1, 4, H)) + np.einsum("nj,jgk->ngk", prev_h, Wh.reshape(H, 4, H))
    gates = _gates(a + b.reshape(4, H))
    i, f, o, g = np.moveaxis(gates, 1, 0)
    next_c = f * prev_c + i * g
    return o * np.tanh(next_c), next_c, (x, prev_h, prev_c, Wx, Wh, gates, next_c)


def lstm_step_gates_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, gates, next_c = cache
    H = prev_h.shape[1]
    i, f, o, g = np.moveaxis(gates, 1, 0)
    tanh_c = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    dgates = np.stack([dc * g, dc * prev_c, dnext_h * tanh_c, dc * i], axis=1)
    slopes = np.concatenate([gates[:, :3] * (1 - gates[:, :3]), 1 - gates[:, 3:] ** 2], axis=1)
    da = dgates * slopes  # (N, 4, H)
    return (np.einsum("ngk,dgk->nd", da, Wx.reshape(-1, 4, H)), np.einsum("ngk,jgk->nj", da, Wh.reshape(H, 4, H)),
            dc * f, np.einsum("nd,ngk->dgk", x, da).reshape(-1, 4 * H),
            np.einsum("nj,ngk->jgk", prev_h, da).reshape(H, 4 * H), da.sum(axis=0).reshape(4 * H))


def lstm_einsum_forward(x, h0, Wx, Wh, b):
    (N, T, _), H = x.shape, h0.shape[1]
    from_x = (np.einsum("ntd,dk->ntk", x, Wx) + b).reshape(N, T, 4, H)  # every step's x Wx + b at once
    gates, c, h = np.zeros((N, T, 4, H)), np.zeros((N, T, H)), np.zeros((N, T, H))
    h_t, c_t = h0, np.zeros_like(h0)
    for t in range(T):
        gates[:, t] = _gates(from_x[:, t] + np.einsum("nj,jgk->ngk", h_t, Wh.reshape(H, 4, H)))
        i, f, o, g = np.moveaxis(gates[:, t], 1, 0)
        c_t = c[:, t] = f * c_t + i * g
        h_t = h[:, t] = o * np.tanh(c_t)
    return h, (x, h0, Wx, Wh, gates, c, h)


def lstm_einsum_backward(dh, cache):
    x, h0, Wx, Wh, gates, c, h = cache
    (N, T, H), tanh_c = c.shape, np.tanh(c)
    previous_c = _taken_by_each_step(np.zeros_like(h0), c)
    slopes = np.concatenate([gates[:, :, :3] * (1 - gates[:, :, :3]), 1 - gates[:, :, 3:] ** 2], axis=2)
    da = np.zeros(gates.shape)
    h_from_next, c_from_next = np.zeros_like(h0), np.zeros_like(h0)  # what step t + 1 sends back to h_t, c_t
    for t in reversed(range(T)):
        i, f, o, g = np.moveaxis(gates[:, t], 1, 0)
        dh_t = dh[:, t] + h_from_next
        dc_t = dh_t * o * (1 - tanh_c[:, t] ** 2) + c_from_next
        dgates = np.stack([dc_t * g, dc_t * previous_c[:, t], dh_t * tanh_c[:, t], dc_t * i], axis=1)
        da[:, t] = dgates * slopes[:, t]
        h_from_next = np.einsum("ngk,jgk->nj", da[:, t], Wh.reshape(H, 4, H))
        c_from_next = dc_t * f
    dx, dWx, dWh, db = _contracted_over_the_sequence(da.reshape(N, T, 4 * H), x, _taken_by_each_step(h0, h), Wx)
    return dx, h_from_next, dWx, dWh, db
