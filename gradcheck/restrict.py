"""A layer that refuses part of the space by design, checked on the part it accepts.

A layer may refuse configurations on purpose (its own ``assert``, or a raise
of ValueError or NotImplementedError: ``adapters.is_refusal``): square
kernels only, no padding, a stride that divides the input.  A search
explains each refusal like a failure, with trigger facts tested as rules
("refuses only when the kernel is not square" is printed only after a search
of square kernels met no refusal).  When every refusal of a run is covered
by such rules, the run's space narrowed by their opposites (and by the
scopes the rules were tested in) is where the layer accepts everything:
``accepted_space`` finds it, and ``api.Plan.run`` checks the layer again
there, with the run's own seed and budget.  The report then says that its
verdict holds only there ("PASSED only with a square kernel") and what the
layer refuses (``Restriction``).

A refusal no rule covers (the layer refuses at random, or where no condition
gradcheck knows holds) leaves the run as it was: the refused checks fail.
So does a failure of the first run outside the accepted part, which a
restricted run would never meet again; failures inside it are checked again
first by the restricted run, so narrowing never loses one.
"""
import os
from dataclasses import dataclass, field

from .adapters import NCHW
from .fuzz import FAILURE, OPPOSITES, REFUSAL, Finding
from .layout import describe

OPPOSITE_OF_TEXT = {opposite.text: opposite for opposite in OPPOSITES.values()}


@dataclass
class Restriction:
    """Where a layer was checked instead of the whole space: ``accepted`` names the opposites of the rules its
    refusals follow ("a square kernel", "pad 0"), ``refusals`` are the refusal findings of the unrestricted run
    (what it refuses, its own line, and the rules)."""

    accepted: list
    refusals: list = field(default_factory=list)

    @property
    def text(self):
        """'only with a square kernel and pad 0'."""
        return f"only with {' and '.join(self.accepted)}"

    def statements(self, layout=NCHW):
        """One sentence per refusal: the smallest configuration the layer refused (its shapes in ``layout``, the
        layer's), how (the exception and its own line), and the rules it follows or what was seen there: 'the
        layer refuses x (1, 1, 1, 2), W (1, 1, 1, 2), kernel 1x2, stride 1, pad 0 (AssertionError: square kernels
        only, at conv.py:14: assert KH == KW); refuses only when the kernel is not square (accepted with a square
        kernel, all else equal)'."""
        return ["; ".join([f"the layer refuses {describe(finding.config, layout)} "
                           f"({_raised(finding.checks[0].error)})", *finding.triggers, *finding.observations])
                for finding in self.refusals]

    def summary(self, layout=NCHW):
        """'only with a square kernel: the layer refuses configurations only where ...': one line for a property."""
        return f"{self.text}: {' '.join(self.statements(layout))}"

    def to_dict(self):
        return {"accepted": list(self.accepted), "text": self.text,
                "refusals": [finding.to_dict() for finding in self.refusals]}

    @classmethod
    def from_dict(cls, data):
        return cls(list(data["accepted"]), [Finding.from_dict(finding) for finding in data["refusals"]])


def accepted_opposites(findings):
    """The opposites ("a square kernel", ...) of the rules the refusal ``findings`` follow, and of the scopes
    those rules were tested in, each once, in the order met."""
    opposites = {}
    for finding in findings:
        if finding.kind == REFUSAL and finding.rules:
            for opposite in [OPPOSITE_OF_TEXT[text] for text in finding.scope] + \
                    [OPPOSITES[condition] for condition in finding.rules]:
                opposites.setdefault(opposite.text, opposite)
    return list(opposites.values())


def accepted_space(space, findings):
    """The part of ``space`` (a fuzz.Space) a layer accepts, judged from its run's ``findings``, or None.

    None when the run saw no refusal, when some refusal lies inside what the
    rules leave (no rule covers it), when a failure lies outside (narrowing
    would hide it), or when no configuration is left.
    """
    refusals = [finding for finding in findings if finding.kind == REFUSAL]
    if not refusals:
        return None
    narrowed = space
    for opposite in accepted_opposites(refusals):
        narrowed = narrowed.narrowed(opposite)
        if narrowed is None:
            return None
    failures = [finding for finding in findings if finding.kind == FAILURE]
    if any(narrowed.contains(finding.config) for finding in refusals) or \
            not all(narrowed.contains(finding.config) for finding in failures):
        return None
    return narrowed


def _raised(error):
    """'AssertionError: square kernels only, at conv.py:14: assert KH == KW', the file relative to the current
    directory when it is inside it."""
    text = f"{error['type']}: {error['message']}" if error["message"] else error["type"]
    location = error.get("location", "")
    if os.path.isabs(location):
        relative = os.path.relpath(location)
        location = location if relative.startswith("..") else relative
    return f"{text}, at {location}" if location else text
