"""affine: out = x W + b (a fully connected layer)."""
from reference_layers.affine import AffineMatmul, AffineSums

from . import Kind

KIND = Kind("affine", "out = x W + b: x (N, D), W (D, M), b (M)", {"x": "N,D", "W": "D,M", "b": "M"},
            (AffineMatmul, AffineSums))
