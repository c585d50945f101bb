"""tanh: out = tanh(x)."""
from reference_layers.activations import TanhDirect, TanhExp

from . import Kind, Mistake

KIND = Kind("tanh", "out = tanh(x), element-wise", {"x": "N,D"}, (TanhDirect, TanhExp), (
    Mistake("dx", lambda inputs, dout: dout * (1 - inputs["x"] ** 2),
            "dx is dout * (1 - x^2): the derivative is 1 - out^2, of the output, not the input"),
))
