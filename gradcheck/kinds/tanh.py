"""tanh: out = tanh(x)."""
from reference_layers.activations import TanhDirect, TanhExp

from ..forms import Form
from . import Kind, Mistake

KIND = Kind("out = tanh(x), element-wise", Form("tanh", {"x": "N,D"}), (TanhDirect, TanhExp), (
    Mistake("dx", lambda inputs, dout: dout * (1 - inputs["x"] ** 2),
            "dx is dout * (1 - x^2): the derivative is 1 - out^2, of the output, not the input"),
))
