"""rnn: a vanilla RNN over a sequence, h[:, t] = tanh(x[:, t] Wx + h[:, t - 1] Wh + b) from h0.

cs231n's ``rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)`` and
``rnn_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)``, or the "Deep Learning
from Scratch 2" book's class ``TimeRNN(Wx, Wh, b, stateful)``, which keeps h0
as its own state: it is built stateful, given h0 by ``set_state(h0)``, and
keeps dh0 in ``dh`` after ``backward(dh) -> dx``; dWx, dWh and db in
``grads``.

The named mistake is backprop through time without the time: each step's
backward gets dh[:, t] alone, not dh[:, t] plus the dprev_h that step t + 1
sends back, which changes every gradient once T > 1.
"""
import numpy as np

from reference_layers.recurrent import rnn_einsum_forward, rnn_forward, rnn_step_backward, rnn_step_forward

from ..forms import Form
from . import Kind, Mistake

NOT_ACCUMULATED = ("the gradient of h at step t is dh[:, t] plus what step t+1 sends back through prev_h: "
                   "this backward gave each step dh[:, t] alone")


def _each_step_alone(inputs, dh):
    """{gradient name: value} of a backward that gives step t dh[:, t] alone (nothing from step t + 1)."""
    x, h0, Wx, Wh, b = (inputs[name] for name in ("x", "h0", "Wx", "Wh", "b"))
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    prev_h = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    steps = [rnn_step_backward(dh[:, t], rnn_step_forward(x[:, t], prev_h[:, t], Wx, Wh, b)[1])
             for t in range(x.shape[1])]
    dx, dprev_h, dWx, dWh, db = zip(*steps)
    return {"dx": np.stack(dx, axis=1), "dh0": dprev_h[0], "dWx": sum(dWx), "dWh": sum(dWh), "db": sum(db)}


KIND = Kind(
    "h_t = tanh(x_t Wx + h_{t-1} Wh + b) from h0: a vanilla RNN over T steps",
    Form("rnn", {"x": "N,T,D", "h0": "N,H", "Wx": "D,H", "Wh": "H,H", "b": "H"}, made_with={"stateful": True},
         state={"h0": "dh"}),
    (rnn_forward, rnn_einsum_forward),
    tuple(Mistake(gradient, lambda inputs, dh, gradient=gradient: _each_step_alone(inputs, dh)[gradient],
                  NOT_ACCUMULATED) for gradient in ("dx", "dh0", "dWx", "dWh", "db")))
