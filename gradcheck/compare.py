"""Tolerances, and turning two arrays into a finding that says where they differ and by how much."""
from dataclasses import dataclass, field, fields

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """How close is close enough for a layer computing in ``dtype``.

    An element passes when |actual - expected| <= atol * scale + rtol * |expected|,
    where scale is the largest |expected| of the array: atol is relative to the
    array's own magnitude, so the verdict does not depend on how the inputs
    were scaled.  ``step`` is the finite-difference step h.
    """

    dtype: str
    step: float
    rtol: float
    atol: float

    def bound(self, expected):
        """The largest error each element of ``expected`` allows."""
        return self.atol * np.abs(expected).max(initial=0.0) + self.rtol * np.abs(expected)


# float64: the layers are piecewise linear, so central differences are exact up
# to rounding; relative to the gradient's scale the errors over 1,000 fuzzed
# conv configurations stay below 3e-12 for dX and dW and 1e-10 for dB, and the
# tolerance is over 2,000 times the largest error (benchmarks/bench_accuracy.py);
# it still catches a 1e-4 relative error in any element larger than a
# thousandth of the array's largest.
# float32: rounding of inputs perturbed by h = 1e-2 and of float32 accumulations
# stays below 1e-5 relative; 1e-3 leaves a factor of 100.
FLOAT64 = Tolerance("float64", step=1e-3, rtol=1e-7, atol=1e-7)
FLOAT32 = Tolerance("float32", step=1e-2, rtol=1e-3, atol=1e-4)


def tolerance_for(dtype):
    """float64 tolerances for float64 (and wider) results, float32 tolerances for anything narrower."""
    return FLOAT64 if np.dtype(dtype).itemsize >= 8 else FLOAT32


@dataclass
class CheckResult:
    """The verdict of one named check, with everything a report needs to show where it failed.

    ``status`` is "pass", "fail" or "skip" (the check could not run because
    an earlier step failed; ``message`` says which).  For array comparisons the
    error fields describe the worst element; ``mismatches`` holds the
    positions of every mismatched element for dX and dW.
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
    excluded: int = 0

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
            "expected": self.expected,
            "actual": self.actual,
            "against": self.against,
            "mismatches": None if self.mismatches is None else np.argwhere(self.mismatches).tolist(),
            "notes": list(self.notes),
            "hints": list(self.hints),
            "method": self.method,
            "evaluations": self.evaluations,
            "excluded": self.excluded,
        }
        if self.subject:
            data["subject"] = self.subject
        if self.error is not None:
            data["error"] = dict(self.error)
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


def _max_relative(error, want):
    """max |error| / |expected| as numpy.testing reports it: infinite where a nonzero error meets a zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(error == 0, 0.0, error / np.abs(want))
    return float(relative.max(initial=0.0))


def _finite_or_none(value):
    """JSON has no infinity: a relative error against an expected zero is reported as null."""
    return value if value is None or np.isfinite(value) else None


def compare(name, actual, expected, tolerance, *, exclude=None, keep_positions=False):
    """Compare ``actual`` with one or more expected arrays and return a CheckResult.

    ``expected`` maps a source ("reference", "finite differences", ...) to an
    array of actual's shape; an element mismatches when it is out of
    tolerance against any source.  The worst element is reported against the
    first source (in the mapping's order: put the most trusted first) that
    has mismatches.  Elements where ``exclude`` is True (non-differentiable
    points) are left out of the verdict.
    """
    total = actual.size
    keep = np.ones(actual.shape, bool) if exclude is None else ~exclude
    worst = None  # (source, flat index)
    mismatched = np.zeros(actual.shape, bool)
    max_abs = max_rel = 0.0
    for source, want in expected.items():
        error = np.where(keep, np.abs(actual - want), 0.0)
        bad = keep & (error > tolerance.bound(np.where(keep, want, 0.0)))
        mismatched |= bad
        max_abs = max(max_abs, float(error.max(initial=0.0)))
        max_rel = max(max_rel, _max_relative(error, want))
        if bad.any() and worst is None:
            worst = (source, int(np.argmax(np.where(bad, error, -1.0))))
    result = CheckResult(name, "pass", max_abs_error=max_abs, max_rel_error=max_rel,
                         mismatched=int(mismatched.sum()), total=total, excluded=int(total - keep.sum()))
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
        if keep_positions:
            result.mismatches = mismatched
    return result
