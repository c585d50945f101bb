"""The arrays one check feeds a layer, made reproducibly from a configuration, a seed and a precision."""
from dataclasses import dataclass

import numpy as np

PRECISIONS = ("float64", "float32")

# Max-pool inputs are distinct multiples of POOL_GAP, a power of two: exact in
# float32 and float64, as is every value plus or minus a finite-difference
# step of at most a quarter of it, so no perturbation can reorder a window
# and every element is differentiable.  Half of the data seeds make them all
# negative, so that a layer padding (or initializing its maximum) with zeros
# instead of -inf gets a wrong answer; the other half mixes signs, so that a
# bug that only shows on positive values is found too.
POOL_GAP = 0.125
# Inputs for the ties check: values as after a ReLU, many of them exact ties.
TIE_VALUES = np.array([0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 1.0, -0.5])


@dataclass(frozen=True, eq=False)
class Inputs:
    """x, the parameters (W and b for conv, none for pools) and the upstream gradient dout.

    ``x_other`` is a second input of x's shape for the fresh-cache check and
    ``param_steps`` the in-place update the weights-live check applies.  For
    max pooling ``x_ties`` holds exact ties (as after a ReLU) and
    ``dout_ties`` a positive upstream gradient for the ties check.  Every
    array is finite and of dtype ``precision``.
    """

    x: np.ndarray
    params: dict
    dout: np.ndarray
    x_other: np.ndarray
    param_steps: dict
    x_ties: np.ndarray = None
    dout_ties: np.ndarray = None

    @property
    def precision(self):
        return self.x.dtype.name


def make_inputs(config, seed, precision="float64"):
    """Draw every array for ``config`` from ``numpy.random.default_rng(seed)``, in ``precision``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    rng = np.random.default_rng(seed)
    mixed = config.layer == "maxpool" and bool(rng.integers(2))
    arrays = dict(
        x=_draw_x(rng, config, mixed),
        params={name: rng.standard_normal(shape) for name, shape in config.param_shapes.items()},
        dout=rng.standard_normal(config.out_shape),
        x_other=_draw_x(rng, config, mixed),
        param_steps={name: rng.standard_normal(shape) for name, shape in config.param_shapes.items()},
    )
    if config.layer == "maxpool":
        arrays.update(x_ties=rng.choice(TIE_VALUES, config.x_shape), dout_ties=1 + rng.random(config.out_shape))
    return Inputs(**_cast(arrays, np.dtype(precision)))


def _draw_x(rng, config, mixed):
    if config.layer == "maxpool":
        return tie_free(rng, config.x_shape, mixed)
    return rng.standard_normal(config.x_shape)


def tie_free(rng, shape, mixed=False):
    """Distinct multiples of POOL_GAP in random order: all negative (-gap, -2*gap, ...), or centred on zero."""
    size = int(np.prod(shape))
    steps = rng.permutation(size) - size // 2 if mixed else -(rng.permutation(size) + 1)
    return (steps * POOL_GAP).reshape(shape)


def _cast(value, dtype):
    if isinstance(value, dict):
        return {name: _cast(item, dtype) for name, item in value.items()}
    return value.astype(dtype)
