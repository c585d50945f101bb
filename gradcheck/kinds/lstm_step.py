"""lstm_step: one step of an LSTM, its gates in cs231n's order i, f, o, g.

a = x Wx + prev_h Wh + b; i, f, o = sigmoid of a[:, :H], a[:, H:2H],
a[:, 2H:3H], g = tanh(a[:, 3H:]); next_c = f prev_c + i g and next_h =
o tanh(next_c).  cs231n's ``lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
-> (next_h, next_c, cache)`` and ``lstm_step_backward(dnext_h, dnext_c,
cache) -> (dx, dprev_h, dprev_c, dWx, dWh, db)``, or the "Deep Learning from
Scratch 2" book's class ``LSTM(Wx, Wh, b)``: ``forward(x, h_prev, c_prev) ->
(h_next, c_next)``, ``backward(dh_next, dc_next) -> (dx, dh_prev,
dc_prev)``, dWx, dWh and db in ``grads``, its gates in the order f, g, i, o
(the class is given its weights so, and its gradients are moved back to
cs231n's order before they are compared).  The two outputs are checked laid
end to end: a position of forward counts through next_h's N H elements,
then next_c's.

The named mistakes: the gates read in another course's order (as for the
``lstm`` kind), and the cell's gradient without dnext_c (next_c reaches the
loss by itself too, through the next step).
"""
import numpy as np

from reference_layers.recurrent import lstm_step_backward, lstm_step_forward, lstm_step_gates_forward

from ..forms import Form, gates_moved
from . import Kind, Mistake
from .lstm import CS231N_ORDER, DLFS2_ORDER, order_mistakes

WITHOUT_DNEXT_C = ("the cell's gradient leaves out dnext_c: next_c reaches the loss through the next step too, "
                   "so dc = dnext_c + dnext_h * o * (1 - tanh(next_c)^2)")
ARRAYS = ("x", "prev_h", "prev_c", "Wx", "Wh", "b")


def _read_in_order(order):
    """The joined output of a step that reads the blocks of a as the gates ``order`` names."""
    def computes(inputs, dout):
        x, prev_h, prev_c, *weights = (inputs[name] for name in ARRAYS)
        next_h, next_c, _ = lstm_step_forward(x, prev_h, prev_c,
                                              *(gates_moved(array, order, CS231N_ORDER) for array in weights))
        return np.concatenate([next_h.ravel(), next_c.ravel()])
    return computes


def _without_dnext_c(inputs, dout):
    """{gradient name: value} of the step's backward given dnext_c = 0 (dout is dnext_h and dnext_c, joined)."""
    dnext_h = np.split(dout, 2)[0].reshape(inputs["prev_h"].shape)
    _, _, cache = lstm_step_forward(*(inputs[name] for name in ARRAYS))
    return dict(zip(("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"),
                    lstm_step_backward(dnext_h, np.zeros_like(dnext_h), cache)))


KIND = Kind(
    "next_c = f prev_c + i g, next_h = o tanh(next_c): one LSTM step (cs231n's gates i, f, o, g; "
    "DLFS 2's class f, g, i, o)",
    Form("lstm_step", {"x": "N,D", "prev_h": "N,H", "prev_c": "N,H", "Wx": "D,4H", "Wh": "H,4H", "b": "4H"},
         arguments=3, outputs=2, gates=(CS231N_ORDER, DLFS2_ORDER)),
    (lstm_step_forward, lstm_step_gates_forward), (
        *order_mistakes(_read_in_order),
        *(Mistake(gradient, lambda inputs, dout, gradient=gradient: _without_dnext_c(inputs, dout)[gradient],
                  WITHOUT_DNEXT_C) for gradient in ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")),
    ))
