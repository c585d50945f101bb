"""What a layer object holds: its arrays, and among them W, b and their gradients, found by shape.

A layer that makes its own weights keeps them under names of its own
(``self.weights``, ``self.kernel``, ``self.params = [W, b]``, ...), and
gradients too (``self.gradient_weights``, ``self.grads["dW"]``, ...).
gradcheck finds them by shape among what the layer keeps (``array_places``:
its array attributes, and the arrays in its list, tuple and dict attributes):
W exactly (F, C, KH, KW), b as its F values in any shape ((F,), (F, 1), (1,
F), (1, F, 1, 1)).  Several candidates are told apart by their names, or
refused (``Ambiguous``) with a message that says how to name them.

A place is ("attr", name) or ("item", name, key).  This file is bound
read-only into the grading sandbox with ``adapters``: it imports only numpy,
the standard library and gradcheck's other child files.
"""
import numpy as np

from .signatures import ROLE_NAMES
from .userfiles import LoadError

GRAD_ALIASES = {
    "dW": ("dW", "dw", "d_W", "d_w", "grad_W", "grad_w", "gW", "dweight", "dweights", "grad_weight"),
    "db": ("db", "dB", "d_b", "d_B", "grad_b", "grad_B", "gb", "dbias", "grad_bias"),
}
GRAD_DICTS = ("grads", "gradients", "grad")  # dict attributes holding {"W": ..., "b": ...}


class NotFound(Exception):
    """A layer was built, but W or b is not among its arrays; the message says what it keeps."""


def array_places(layer):
    """(place, array) for every ndarray ``layer`` keeps: its attributes ("attr", name), and the items of its
    list, tuple and dict attributes ("item", name, key), as in ``self.params = [W, b]``."""
    try:
        attributes = list(vars(layer).items())
    except TypeError:
        return []
    found = []
    for attribute, value in attributes:
        if isinstance(value, np.ndarray):
            found.append((("attr", attribute), value))
        elif isinstance(value, (list, tuple, dict)):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            found += [(("item", attribute, key), item) for key, item in items if isinstance(item, np.ndarray)]
    return found


def value_at(layer, place):
    """The value at ``place`` ("attr", name) or ("item", name, key) of ``layer``, or None."""
    container = getattr(layer, place[1], None)
    if place[0] == "attr":
        return container
    if isinstance(container, dict):
        return container.get(place[2])
    if isinstance(container, (list, tuple)) and isinstance(place[2], int) and place[2] < len(container):
        return container[place[2]]
    return None


def rebind_place(layer, place, value):
    """Rebind ``place`` of ``layer`` to ``value`` (a tuple attribute is replaced by a tuple holding it)."""
    if place[0] == "attr":
        setattr(layer, place[1], value)
        return
    container = getattr(layer, place[1])
    if isinstance(container, tuple):
        setattr(layer, place[1], container[:place[2]] + (value,) + container[place[2] + 1:])
    else:
        container[place[2]] = value


def place_text(place):
    return place[1] if place[0] == "attr" else f"{place[1]}[{place[2]!r}]"


def place_name(place):
    """The name a place goes by: its attribute's, or its key when that is a string (params["W"])."""
    return place[2] if place[0] == "item" and isinstance(place[2], str) else place[1]


def fits(weight, array, params):
    """Whether ``array`` has the shape of W (exactly) or of b (its F values as (F,), (F, 1), (1, F), ...)."""
    if weight in ("W", "dW"):
        return array.shape == params["W"].shape
    return squeezed(array.shape) == squeezed(params["b"].shape)


def squeezed(shape):
    return tuple(n for n in shape if n != 1) or (1,)


def as_shape(value, shape):
    """``value`` in ``shape`` when it differs only by axes of length 1 (a bias kept as (F, 1))."""
    return value.reshape(shape) if value.shape != shape and squeezed(value.shape) == squeezed(shape) else value


def one_of(pairs, preferences, why):
    """The place of the one array among ``pairs`` ((place, array); an array may be at several places), or None
    when there is none.  When there are several, each of ``preferences`` (a test of a place's name) in turn
    keeps those it accepts, if any; Ambiguous(``why(their places)``) when more than one is left."""
    groups = {}
    for place, array in pairs:
        groups.setdefault(id(array), []).append(place)
    candidates = list(groups.values())
    for prefer in preferences:
        if len(candidates) > 1:
            candidates = [places for places in candidates if any(prefer(place_name(p)) for p in places)] or \
                candidates
    if len(candidates) > 1:
        raise Ambiguous(why(sorted(place_text(p) for places in candidates for p in places)))
    return min(candidates[0], key=lambda p: p[0] != "attr") if candidates else None  # self.W, not params[0]


class Ambiguous(Exception):
    """Several arrays of one shape that names cannot tell apart."""


