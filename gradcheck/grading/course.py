"""A course file: what an instructor sets once for an assignment, read by ``gradcheck grade`` and ``gradcheck
autograder`` (``--course FILE``).  TOML::

    layer = "conv"              # every option of gradcheck grade, by its name with _ for - (impl,
    impl = "Conv2d"             # convention, seed, examples, precision, timeout, memory, divisible,
    precision = "float64"       # hide_hints, show_one_failure, partial_credit, ...)
    timeout = 30

    [geometry]                  # the dimensions every submission is graded on; the others are fuzzed
    kernel = 3
    size = [8, 6]               # a pair: height and width
    stride = "1..2"             # a range: the search keeps to these values, on both axes

    [points]                    # per check; a check left out is worth 1, one worth 0 is not scored
    dX = 3
    dW = 3

    [visibility]                # Gradescope's, per check: visible (the default), hidden, after_due_date,
    dW = "after_due_date"       # after_published

With ``layers = "affine,relu"`` (several kinds graded together) a check is
named by its kind: ``[points.affine]`` with ``dx = 2``, or ``affine.dx = 2``
in ``[points]``.  With conv and pooling layers among them, ``[geometry]``
holds for each, and a layer's own table holds for it alone, over
``[geometry]`` and the command line (cs231n's max pool takes no padding)::

    layers = "conv,maxpool,affine,relu"

    [geometry.maxpool]
    pad = 0

An option given on the command line wins over the file's.  The checks named
are validated against the layer's (``Course.for_layer``, ``grade.prepare``).
"""
import sys
from dataclasses import dataclass, field

from ..checks import check_names, kind_check
from ..config import parse_range
from ..kinds import windowed

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

OPTIONS = ("layer", "impl", "layers", "backward", "convention", "layout", "examples", "seed", "method", "fast",
           "precision", "divisible", "timeout", "memory", "hide_hints", "show_one_failure", "partial_credit")
GEOMETRY = ("batch", "channels", "filters", "size", "kernel", "stride", "pad", "dilation")
POOL_GEOMETRY = tuple(name for name in GEOMETRY if name not in ("filters", "dilation"))
PAIRS = ("size", "kernel", "stride", "pad", "dilation")
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")  # Gradescope's, from most to least shown
TABLES = ("geometry", "points", "visibility")


class CourseError(ValueError):
    """A course file that cannot be read, or says something gradcheck cannot do; the message says where."""


@dataclass(frozen=True)
class Course:
    """A course file read: ``options`` (command-line option name -> value, pins included), ``points`` and
    ``visibility`` per check name, and the file's ``text`` (what a bundle carries)."""

    path: str
    options: dict
    points: dict = field(default_factory=dict)
    visibility: dict = field(default_factory=dict)
    text: str = ""
    geometry: dict = field(default_factory=dict)  # a conv or pooling layer -> its own [geometry.LAYER] pins

    def for_layer(self, layer):
        """This course, once every check its [visibility] names is one of ``layer``'s and every layer its
        [geometry.LAYER] names is graded (``grade.prepare`` validates the points); CourseError otherwise."""
        _known(self.path, "[visibility] ", self.visibility, check_names(layer), what="check", of=f" of {layer}")
        graded = [kind for kind in layer.split(",") if kind in windowed()]
        _known(self.path, "", {f"[geometry.{kind}]": kind for kind in self.geometry},
               [f"[geometry.{kind}]" for kind in graded], what="table", of=f" for {layer}")
        return self


def load(path):
    """The Course in the TOML file ``path``; CourseError saying what is wrong and where."""
    try:
        with open(path, "rb") as stream:
            text = stream.read().decode("utf-8")
        data = tomllib.loads(text)
    except OSError as error:
        raise CourseError(f"cannot read the course file {path}: {error.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise CourseError(f"{path} is not valid TOML: {error}") from None
    return parse(data, str(path), text)


def parse(data, path="course.toml", text=""):
    """The Course that the TOML table ``data`` describes."""
    _known(path, "", data, OPTIONS + TABLES)
    options = {name: value for name, value in data.items() if name in OPTIONS}
    for name in TABLES:
        if name in data and not isinstance(data[name], dict):
            raise CourseError(f"{path}: {name} must be a table ([{name}]), got {data[name]!r}")
    geometry = data.get("geometry", {})
    _known(path, "[geometry] ", geometry, GEOMETRY + tuple(windowed()))
    options.update({name: _dimension(path, name, value) for name, value in geometry.items() if name in GEOMETRY})
    own = {kind: _own_geometry(path, kind, table) for kind, table in geometry.items() if kind in windowed()}
    points = _by_check(data.get("points", {}))
    visibility = {name: _visibility(path, name, value)
                  for name, value in _by_check(data.get("visibility", {})).items()}
    return Course(path, options, points, visibility, text, own)


def _own_geometry(path, kind, table):
    """The pins of a conv or pooling layer's own [geometry.KIND] table (a pool has no filters or dilation)."""
    if not isinstance(table, dict):
        raise CourseError(f"{path}: geometry.{kind} must be a table ([geometry.{kind}]), got {table!r}")
    _known(path, f"[geometry.{kind}] ", table, GEOMETRY if kind == "conv" else POOL_GEOMETRY)
    return {name: _dimension(path, name, value) for name, value in table.items()}


def _by_check(table):
    """``table`` by check name, a kind's own table (``[points.affine]``, or ``affine.dx = 2``) read as its checks'
    joined names ("affine.dx": see ``grading.layers``)."""
    flat = {}
    for name, value in table.items():
        if isinstance(value, dict):
            flat.update({kind_check(name, check): points for check, points in value.items()})
        else:
            flat[name] = value
    return flat


def _known(path, where, table, names, what="key", of=""):
    unknown = [name for name in table if name not in names]
    if unknown:
        raise CourseError(f"{path}: {where}has no {what} {unknown[0]!r}{of}; choose from {', '.join(names)}")


def _dimension(path, name, value):
    """An int, for a pair dimension [height, width] as a tuple, or "LOW..HIGH" as a range."""
    if isinstance(value, list) and name in PAIRS and len(value) == 2 and all(_is_int(v) for v in value):
        return tuple(value)
    if _is_int(value):
        return value
    span = parse_range(value) if isinstance(value, str) else None
    if span:
        return span
    shape = "an int, [height, width]" if name in PAIRS else "an int"
    raise CourseError(f'{path}: [geometry] {name} must be {shape} or "LOW..HIGH" (lowest first), got {value!r}')


def _visibility(path, name, value):
    if value not in VISIBILITIES:
        raise CourseError(f"{path}: [visibility] {name} must be one of {', '.join(VISIBILITIES)}, got {value!r}")
    return value


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)
