"""rnn_step: one step of a vanilla RNN, next_h = tanh(x Wx + prev_h Wh + b).

Functions only: cs231n's ``rnn_step_forward(x, prev_h, Wx, Wh, b) ->
(next_h, cache)`` and ``rnn_step_backward(dnext_h, cache) -> (dx, dprev_h,
dWx, dWh, db)``.  Classes share no form for it (the "Deep Learning from
Scratch 2" book's ``RNN(Wx, Wh, b)`` takes prev_h in ``forward(x, h_prev)``).
"""
from reference_layers.recurrent import rnn_step_forward, rnn_step_loops_forward

from . import Kind

KIND = Kind("rnn_step", "next_h = tanh(x Wx + prev_h Wh + b): one step of a vanilla RNN (cs231n functions)",
            {"x": "N,D", "prev_h": "N,H", "Wx": "D,H", "Wh": "H,H", "b": "H"},
            (rnn_step_forward, rnn_step_loops_forward), classes=False)
