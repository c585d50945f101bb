"""Tolerances, and turning two arrays into a finding that says where they differ and by how much."""
from dataclasses import dataclass, field, fields

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """How close is close enough at a precision (the dtype gradcheck builds the inputs in).

    An element passes when |actual - expected| <= rtol * |expected| + atol * scale + slack,
    where scale is the largest finite |expected| of the array (so the verdict
    does not depend on how the inputs were scaled) and the slack, per element,
    what rounding can add where a sum of large terms cancels to a small result:

        slack = ctol * magnitude + ftol * noise

    magnitude: the sum of the absolute values of the terms of the element;
    noise: for a finite-difference estimate, sum |f| * |dout| / 2h over the
    outputs its perturbation reaches (``NumericGradient.noise``).
    ``step`` is the finite-difference step h.
    """

    precision: str
    step: float
    rtol: float
    atol: float
    ctol: float
    ftol: float

    def bound(self, expected, slack=0.0):
        """The largest error each element of ``expected`` allows (plus ``slack``; 0 where expected is not finite)."""
        return self.floor(expected, slack) + self.rtol * np.where(np.isfinite(expected), np.abs(expected), 0.0)

    def floor(self, expected, slack=0.0):
        """The part of ``bound`` that does not grow with the element: atol * scale + slack, the error rounding
        may leave on any element, an expected zero included."""
        return self.atol * np.abs(expected[np.isfinite(expected)]).max(initial=0.0) + slack

    def slack(self, magnitude=0.0, noise=0.0):
        return self.ctol * magnitude + self.ftol * noise


# The step is a power of two, so x +- h is exact for max-pool inputs (multiples
# of 1/8) and no perturbation reorders a window; the layers are piecewise
# linear, so a central difference is exact up to rounding whatever the step.
# ctol and ftol are multiples of the precision's epsilon: over fuzzed
# configurations of every layer and size, a right layer's own rounding stays
# below 2.2 eps * magnitude and its finite differences below 0.4 eps * noise
# (1.1 for one-sided ones), so the slack leaves a margin of about 7 and 20.
# rtol and atol are the floor for everything else: float64's 1e-9 is far below
# float32 rounding inside a layer (about 1e-7 relative), float32's 2e-5 far
# below the 5e-4 relative error a float32 check must catch.
# (benchmarks/bench_accuracy.py measures all of these.)
EPS64, EPS32 = np.finfo(np.float64).eps, np.finfo(np.float32).eps
FLOAT64 = Tolerance("float64", step=2 ** -5, rtol=1e-9, atol=1e-9, ctol=16 * EPS64, ftol=8 * EPS64)
FLOAT32 = Tolerance("float32", step=2 ** -5, rtol=2e-5, atol=2e-5, ctol=16 * EPS32, ftol=8 * EPS32)
TOLERANCES = {"float64": FLOAT64, "float32": FLOAT32}


@dataclass
class CheckResult:
    """The verdict of one named check, with everything a report needs to show where it failed.

    ``status`` is "pass", "fail" or "skip" (the check could not run because
    an earlier step failed; ``message`` says which).  For array comparisons the
    error fields describe the worst element; ``mismatches`` holds the
    positions of every mismatched element for dX and dW.  An array of the
    wrong shape is compared element by element nowhere: ``shapes`` holds
    (the shape it had, the shape expected) and ``total`` stays 0.
    """

    name: str
    status: str
    message: str = ""
    subject: str = ""
    max_abs_error: float = None
    max_rel_error: float = None
    mismatched: int = 0
    total: int = 0
    worst_index: tuple = None
    expected: float = None
    actual: float = None
    against: str = None
    mismatches: np.ndarray = None
    error: dict = None
    notes: list = field(default_factory=list)
    hints: list = field(default_factory=list)
    method: str = None
    evaluations: int = 0
    shapes: tuple = None

    @property
    def passed(self):
        return self.status != "fail"

    @property
    def fraction(self):
        return self.mismatched / self.total if self.total else 0.0

    def to_dict(self):
        data = {
            "name": self.name,
            "status": self.status,
            "passed": self.passed,
            "message": self.message,
            "max_abs_error": _finite_or_none(self.max_abs_error),
            "max_rel_error": _finite_or_none(self.max_rel_error),
            "mismatched": self.mismatched,
            "total": self.total,
            "fraction": self.fraction,
            "worst_index": None if self.worst_index is None else list(self.worst_index),
            "expected": _finite_or_none(self.expected),
            "actual": _finite_or_none(self.actual),
            "against": self.against,
            "mismatches": None if self.mismatches is None else np.argwhere(self.mismatches).tolist(),
            "notes": list(self.notes),
            "hints": list(self.hints),
            "method": self.method,
            "evaluations": self.evaluations,
        }
        if self.subject:
            data["subject"] = self.subject
        if self.error is not None:
            data["error"] = dict(self.error)
        if self.shapes is not None:
            data["shape"] = {"actual": list(self.shapes[0]), "expected": list(self.shapes[1])}
        return data

    @classmethod
    def from_dict(cls, data):
        """The CheckResult that ``to_dict`` described.

        JSON keeps the positions of the mismatched elements, not the shape of
        the array they were in: ``mismatches`` comes back as a mask just large
        enough to hold those positions.
        """
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        if values.get("worst_index") is not None:
            values["worst_index"] = tuple(values["worst_index"])
        if values.get("mismatches") is not None:
            values["mismatches"] = _mask(values["mismatches"])
        return cls(**values)


