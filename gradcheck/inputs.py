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
# The data seed also chooses the class of x's values: seeds 0-7 (mod 16) keep the usual ones (mixed signs; for max
# pooling all negative or mixed, by a coin of their own); each of the others makes x one class of values a layer
# can get wrong alone ("large" scales dout too).  "half zeros" (as after a ReLU) would tie max-pooling windows,
# and the classes of where each window's maximum sits are max pooling's alone: elsewhere their seeds keep the
# usual values.  x increasing along each row, and row after row, puts every window's maximum at its last element
# (bottom right) whatever the windows' overlap; decreasing, at its first (top left).  A maximum at another
# position of every window at once exists only where windows do not overlap, so these two are the classes.
# LARGE is a power of two, so large max-pool inputs stay exact.
VALUE_CLASSES = {8: "all positive", 9: "all negative", 10: "one negative", 11: "one positive", 12: "half zeros",
                 13: "large", 14: "maxima at the windows' first element", 15: "maxima at the windows' last element"}
MAXPOOL_ONLY = ("maxima at the windows' first element", "maxima at the windows' last element")
VALUE_PERIOD = 16
LARGE = 2.0 ** 12


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
        x=_draw_x(rng, config, mixed, seed),
        params={name: rng.standard_normal(shape) for name, shape in config.param_shapes.items()},
        dout=rng.standard_normal(config.out_shape),
        x_other=_draw_x(rng, config, mixed, seed),
        param_steps={name: rng.standard_normal(shape) for name, shape in config.param_shapes.items()},
    )
    if config.layer == "maxpool":
        arrays.update(x_ties=rng.choice(TIE_VALUES, config.x_shape), dout_ties=1 + rng.random(config.out_shape))
    if value_class(seed, config.layer) == "large":
        arrays["dout"] = arrays["dout"] * LARGE
    return Inputs(**_cast(arrays, np.dtype(precision)))


def value_class(seed, layer):
    """The class of x's values that data ``seed`` makes for ``layer``: one of VALUE_CLASSES, or "usual"."""
    name = VALUE_CLASSES.get(seed % VALUE_PERIOD, "usual")
    applies = layer != "maxpool" if name == "half zeros" else layer == "maxpool" or name not in MAXPOOL_ONLY
    return name if applies else "usual"


def value_classes(layer):
    """Every class of values the data seeds make for ``layer``, the usual ones first."""
    return list(dict.fromkeys(["usual"] + [value_class(seed, layer) for seed in sorted(VALUE_CLASSES)]))


def seed_of_class(seed, name):
    """The data seed nearest ``seed`` (same value of seed // VALUE_PERIOD) that makes values of class ``name``."""
    residue = 0 if name == "usual" else next(r for r, n in VALUE_CLASSES.items() if n == name)
    return seed - seed % VALUE_PERIOD + residue


def _draw_x(rng, config, mixed, seed):
    if config.layer == "maxpool":
        klass = value_class(seed, config.layer)
        if klass == "usual":
            return tie_free(rng, config.x_shape, mixed)
        return _pool_values(rng, tie_free(rng, config.x_shape), klass)
    return _values(rng, rng.standard_normal(config.x_shape), value_class(seed, config.layer))


def _values(rng, z, klass):
    """Standard normal ``z`` made into values of ``klass`` (the usual ones draw nothing more from ``rng``)."""
    if klass in ("all positive", "one negative"):
        z = np.abs(z)
    elif klass in ("all negative", "one positive"):
        z = -np.abs(z)
    elif klass == "half zeros":
        z = np.maximum(z, 0.0)
    elif klass == "large":
        z = z * LARGE
    if klass in ("one negative", "one positive"):
        one = np.unravel_index(rng.integers(z.size), z.shape)
        z[one] = -z[one]
    return z


def _pool_values(rng, negative, klass):
    """Distinct all-negative max-pool inputs made into ``klass``, still distinct (no ties)."""
    if klass in MAXPOOL_ONLY:  # the same values, in order along each (sample, channel)'s rows
        ordered = np.sort(negative.reshape(negative.shape[:2] + (-1,)), axis=-1)
        ordered = ordered if klass == MAXPOOL_ONLY[1] else ordered[..., ::-1]
        return ordered.reshape(negative.shape)
    x = -negative if klass in ("all positive", "one negative") else negative.copy()
    if klass in ("one negative", "one positive"):
        one = np.unravel_index(rng.integers(x.size), x.shape)
        x[one] = -x[one]
    return x * _pool_scale(x) if klass == "large" else x


def _pool_scale(x):
    """LARGE, or the largest power of two below it that keeps every |x| under 2**17: there float32 still holds
    x plus or minus a finite-difference step exactly."""
    return min(LARGE, 2.0 ** np.floor(np.log2(2.0 ** 17 / np.abs(x).max())))


def tie_free(rng, shape, mixed=False):
    """Distinct multiples of POOL_GAP in random order: all negative (-gap, -2*gap, ...), or centred on zero."""
    size = int(np.prod(shape))
    steps = rng.permutation(size) - size // 2 if mixed else -(rng.permutation(size) + 1)
    return (steps * POOL_GAP).reshape(shape)


def _cast(value, dtype):
    if isinstance(value, dict):
        return {name: _cast(item, dtype) for name, item in value.items()}
    return value.astype(dtype)
