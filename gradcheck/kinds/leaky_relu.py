"""leaky_relu: out = x where x > 0, else 0.01 x."""
from reference_layers.activations import LEAK, LeakyReluMaximum, LeakyReluWhere

from ..forms import Form
from . import Kind, Mistake

KIND = Kind(f"out = x where x > 0, else {LEAK} x, element-wise", Form("leaky_relu", {"x": "N,D"}),
            (LeakyReluWhere, LeakyReluMaximum), (
    Mistake("dx", lambda inputs, dout: dout * (inputs["x"] > 0),
            f"dx is 0 where x <= 0, as for ReLU: the leak's slope {LEAK} belongs there"),
))