def _mask(positions):
    """A boolean array, True at ``positions`` (lists of indices), of the smallest shape holding them."""
    if not positions:
        return np.zeros(0, bool)
    index = np.array(positions, dtype=np.intp)
    mask = np.zeros(tuple(index.max(axis=0) + 1), bool)
    mask[tuple(index.T)] = True
    return mask


def _max_relative(error, want, counted):
    """max |error| / |expected| over the ``counted`` elements, as numpy.testing reports it: infinite where a
    nonzero error meets a zero."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        relative = np.where(error == 0, 0.0, error / np.abs(want))
    return float(np.nan_to_num(relative[counted], nan=np.inf, posinf=np.inf).max(initial=0.0))


def _finite_or_none(value):
    """JSON has no NaN or infinity: such a value (a relative error against an expected zero, a NaN
    from the layer) is reported as null."""
    return value if value is None or np.isfinite(value) else None


def compare(name, actual, expected, tolerance, *, slack=None, keep_positions=False):
    """Compare ``actual`` with one or more expected arrays and return a CheckResult.

    ``expected`` maps a source ("reference", "finite differences", ...) to an
    array of actual's shape; an element mismatches when it is out of
    tolerance against any source (with ``slack[source]``, see ``Tolerance``),
    or when either value is NaN or infinite.  The maximum relative error is
    over the mismatched elements and those whose expected value is above the
    tolerance's floor: below it, where rounding may leave a 1e-17 on an
    expected zero, a relative error says nothing (it would be 1 or infinite).
    The worst element is reported against the first source (in the mapping's
    order: put the most trusted first) that has mismatches, a non-finite one
    first.
    """
    total = actual.size
    worst = None  # (source, flat index)
    mismatched = np.zeros(actual.shape, bool)
    max_abs = max_rel = 0.0
    for source, want in expected.items():
        finite = np.isfinite(actual) & np.isfinite(want)
        error = np.where(finite, np.abs(np.where(finite, actual, 0.0) - np.where(finite, want, 0.0)), np.inf)
        allowed = (slack or {}).get(source, 0.0)
        bad = ~finite | (error > tolerance.bound(want, allowed))
        mismatched |= bad
        max_abs = max(max_abs, float(error.max(initial=0.0)))
        max_rel = max(max_rel, _max_relative(error, want, bad | (np.abs(want) > tolerance.floor(want, allowed))))
        if bad.any() and worst is None:
            worst = (source, int(np.argmax(np.where(bad, error, -1.0))))
    result = CheckResult(name, "pass", max_abs_error=max_abs, max_rel_error=max_rel,
                         mismatched=int(mismatched.sum()), total=total)
    if worst is not None:
        source, index = worst
        position = np.unravel_index(index, actual.shape)
        result.status = "fail"
        result.worst_index = tuple(int(i) for i in position)
        result.expected = float(expected[source][position])
        result.actual = float(actual[position])
        result.against = source
        result.message = (f"{result.mismatched} of {total} elements differ from the {source} "
                          f"({100 * result.fraction:.3g}%)")
        result.message += _non_finite_text(actual, expected)
        if keep_positions:
            result.mismatches = mismatched
    return result


def _non_finite_text(actual, expected):
    """'; 2 NaN or inf in the implementation's values' and the like, or '' when every value is finite."""
    counts = {"the implementation's values": int((~np.isfinite(actual)).sum())}
    counts.update({f"the {source}": int((~np.isfinite(want)).sum()) for source, want in expected.items()})
    return "".join(f"; {count} NaN or inf in {what}" for what, count in counts.items() if count)
