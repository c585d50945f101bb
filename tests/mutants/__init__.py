"""Deliberately wrong layers, and right ones, to prove gradcheck tells them apart.

``conv.MUTANTS``, ``pool.MUTANTS``, ``styles.MUTANTS`` and ``layouts.MUTANTS``
register each wrong layer with the exact set of checks it must fail (empty
for the few that are right but unusual: float32, a list from backward, a
positional constructor, a function pair taking stride and pad, a
channels-last layer); ``correct`` holds right layers in several styles.  tests/test_mutants.py runs them all.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True, eq=False)
class Mutant:
    """A layer class and what gradcheck must say about it.

    ``fails``: the names of the checks with status "fail" in the report,
    exactly.  ``trigger``: a substring of a trigger fact of the finding
    that holds those checks.  ``note``: a substring of some check's notes.
    ``hint``: a substring of a hint of the finding that holds those checks.
    ``sometimes``: checks the layer is really wrong in too, but only on some
    arrays, so that whether a search shows it depends on the seed.
    ``error``: the exception type recorded on the dX failure.  ``pins``:
    dimensions pinned for the search (kept to a minimum: each one says why).
    ``kind``: "refusal" for a layer that refuses configurations on purpose
    (checked with ``strict=True``, its findings of ``fails`` are refusals, with no gradient hint).
    ``restricted``: the restriction a check that is not strict must state ("only with a square kernel"): a
    refusal layer then passes there, a layer of kind "failure" fails exactly ``fails`` there.
    ``findings``: how many findings the failing checks must have, when more than one.
    ``label``: the name in the registry, for a function registered for two layers (a pool_forward taking a mode).
    ``absent``: substrings no hint of the finding that holds ``fails`` may contain (a cause it must not be given).
    """

    cls: type
    layer: str
    fails: frozenset
    trigger: str = None
    note: str = None
    hint: str = None
    sometimes: frozenset = frozenset()
    error: str = None
    pins: dict = field(default_factory=dict)
    kind: str = "failure"
    restricted: str = None
    findings: int = None
    label: str = None
    absent: frozenset = frozenset()

    def __post_init__(self):
        object.__setattr__(self, "fails", frozenset(self.fails))
        object.__setattr__(self, "sometimes", frozenset(self.sometimes))
        object.__setattr__(self, "absent", frozenset(self.absent))

    @property
    def name(self):
        return self.label or self.cls.__name__
