"""rnn_step: one step of a vanilla RNN, next_h = tanh(x Wx + prev_h Wh + b).

cs231n's ``rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)`` and
``rnn_step_backward(dnext_h, cache) -> (dx, dprev_h, dWx, dWh, db)``, or the
"Deep Learning from Scratch 2" book's class ``RNN(Wx, Wh, b)``, whose
``forward(x, h_prev)`` takes both inputs and whose ``backward(dh_next)``
returns ``(dx, dh_prev)``, keeping dWx, dWh and db in ``grads``.
"""
from reference_layers.recurrent import rnn_step_forward, rnn_step_loops_forward

from ..forms import Form
from . import Kind

KIND = Kind("next_h = tanh(x Wx + prev_h Wh + b): one step of a vanilla RNN",
            Form("rnn_step", {"x": "N,D", "prev_h": "N,H", "Wx": "D,H", "Wh": "H,H", "b": "H"}, arguments=2),
            (rnn_step_forward, rnn_step_loops_forward))
