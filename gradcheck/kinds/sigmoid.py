"""sigmoid: out = 1 / (1 + exp(-x))."""
from reference_layers.activations import SigmoidLogistic, SigmoidTanh

from ..forms import Form
from . import Kind, Mistake

KIND = Kind("out = 1 / (1 + exp(-x)), element-wise", Form("sigmoid", {"x": "N,D"}), (SigmoidLogistic, SigmoidTanh), (
    Mistake("dx", lambda inputs, dout: dout * inputs["x"] * (1 - inputs["x"]),
            "dx is dout * x * (1 - x): the derivative is out * (1 - out), of the output, not the input"),
))
