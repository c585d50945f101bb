"""affine: out = x W + b (a fully connected layer)."""
from reference_layers.affine import AffineMatmul, AffineSums

from ..forms import Form
from . import Kind

KIND = Kind("out = x W + b: x (N, D), W (D, M), b (M)", Form("affine", {"x": "N,D", "W": "D,M", "b": "M"}),
            (AffineMatmul, AffineSums))
