"""Argument checks shared by the reference layers: one clear error per broken rule."""
import numpy as np


def check_array(name, array, layout):
    """Require a finite floating-point ndarray whose dimensions match ``layout`` (e.g. "NCHW").

    Raises TypeError for a non-array or a non-float dtype and ValueError for a
    wrong number of dimensions or a NaN/infinity, each saying how to fix it.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(array).__name__}; wrap it with np.asarray")
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(
            f"{name} must be a floating-point array, got dtype {array.dtype}; "
            f"convert it with {name}.astype(np.float64)"
        )
    if array.ndim != len(layout):
        plural = "s" if len(layout) > 1 else ""
        raise ValueError(f"{name} must have {len(layout)} dimension{plural} ({layout}), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity; every value must be finite")
    return array


def check_shape(name, array, expected, meaning):
    """Require ``array.shape == expected``; ``meaning`` says where the expectation comes from."""
    if array.shape != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)} ({meaning}), got {array.shape}")
    return array
