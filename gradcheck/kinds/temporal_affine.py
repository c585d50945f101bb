"""temporal_affine: out[:, t] = x[:, t] W + b, the same affine map at every time step (cs231n's scores of an RNN)."""
from reference_layers.recurrent import TemporalAffineEinsum, temporal_affine_forward

from ..forms import Form
from . import Kind

KIND = Kind("out[:, t] = x[:, t] W + b at every step: x (N, T, D), W (D, M), b (M)",
            Form("temporal_affine", {"x": "N,T,D", "W": "D,M", "b": "M"}),
            (temporal_affine_forward, TemporalAffineEinsum))