def weight_places(layer, params, name):
    """Where ``layer``, built for ``params``' shapes, keeps W and b: {"W": place, "b": place}.  NotFound when
    it keeps no array of one's shape, LoadError when several that their names cannot tell apart."""
    places = {}
    arrays = array_places(layer)
    for weight in ("W", "b"):
        shape = params[weight].shape
        try:
            place = one_of([(p, a) for p, a in arrays if fits(weight, a, params)],
                            (lambda n: n not in GRADIENT_WORDS, ROLE_NAMES[weight].__contains__),
                            lambda found: f"{name} keeps {len(found)} arrays of {weight}'s shape {shape}: "
                                          f"{', '.join(found)}; gradcheck cannot tell which holds {weight}: name it "
                                          f"{weight} (or {', '.join(ROLE_NAMES[weight][1:4])}), or add a factory")
        except Ambiguous as exc:
            raise LoadError(str(exc)) from None
        if place is None:
            kept = ", ".join(f"{place_text(p)} {a.shape}" for p, a in arrays)
            raise NotFound(f"keeps no array of {weight}'s shape {shape} (it keeps {kept or 'no array'}): "
                            "gradcheck writes W and b into the arrays of their shapes a layer keeps")
        places[weight] = place
    return places


def snapshot_arrays(layer, keep):
    """What ``layer`` keeps, before backward: {place: (array, a copy of it when ``keep(array)``, else None)}."""
    return {place: (array, array.copy() if keep(array) else None) for place, array in array_places(layer)}


def changed_arrays(layer, snapshot, keep, left_out=()):
    """(place, array) that ``keep(array)`` accepts and backward set (a new array at its place) or changed (among
    those ``snapshot`` copied), but the arrays ``left_out`` (the weights themselves, the arrays passed in)."""
    return [(place, array) for place, array in array_places(layer)
            if keep(array) and not any(array is other for other in left_out)
            and (place not in snapshot or snapshot[place][0] is not array
                 or (snapshot[place][1] is not None and not np.array_equal(snapshot[place][1], array)))]


def gradient_shaped(params):
    """Whether an array has the shape of dW or of db."""
    return lambda array: fits("dW", array, params) or fits("db", array, params)


def dx_place(changed, shape):
    """Where dx is among the arrays backward set or changed (``changed``), but those named as a weight's gradient:
    the one of x's ``shape``, or else the one named as dx is (dx, dX, dA_prev, ...: of another shape, it is a
    wrong dx); None when there is none.  Ambiguous when several that their names cannot tell apart."""
    changed = [(p, a) for p, a in changed if place_name(p) in DX_WORDS or place_name(p) not in GRADIENT_WORDS]
    x_shaped = [(p, a) for p, a in changed if a.shape == shape]
    what = f"of x's shape {shape}" if x_shaped else "named as dx is"
    return one_of(x_shaped or [(p, a) for p, a in changed if place_name(p) in DX_WORDS], (DX_WORDS.__contains__,),
                  lambda found: f"backward returned None and set {len(found)} arrays {what}: {', '.join(found)}; "
                                "gradcheck cannot tell which is dx: return it")


def gradient_place(changed, params, grad):
    """Where gradient ``grad`` ("dW" or "db") is among what backward set or changed (``changed``), or None when
    nothing has its shape.  Ambiguous when several do that their names cannot tell apart."""
    weight = grad[1:]
    shape = params[weight].shape
    return one_of([(p, a) for p, a in changed if fits(grad, a, params)], (GRADIENT_WORDS.__contains__,),
                  lambda found: f"backward set {len(found)} arrays of {weight}'s shape {shape}: {', '.join(found)}; "
                                f"gradcheck cannot tell which is {grad}: name it {grad} (or "
                                f"{', '.join(GRAD_ALIASES[grad][1:4])}), or keep the others out of the layer's "
                                "attributes")


class GradientWords:
    """Names that say "a gradient": with grad or delta in them, or d followed by a weight's name (dW, d_bias);
    ``name in GRADIENT_WORDS``."""

    def __contains__(self, name):
        lower = str(name).lower()
        rest = lower[1:].lstrip("_") if lower.startswith("d") else ""
        return "grad" in lower or "delta" in lower or rest in ("w", "b", "weight", "weights", "bias", "biases",
                                                                "kernel", "filters")


GRADIENT_WORDS = GradientWords()


class DxWords:
    """Names that say "the gradient of the input": dx, dX, d_x, dA, dA_prev, dinput, grad_x, grad_input, delta,
    ...; ``name in DX_WORDS``."""

    def __contains__(self, name):
        lower = str(name).lower().lstrip("_")
        return lower == "da" or lower.startswith(("dx", "d_x", "da_", "daprev", "dinput", "d_input", "dprev",
                                                  "grad_x", "gradx", "grad_in", "delta"))


DX_WORDS = DxWords()


def known_place(layer, name):
    """Where ``layer`` keeps gradient ``name`` ("dW" or "db") under a known name: ("attr", alias) or ("item",
    attr, key), or None."""
    key = name[1:]
    places = [("attr", alias) for alias in GRAD_ALIASES[name]]
    places += [("item", d, k) for d in GRAD_DICTS for k in (key, key.lower(), key.upper())]
    return next((place for place in places if value_at(layer, place) is not None), None)
