"""lstm: an LSTM over a sequence from h0 (c0 = 0), its gates in cs231n's order i, f, o, g.

At each step a = x[:, t] Wx + h[:, t - 1] Wh + b, i, f, o = sigmoid of
a[:, :H], a[:, H:2H], a[:, 2H:3H], g = tanh(a[:, 3H:]); c_t = f c_{t-1} + i g
and h[:, t] = o tanh(c_t).  cs231n's ``lstm_forward(x, h0, Wx, Wh, b) -> (h,
cache)`` and ``lstm_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)``, or the
"Deep Learning from Scratch 2" book's class ``TimeLSTM(Wx, Wh, b,
stateful)``, which keeps h0 as its own state and reads its gates in the
order f, g, i, o: it is built stateful with its weights in that order, given
h0 by ``set_state(h0)`` (c0 = 0), and keeps dh0 in ``dh`` after
``backward(dh) -> dx``; its gradients in ``grads`` are moved back to
cs231n's order before they are compared.

The named mistakes: the gates read in another course's order (PyTorch's
i, f, g, o; the DLFS 2 book's f, g, i, o; a DLFS 2 class reading cs231n's
or PyTorch's order), which changes the output, and the
cell state's gradient not carried back through time (dc of step t without
f_{t+1} dc_{t+1}), which changes every gradient once T > 1.
"""
import numpy as np

from reference_layers.recurrent import lstm_einsum_forward, lstm_forward, lstm_step_backward, lstm_step_forward

from ..forms import Form, gates_moved
from . import Kind, Mistake

CS231N_ORDER = "ifog"
DLFS2_ORDER = "fgio"  # the "Deep Learning from Scratch 2" book's
OTHER_ORDERS = (("ifgo", "PyTorch's"), (DLFS2_ORDER, 'the "Deep Learning from Scratch 2" book\'s'))  # read instead
CLASS_READS = (("ifog", "cs231n's"), ("ifgo", "PyTorch's"))  # what a class given the DLFS 2 order reads instead
NOT_CARRIED = ("dc of step t leaves out f_{t+1} * dc_{t+1}, what step t+1 sends back through prev_c: the cell "
               "state's gradient is carried back through time, as h's is")


def _arrays(inputs):
    return tuple(inputs[name] for name in ("x", "h0", "Wx", "Wh", "b"))


def _read_in_order(order):
    """The forward of a layer that reads the four blocks of a as the gates ``order`` names: cs231n's forward with
    the blocks of Wx, Wh and b moved to where it reads those gates."""
    def computes(inputs, dh):
        x, h0, Wx, Wh, b = _arrays(inputs)
        return lstm_forward(x, h0, *(gates_moved(weights, order, CS231N_ORDER) for weights in (Wx, Wh, b)))[0]
    return computes


def _order_hint(order, whose):
    return (f"the gates are read in {whose} order {', '.join(order)}: cs231n's weights hold them as i, f, o, g "
            "(i, f, o = sigmoid of a[:, :H], a[:, H:2H], a[:, 2H:3H]; g = tanh(a[:, 3H:]))")


def read_by_class(order):
    """The order a class reads its gates in, as cs231n's weights name them, when it is given its weights in the
    DLFS 2 book's order and reads them in ``order``: gate k takes the block where that order puts the gate
    DLFS2_ORDER[order.index(k)]."""
    position = {gate: CS231N_ORDER.index(DLFS2_ORDER[order.index(gate)]) for gate in order}
    return "".join(sorted(order, key=position.get))


def class_order_hint(order, whose):
    return (f"the class reads its gates in {whose} order {', '.join(order)}, but a class of this kind is given its "
            "weights in the \"Deep Learning from Scratch 2\" book's order f, g, i, o: f = sigmoid(a[:, :H]), "
            "g = tanh(a[:, H:2H]), i = sigmoid(a[:, 2H:3H]), o = sigmoid(a[:, 3H:])")


def order_mistakes(read_in_order):
    """The forward mistakes of reading the gates in another order: a function in another course's, a class in
    another than the one it is given."""
    return (*(Mistake("forward", read_in_order(order), _order_hint(order, whose)) for order, whose in OTHER_ORDERS),
            *(Mistake("forward", read_in_order(read_by_class(order)), class_order_hint(order, whose))
              for order, whose in CLASS_READS))


def _cell_gradient_not_carried(inputs, dh):
    """{gradient name: value} of lstm_backward with each step's dnext_c 0: dc of step t misses f_{t+1} dc_{t+1}."""
    x, h0, Wx, Wh, b = _arrays(inputs)
    caches, h_t, c_t = [], h0, np.zeros_like(h0)
    for t in range(x.shape[1]):
        h_t, c_t, cache = lstm_step_forward(x[:, t], h_t, c_t, Wx, Wh, b)
        caches.append(cache)
    dx, dWx, dWh, db = [], 0.0, 0.0, 0.0
    dprev_h = np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        dx_t, dprev_h, _, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t] + dprev_h, np.zeros_like(h0), caches[t])
        dx.append(dx_t)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return {"dx": np.stack(dx[::-1], axis=1), "dh0": dprev_h, "dWx": dWx, "dWh": dWh, "db": db}


KIND = Kind(
    "an LSTM over T steps from h0, c0 = 0, of x_t Wx + h_{t-1} Wh + b (cs231n's gates i, f, o, g; DLFS "
    "2's class f, g, i, o)",
    Form("lstm", {"x": "N,T,D", "h0": "N,H", "Wx": "D,4H", "Wh": "H,4H", "b": "4H"}, made_with={"stateful": True},
         gates=(CS231N_ORDER, DLFS2_ORDER), state={"h0": "dh"}),
    (lstm_forward, lstm_einsum_forward), (
        *order_mistakes(_read_in_order),
        *(Mistake(gradient, lambda inputs, dh, gradient=gradient: _cell_gradient_not_carried(inputs, dh)[gradient],
                  NOT_CARRIED) for gradient in ("dx", "dh0", "dWx", "dWh", "db")),
    ))
