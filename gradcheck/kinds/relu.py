"""relu: out = max(x, 0)."""
from reference_layers.activations import ReluMask, ReluMaximum

from ..forms import Form
from . import Kind, Mistake

KIND = Kind("out = max(x, 0), element-wise", Form("relu", {"x": "N,D"}), (ReluMaximum, ReluMask), (
    Mistake("dx", lambda inputs, dout: dout, "dx is dout itself: the gradient is dout only where x > 0, 0 elsewhere"),
    Mistake("dx", lambda inputs, dout: dout * (dout > 0),
            "dx is dout kept where dout > 0: the mask is where x > 0, not where dout is"),
))
