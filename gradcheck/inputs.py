"""The arrays one check feeds a layer, made reproducibly from a configuration and a seed."""
from dataclasses import dataclass

import numpy as np

# Max-pool inputs are distinct negative values at least this far apart: more
# than twice the largest finite-difference step (1e-2, for float32 layers), so
# no perturbation can reorder a window and every element is differentiable.
# Negative, so that a layer padding (or initializing its maximum) with zeros
# instead of -inf gets a wrong answer.
POOL_GAP = 0.1


@dataclass(frozen=True, eq=False)
class Inputs:
    """x, the parameters (W and b for conv, none for pools) and the upstream gradient dout.

    ``x_other`` is a second input of x's shape for the fresh-cache check and
    ``param_steps`` the in-place update the weights-live check applies.
    All arrays are float64 and finite.
    """

    x: np.ndarray
    params: dict
    dout: np.ndarray
    x_other: np.ndarray
    param_steps: dict


def make_inputs(config, seed):
    """Draw every array for ``config`` from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    make_x = tie_free if config.layer == "maxpool" else _normal
    return Inputs(
        x=make_x(rng, config.x_shape),
        params={name: _normal(rng, shape) for name, shape in config.param_shapes.items()},
        dout=_normal(rng, config.out_shape),
        x_other=make_x(rng, config.x_shape),
        param_steps={name: _normal(rng, shape) for name, shape in config.param_shapes.items()},
    )


def tie_free(rng, shape, gap=POOL_GAP):
    """Distinct negative values ``gap`` apart in random order: -gap, -2*gap, ...; no two elements tie."""
    size = int(np.prod(shape))
    return (-(rng.permutation(size) + 1.0) * gap).reshape(shape)


def _normal(rng, shape):
    return rng.standard_normal(shape)
