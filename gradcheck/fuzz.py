"""Search configurations with Hypothesis; shrink each distinct failure; measure what makes it disappear.

The search runs in two phases.  First ``examples`` configurations drawn from
a ``Space`` (``gradcheck.strategies`` with the run's pins and restrictions)
are checked, and every check that fails anywhere is noted.  Then, for each
such check, ``hypothesis.find`` looks for and shrinks the smallest
configuration on which that check fails.  Checks whose smallest
configurations coincide form one finding; "dB wrong everywhere" and "dX
wrong only with stride > 1" shrink to different configurations and so stay
two findings.

Around each finding one dimension at a time is varied (stride to 1, pad to
0, square input, batch 1, ...).  A variation that makes the failure
disappear, on the finding's arrays and TRIGGER_SEEDS - 1 more, is a local
fact; "fails only when stride > 1" is a claim about every configuration, so
it is tested as one: the same search, with the same seed, over
TRIGGER_EXAMPLES configurations of the opposite (stride pinned to 1, or the
drawing restricted to square inputs, ...).  Only when that search finds no
failure is the rule printed, with the hints that rest on it, and only for a
failure common enough for such a search to meet it (one in at least
RULE_RATE of the run's own examples where the condition holds).  When no rule holds, the local facts
are printed scoped to the configuration ("passes with stride 1 at this
configuration, ... but fails on other configurations with stride 1"), and a
failure a rule test met leads to a further finding of the same check, up to
FINDINGS_PER_CHECK, each searched for away from the triggers of those before
it.  Dimensions the user pinned get no trigger facts.

A layer that raises on purpose in its own code (an ``assert``, or a ``raise``
of ValueError: ``adapters.is_refusal``) refuses the configuration rather than
getting it wrong: such failures form findings of their own kind, "refusal",
explained the same way ("the layer refuses configurations only where the stride
does not divide the padded input") and given no gradient hint.

A search given ``stop_on`` exception types (the sandbox's SandboxDied: the
layer no longer runs) ends where one escapes a check and keeps what was
checked before: see ``Stop``.
"""
import dataclasses
import functools
import itertools
import math
import os
import random
import time
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, find, given, seed as hypothesis_seed, settings
from hypothesis.errors import NoSuchExample, Unsatisfiable
from hypothesis import strategies as st

from reference_layers.geometry import as_pair

from . import strata, strategies
from .adapters import is_refusal
from .checks import Stopped, check_names, run_checks
from .compare import CheckResult
from .config import Config, pair_text, windowed_kind
from .diagnose import error_hints, refusal_hints, trigger_hints
from .inputs import MAXPOOL_ONLY, make_inputs, seed_of_class, value_class, value_classes
from .strategies import seeds

DEFAULT_EXAMPLES = 30
TRIGGER_SEEDS = 5  # data seeds a variation must pass on before it counts as a trigger fact
TRIGGER_EXAMPLES = 100  # configurations of the opposite a trigger fact must pass on before it is printed as a rule
TRIGGER_ROUNDS = 4  # searches of the opposite, each with a seed of its own, to reach TRIGGER_EXAMPLES distinct ones
SLOPE_EXAMPLES = 20  # of those, the ones a rule about a wrong forward is also tested on by finite differences
FINDINGS_PER_CHECK = 3  # distinct findings reported for one check at most
# A rule is tested only for a failure seen in at least this share of the run's examples where its condition holds: a
# search of the opposite then misses a failure as common with probability (1 - RULE_RATE) ** TRIGGER_EXAMPLES, 1e-7.
RULE_RATE = 0.15
FAILURE, REFUSAL = "failure", "refusal"


@dataclass(frozen=True)
class Opposite:
    """Where a trigger condition does not hold, described by ``text``: ``pins`` and ``restrict`` (restrictions)
    for ``strategies.configs``, or ``excluded``: conditions of EXCLUDABLE whose configurations are left out."""

    text: str
    pins: dict = field(default_factory=dict)
    restrict: dict = field(default_factory=dict)
    excluded: tuple = ()


# Conditions no pin or restriction of the drawing can undo: their opposites are drawn by leaving them out.
EXCLUDABLE = {
    "the kernel is even": lambda config: any(k % 2 == 0 for k in config.kernel),
    "stride == kernel": strata.tiles,
}


OPPOSITES = {
    "stride > 1": Opposite("stride 1", {"stride": 1}),
    "pad > 0": Opposite("pad 0", {"pad": 0}),
    "pad = 0": Opposite("pad > 0", restrict={"padded": True}),
    "dilation > 1": Opposite("dilation 1", {"dilation": 1}),
    "batch > 1": Opposite("batch 1", {"batch": 1}),
    "channels > 1": Opposite("1 channel", {"channels": 1}),
    "filters > 1": Opposite("1 filter", {"filters": 1}),
    "filters != channels": Opposite("as many filters as channels", restrict={"same_depth": True}),
    "the input is not square": Opposite("a square input", restrict={"square": ("size",)}),
    "the kernel is not square": Opposite("a square kernel", restrict={"square": ("kernel",)}),
    "the kernel is not 3x3": Opposite("a 3x3 kernel", {"kernel": 3}),
    "pooling windows overlap": Opposite("windows that do not overlap", restrict={"overlapping": False}),
    "the stride does not divide the padded input": Opposite("an input the stride divides",
                                                            restrict={"divisible": True}),
    "the kernel is even": Opposite("an odd kernel", excluded=("the kernel is even",)),
    "stride == kernel": Opposite("a stride other than the kernel", excluded=("stride == kernel",)),
}
# A rule implied by a stronger one says nothing more, and its hint would point the wrong way: a kernel that is not
# square, or even, is not 3x3 either; a stride that does not divide the input, or equals the kernel, is more than 1.
IMPLIED = {"the kernel is not 3x3": ("the kernel is not square", "the kernel is even"),
           "stride > 1": ("the stride does not divide the padded input", "stride == kernel")}


@dataclass(frozen=True)
class Space:
    """The configurations a search draws from: ``strategies.configs(layer, ...)`` with the run's ``pins``,
    ``per_axis`` and restrictions (``restrict``), narrowed by the ``scope`` of opposites a further finding is
    searched in ("stride 1", ...)."""

    layer: str
    pins: dict
    per_axis: bool = True
    restrict: dict = field(default_factory=dict)
    scope: tuple = ()
    excluded: tuple = ()  # conditions of EXCLUDABLE left out

    def strategy(self, excluding=True):
        """The configurations of this space; with ``excluding`` False, those of the conditions it leaves out too
        (a draw that must fall in a class then checks ``allows`` itself: a filter that never passes would make
        Hypothesis give up on the whole example)."""
        drawn = strategies.configs(self.layer, per_axis=self.per_axis, **self.pins, **self.restrict)
        return drawn.filter(self._kept) if self.excluded and excluding else drawn

    def _kept(self, config):
        return not any(EXCLUDABLE[condition](config) for condition in self.excluded)

    def narrowed(self, opposite):
        """This space where ``opposite`` holds too (its pins added, its restrictions joined), or None when no
        configuration is left."""
        restrict = dict(self.restrict, **opposite.restrict)
        if "square" in opposite.restrict:
            restrict["square"] = tuple(sorted({*self.restrict.get("square", ()), *opposite.restrict["square"]}))
        space = Space(self.layer, {**self.pins, **opposite.pins}, self.per_axis, restrict,
                      self.scope + (opposite.text,), tuple(dict.fromkeys(self.excluded + opposite.excluded)))
        try:
            space.strategy()
        except ValueError:
            return None
        return space

    def within(self, draw):
        """This space narrowed to a stratum's ``draw`` (pins, and "divisible" for that restriction), or None when
        the draw contradicts the run's pins or leaves no configuration."""
        pins = dict(draw)
        restrict = dict(self.restrict, divisible=True) if pins.pop("divisible", False) else self.restrict
        if any(name in self.pins and _pin(name, self.pins[name]) != _pin(name, value) for name, value in pins.items()):
            return None
        space = dataclasses.replace(self, pins={**self.pins, **pins}, restrict=restrict)
        try:
            space.strategy()
        except ValueError:
            return None
        return space

    def contains(self, config):
        """Whether ``config`` could be drawn here: its pins and restrictions hold.  A variation that changes a
        pinned dimension is outside, so no trigger fact is ever about a dimension the user pinned."""
        return all(getattr(config, name) == _pin(name, value) for name, value in self.pins.items()) and \
            self.allows(config)

    def allows(self, config):
        """Whether ``config`` meets this space's restrictions (its pins aside)."""
        restrict = self.restrict
        return all([
            not restrict.get("divisible") or config.remainders == (0, 0),
            all(getattr(config, name)[0] == getattr(config, name)[1] for name in restrict.get("square", ())),
            not restrict.get("same_depth") or config.filters == config.channels,
            restrict.get("overlapping", True) or not config.windows_overlap,
            not restrict.get("padded") or min(config.pad) >= 1,
            all(low <= value <= high for name, (low, high) in restrict.get("bounds", ())
                for value in _entries(getattr(config, name))),
            self._kept(config),
        ])

    @property
    def scope_text(self):
        """"with stride 1 and a square input", or "" for the run's own space."""
        return f"with {' and '.join(self.scope)}" if self.scope else ""


def _entries(value):
    """A dimension's values: both axes of a pair, or a count alone."""
    return value if isinstance(value, tuple) else (value,)


def _pin(name, value):
    """A pin as the Config holds it: an int for the counts, an (h, w) pair for the geometry."""
    return value if name in ("batch", "channels", "filters") else as_pair(value, name, 0)


@dataclass
class Finding:
    """One distinct failure: the smallest configuration (and data seed) on which ``checks`` fail.

    ``kind`` is "failure", or "refusal" when the layer raised on purpose in its
    own code (an assert or a ValueError): ``refusal`` then says what it
    refuses.  ``triggers`` are rules tested over their opposite;
    ``observations`` facts seen at this configuration only.  ``scope`` names
    the opposites of earlier findings' facts this one was searched in.
    """

    subject: str
    config: object
    seed: int
    checks: list  # CheckResults of the checks this configuration is the smallest failure of
    also_failing: list = field(default_factory=list)  # names of other checks failing here too
    triggers: list = field(default_factory=list)
    hints: list = field(default_factory=list)
    shrunk: bool = True
    reproduce: str = ""
    kind: str = FAILURE
    observations: list = field(default_factory=list)
    scope: tuple = ()
    refusal: str = ""
    rules: list = field(default_factory=list)  # the trigger conditions that held as rules

    @property
    def names(self):
        return [r.name for r in self.checks]

    def to_dict(self):
        data = {
            "config": self.config.to_dict(),
            "seed": self.seed,
            "checks": [r.name for r in self.checks],
            "also_failing": list(self.also_failing),
            "details": [r.to_dict() for r in self.checks],
            "triggers": list(self.triggers),
            "hints": list(self.hints),
            "shrunk": self.shrunk,
            "reproduce": self.reproduce,
            "kind": self.kind,
            "observations": list(self.observations),
            "scope": list(self.scope),
            "rules": list(self.rules),
        }
        if self.refusal:
            data["refusal"] = self.refusal
        if self.subject:
            data["subject"] = self.subject
        return data

    @classmethod
    def from_dict(cls, data):
        """The Finding that ``to_dict`` described."""
        return cls(data.get("subject", ""), Config.from_dict(data["config"]), data["seed"],
                   [CheckResult.from_dict(check) for check in data["details"]], list(data["also_failing"]),
                   list(data["triggers"]), list(data["hints"]), data["shrunk"], data["reproduce"],
                   data.get("kind", FAILURE), list(data.get("observations", [])), tuple(data.get("scope", [])),
                   data.get("refusal", ""), list(data.get("rules", [])))


@dataclass
class Stop:
    """Where a search ended early: ``reason`` (the message of the exception that escaped) while ``check`` ran
    on ``config`` with data ``seed``.

    ``phase`` "search": after ``completed`` configurations; the summary keeps
    every check's verdict over them and the checks that completed on the
    configuration it stopped on, the running check fails with the reason, as
    does every other check left unfinished on that configuration, and a check
    never reached is skipped.  "explain": every configuration had
    been checked; only the shrinking of failures and their trigger facts were
    cut short (findings are then the first failures, unshrunk).
    """

    reason: str
    check: str
    config: object
    seed: int
    phase: str
    completed: int
    reproduce: str = ""

    def to_dict(self):
        return {"reason": self.reason, "check": self.check, "config": self.config.to_dict(), "seed": self.seed,
                "phase": self.phase, "completed": self.completed, "reproduce": self.reproduce}

    @classmethod
    def from_dict(cls, data):
        return cls(**dict(data, config=Config.from_dict(data["config"])))


@dataclass
class Search:
    """What a search saw: a summary result per (subject, check), the findings, how many examples ran, the
    range of every dimension over them (``covered``: name -> [min, max], per axis for pairs), the finite
    differences that ran (``methods``: check -> method -> [configurations, forward evaluations]), where it
    stopped early (``stop``, or None) and the geometry classes of ``gradcheck.strata`` (``classes``: those its
    examples were in, "reached"; those the space holds none of, "excluded"; and, when it stopped before
    reaching every class, those it did not reach, "missed"), with the classes of values its data seeds made
    ("values")."""

    summary: list
    findings: list
    examples: int
    covered: dict
    methods: dict
    stop: Stop = None
    classes: dict = field(default_factory=dict)
    passes: dict = field(default_factory=dict)  # check name -> examples the user's layer (subject "") passed it on


def run_search(layer, implementations, space, *, examples=DEFAULT_EXAMPLES, seed=0, method="auto",
               progress=None, label=None, fixed=None, precision="float64", stop_on=(), carry=()):
    """Explore ``space`` (a Space of Configs) for every implementation; shrink and explain each failure.

    ``implementations`` maps a subject name ("" for a single user layer) to
    an Implementation.  ``fixed`` = (config, data seed) checks that one
    example instead of searching.  ``progress(done, total)`` is called as
    examples run; ``label(finding)`` returns the reproduction command for a
    finding.  Inputs are built in ``precision``; ``method`` chooses the finite differences.
    An exception of a type in ``stop_on`` ends the search early (``Search.stop``).
    ``carry`` holds (config, data seed) examples of ``space`` checked first, within the budget: failures an
    earlier search met, so that a search of a narrower space cannot miss them.
    """
    return _Searcher(layer, implementations, space, examples, seed, method, progress, fixed, precision,
                     stop_on, carry).run(label)


def refused(result):
    """Whether a check failed because the layer refused the configuration (see ``adapters.is_refusal``)."""
    return result.status == "fail" and is_refusal(result.error)


def _kind(result):
    return REFUSAL if refused(result) else FAILURE


@dataclass
class _Lead:
    """A failure met while testing a rule: where it was found, to be shrunk into a further finding."""

    space: Space
    example: tuple


class _Searcher:
    def __init__(self, layer, implementations, space, examples, seed, method, progress, fixed, precision,
                 stop_on=(), carry=()):
        self.layer = layer
        self.implementations = implementations
        self.fixed = fixed
        self.space = space
        self.budget = 1 if fixed else examples
        self.seed = seed
        self.method = method
        self.precision = precision
        self.progress = progress or (lambda done, total: None)
        self.cache = {}
        self.summary = {}  # (subject, check name) -> CheckResult summarizing every example
        self.first_failure = {}  # (subject, check name, kind) -> (config, seed)
        self.explored = []  # ((config, seed), {(subject, check name, kind) failing}) for each example searched
        self.count = 0
        self.covered = {}
        self.methods = {}
        # seconds spent in run_checks, and how many examples they ran: of every check, and of some alone (``only``)
        self.spent = {"whole": [0.0, 0], "alone": [0.0, 0]}
        self.stop_on = stop_on
        self.passes = {}  # (subject, check name) -> configurations it passed on
        self.current = None  # (subject, config, seed) being checked
        self.carry = list(carry)
        self.excluded = None  # the geometry classes the space holds no configuration of, once the search ended

    def run(self, label):
        stop = None
        try:
            self._explore()
        except Stopped as stopped:
            stop = self._stopped_searching(stopped)
        try:
            findings = self._explain_all() if stop is None else self._first_failures()
        except Stopped as stopped:
            stop = self._stop(stopped, "explain")
            findings = self._first_failures()
        for finding in findings:
            finding.reproduce = label(finding) if label else ""
        summary = [self.summary[key] for key in sorted(self.summary, key=self._order)]
        examples = [example for example, _ in self.explored]
        reached = set().union(*(strata.reached(self.layer, config) for config, _ in examples))
        missing_values = self._missing_values(examples)
        names = [stratum.name for stratum in strata.strata(self.layer)]
        unfinished = self.excluded is None  # stopped before the class phase
        classes = {} if self.fixed else {"reached": [name for name in names if name in reached],
                                         "excluded": [name for name in names if name in (self.excluded or ())],
                                         "missed": [name for name in names if name not in reached and unfinished],
                                         "values": [name for name in value_classes(self.layer)
                                                    if name not in missing_values]}
        passes = {name: count for (subject, name), count in self.passes.items() if subject == ""}
        return Search(summary, findings, self.count, self.covered, self.methods, stop, classes, passes)

    def _explain_all(self):
        """The findings: each failure shrunk and explained, with further findings of its checks."""
        findings, explained = [], set()
        while len(explained) < len(self.first_failure):  # explaining may meet failures of other checks
            failures = {key: example for key, example in self.first_failure.items() if key not in explained}
            explained |= set(failures)
            for finding in self._findings(failures):
                findings += self._chain(finding, findings)
        return findings

    def _stop(self, stopped, phase):
        _, config, seed = self.current
        return Stop(str(stopped.cause), stopped.check, config, seed, phase, self.count)

    def _stopped_searching(self, stopped):
        """Keep what the search saw before ``stopped``: the checks completed on the configuration it stopped on
        count, the running one fails, and so does every other one left unfinished there (had the layer not
        stopped, it might have failed it: stopping must never score better than failing); one never reached
        anywhere stays skipped; each check that passed says on how many configurations."""
        subject, config, seed = self.current
        self.cache[self.current] = stopped.results  # a failure first seen there needs no rerun for its finding
        completed = [r for r in stopped.results if r.name != stopped.check and r.status != "skip"]
        self._note_failures(subject, completed, (config, seed))
        for result in completed:
            self._record(subject, result)
        running = next(result for result in stopped.results if result.name == stopped.check)
        if self.summary.get((subject, running.name), running).status != "fail":
            self.summary[(subject, running.name)] = running
        for result in stopped.results:
            key = (subject, result.name)
            seen = self.summary.setdefault(key, result)
            if seen.status != "pass":
                continue
            passed = f"passed on {self.passes[key]} of {self.budget} configurations"
            if result.status == "skip":  # not reached on the configuration where the run stopped: it may fail there
                self.summary[key] = CheckResult(result.name, "fail", f"{passed}, but not on the one where the run "
                                                f"stopped ({stopped.cause}): a check left unfinished fails")
            else:
                seen.message = f"{passed}; not checked on the others: the run stopped ({stopped.cause})"
        return self._stop(stopped, "search")

    def _first_failures(self):
        """Findings without shrinking or trigger facts (no more calls of the layer): each check at the first
        configuration it failed on."""
        return self._findings(self.first_failure, shrink=False)

    def _order(self, key):
        subject, name = key[:2]
        return list(self.implementations).index(subject), check_names(self.layer).index(name)

    def checks(self, subject, config, seed, only=None):
        """run_checks, memoized: shrinking and trigger facts revisit examples.  With ``only`` (check names), those
        checks alone (run_checks's ``only``: what a search for a counterexample needs), or every check where they
        all ran already.  A failure in a whole run of a check not seen failing before is noted, to be explained
        too."""
        whole = (subject, config, seed)
        key = whole if only is None else whole + (tuple(sorted(only)),)
        if whole in self.cache:
            return self.cache[whole]
        if key not in self.cache:
            self.current = whole
            started = time.monotonic()
            self.cache[key] = run_checks(config, make_inputs(config, seed, self.precision),
                                         self.implementations[subject], method=self.method, subject_name=subject,
                                         stop_on=self.stop_on, only=only)
            spent = self.spent["whole" if only is None else "alone"]
            spent[:] = spent[0] + time.monotonic() - started, spent[1] + 1
            if only is None:
                self._note_failures(subject, self.cache[key], (config, seed))
        return self.cache[key]

    def _verdicts_for(self, finding):
        """How a search for a counterexample to ``finding``'s rules runs an example: its checks alone (``checks``'s
        ``only``).  A wrong forward's verdict can also rest on the finite differences of every gradient (its values
        right, its slope not): every check runs on the first SLOPE_EXAMPLES examples, its values alone judge the
        others.  A refusal is one however forward's values compare."""
        def alone(example):
            return self.checks(finding.subject, *example, only=finding.names)
        if finding.kind == REFUSAL or "forward" not in finding.names:
            return alone
        whole = set()

        def run(example):
            if len(whole) < SLOPE_EXAMPLES or example in whole:
                whole.add(example)
                return self.checks(finding.subject, *example)
            return alone(example)
        return run

    def _note_failures(self, subject, results, example):
        for result in results:
            if result.status == "fail":
                self.first_failure.setdefault((subject, result.name, _kind(result)), example)

    def _settings(self, phases, examples):
        return settings(max_examples=examples, phases=phases, database=None, deadline=None,
                        derandomize=False, suppress_health_check=list(HealthCheck), print_blob=False,
                        report_multiple_bugs=False)

    def _explore(self):
        if self.fixed:
            return self._check_example(self.fixed)
        for example in self.carry:
            self._check_example(example)
        if self.count < self.budget:
            @hypothesis_seed(self.seed)
            @self._settings([Phase.generate], self.budget - self.count)
            @given(st.tuples(self.space.strategy(), seeds()))
            def explore(example):
                self._check_example(example)

            explore()
        self.excluded = self._strata(self.space, [example for example, _ in self.explored], self._check_example)

    def _strata(self, space, examples, visit):
        """Call ``visit`` on one example of each class of ``gradcheck.strata`` that none of ``examples`` is in,
        drawn with the run's seed from ``space`` narrowed to that class, until ``visit`` returns True.  Those
        examples, and then the largest configurations again, take data seeds of the classes of values
        (``gradcheck.inputs.value_classes``) no example had yet, one each.  Returns the names of the
        geometry classes ``space`` holds no configuration of (its pins exclude them).

        One Hypothesis example draws one configuration of every such class (what it draws may depend on its
        choices only); the examples of Hypothesis's second draw are visited, in the order of the classes, each
        while its class is still missing.  The first draw, the simplest of all, is passed over: it would give
        every class its smallest configuration.  A class its draws did not reach (or whose draws all contradict
        the pins) is looked for in a small grid (``_grid_example``): found, its first configuration there is
        visited; not found, the space holds none and the class is excluded.
        """
        examples = list(examples)
        reached = set().union(*(strata.reached(self.layer, config) for config, _ in examples))
        spaces = {stratum: [narrowed for draw in stratum.narrowings(self.layer)
                            if (narrowed := space.within(draw)) is not None]
                  for stratum in strata.strata(self.layer)}
        todo = [stratum for stratum in spaces if stratum.name not in reached]
        excluded, draws = [], []

        @hypothesis_seed(self.seed)
        @self._settings([Phase.generate], 2)
        @given(st.data())
        def draw_every_class(data):
            draws.append([(stratum, _draw_of(data, stratum, spaces[stratum])) for stratum in todo if spaces[stratum]])

        if todo:
            draw_every_class()
        drawn = dict(draws[-1]) if draws else {}
        for stratum in todo:
            if stratum.name in reached:
                continue
            example = drawn.get(stratum) or _grid_example(space, stratum, self.seed)
            if example is None:
                excluded.append(stratum.name)
                continue
            reached.update(strata.reached(self.layer, example[0]))
            example = self._with_values(example, examples, ordered=False)
            examples.append(example)
            if visit(example):
                return excluded
        by_size = sorted(dict.fromkeys(examples), key=lambda example: -math.prod(example[0].out_shape))
        for example in by_size:  # the largest configurations, where a class of values shows most
            if self._missing_values(examples):
                examples.append(self._with_values(example, examples))
                if visit(examples[-1]):
                    break
        return excluded

    def _missing_values(self, examples):
        """The classes of values (``gradcheck.inputs.value_classes``) no data seed of ``examples`` made."""
        had = {value_class(seed, self.layer) for _, seed in examples}
        return [name for name in value_classes(self.layer) if name not in had]

    def _with_values(self, example, examples, ordered=True):
        """``example`` with its data seed moved to the first class of values ``examples`` lack, if any; without
        ``ordered``, not to a class that puts every window's maximum in one place (on the window's diagonal,
        where a maximum and its mirror coincide: a geometry class's example must not hide a bug that way)."""
        missing = [name for name in self._missing_values(examples) if ordered or name not in MAXPOOL_ONLY]
        return (example[0], seed_of_class(example[1], missing[0])) if missing else example

    def _check_example(self, example):
        failing = set()
        for subject in self.implementations:
            for result in self.checks(subject, *example):
                self._record(subject, result)
                if result.status == "fail":
                    failing.add((subject, result.name, _kind(result)))
        self.explored.append((tuple(example), failing))
        self._cover(example[0])
        self.count += 1
        self.progress(self.count, self.budget)

    def _cover(self, config):
        """Widen the [min, max] of every dimension (per axis for pairs, and the outputs) to take in ``config``."""
        dims = {name: value for name, value in config.to_dict().items() if name != "layer"}
        dims["outputs"] = list(config.out_shape[2:])
        for name, value in dims.items():
            if isinstance(value, list):
                seen = self.covered.setdefault(name, [[v, v] for v in value])
                for axis, v in enumerate(value):
                    seen[axis] = [min(seen[axis][0], v), max(seen[axis][1], v)]
            else:
                low, high = self.covered.get(name, [value, value])
                self.covered[name] = [min(low, value), max(high, value)]

    def _record(self, subject, result):
        if result.method:
            tally = self.methods.setdefault(result.name, {}).setdefault(result.method, [0, 0])
            tally[0] += 1
            tally[1] += result.evaluations
        key = (subject, result.name)
        self.passes[key] = self.passes.get(key, 0) + (result.status == "pass")
        seen = self.summary.get(key)
        if seen is None or _rank(result) > _rank(seen):
            self.summary[key] = _summary_copy(result)
        elif result.status == "pass" and seen.status == "pass":
            for attribute in ("max_abs_error", "max_rel_error"):
                new = getattr(result, attribute)
                if new is not None and (getattr(seen, attribute) is None or new > getattr(seen, attribute)):
                    setattr(seen, attribute, new)

    # -- findings ---------------------------------------------------------------------------------------------
    def _findings(self, failures, shrink=True):
        """Shrink each (subject, check, kind) of ``failures`` on its own (unless not ``shrink``); those sharing
        a smallest configuration form one finding.  The summary shows each check at its smallest failure (a wrong
        value before a refusal)."""
        minimal = {}  # (subject, kind, config, seed) -> [check names]
        shrunk = {}
        for (subject, name, kind), example in sorted(failures.items(), key=lambda kv: (self._order(kv[0]),
                                                                                       kv[0][2] == REFUSAL)):
            found, ok = self._shrink(self.space, self._fails(subject, [name], kind), example, subject) if shrink \
                else (tuple(example), False)
            key = (subject, kind) + found
            minimal.setdefault(key, []).append(name)
            shrunk[key] = shrunk.get(key, True) and ok
        findings = [self._finding(*key, names, shrunk[key]) for key, names in minimal.items()]
        for finding in sorted(findings, key=lambda f: f.kind == FAILURE):
            for result in finding.checks:
                self.summary[(finding.subject, result.name)] = result
        return findings

    def _finding(self, subject, kind, config, data_seed, names, shrunk, scope=()):
        results = self.checks(subject, config, data_seed)
        failing = [r for r in results if r.status == "fail"]
        mine = [r for r in failing if r.name in names and _kind(r) == kind]
        others = [r.name for r in failing if not any(r is m for m in mine)]
        return Finding(subject, config, data_seed, checks=mine, also_failing=others, shrunk=shrunk, kind=kind,
                       scope=scope)

    def _fails(self, subject, names, kind, run=None):
        """The predicate on examples: some check of ``names`` fails there, in the way of ``kind``; ``run`` gives
        the results of an example (every check's, by default)."""
        run = run or (lambda example: self.checks(subject, *example))

        def fails(example):
            return any(r.name in names and r.status == "fail" and _kind(r) == kind for r in run(example))
        return fails

    def _rule_affordable(self, finding):
        """Whether a rule search for ``finding`` fits in the time left (``_affordable``): TRIGGER_EXAMPLES runs of
        its checks alone, costed by those run so far (until one has, by a third of a whole run's cost), but
        SLOPE_EXAMPLES whole runs for a wrong forward."""
        whole = _mean(self.spent["whole"])
        alone = _mean(self.spent["alone"]) if self.spent["alone"][1] else whole / 3
        slope = SLOPE_EXAMPLES if finding.kind == FAILURE and "forward" in finding.names else 0
        return self._affordable(finding.subject, slope + (TRIGGER_EXAMPLES - slope) * alone / max(whole, 1e-9))

    def _affordable(self, subject, examples):
        """Whether ``examples`` more examples fit in the time the implementation has left, if it is limited (a
        sandbox's), with a margin of two: explaining a failure must not cost the verdict already reached."""
        time_left = getattr(self.implementations[subject], "time_left", None)
        if time_left is None:
            return True
        return time_left() > 2 * examples * _mean(self.spent["whole"])

    def _shrink(self, space, fails, example, subject):
        """The smallest example of ``space`` on which ``fails``, by hypothesis.find; (example, shrunk?)."""
        budget = max(self.budget, 10) * 2
        if self.fixed or not self._affordable(subject, budget):
            return tuple(example), False
        try:
            found = find(st.tuples(space.strategy(), seeds()), fails,
                         settings=self._settings([Phase.generate, Phase.shrink], budget),
                         random=random.Random(self.seed))
            return tuple(found), True
        except (NoSuchExample, Unsatisfiable):  # find's own search missed it; keep the failure met, unshrunk
            return tuple(example), False

    def _chain(self, first, earlier):
        """``first`` explained, then further findings of its checks while none of them has FINDINGS_PER_CHECK
        findings (``earlier`` ones included).

        A rule that held covers every failure of its checks, so a further
        finding is searched for only while the findings before it hold none:
        from a failure one of their rule tests met, away from the trigger it
        tested, shrunk in that narrowed space and kept when its configuration is new.
        """
        chain = [first]
        leads = self._explain(first, self.space)
        fails = self._fails(first.subject, first.names, first.kind)

        def room():
            return all(sum(f.subject == first.subject and name in f.names for f in earlier + chain)
                       < FINDINGS_PER_CHECK for name in first.names)

        while leads and room() and not any(finding.rules for finding in chain):
            lead = leads.pop(0)
            (config, data_seed), ok = self._shrink(lead.space, fails, lead.example, first.subject)
            if any(finding.config == config for finding in chain):
                continue
            chain.append(self._finding(first.subject, first.kind, config, data_seed, first.names, ok,
                                       lead.space.scope))
            leads += self._explain(chain[-1], lead.space)
        return chain

    def _explain(self, finding, space):
        """Trigger facts and hints of ``finding`` (in ``space``); returns the leads its rule tests met.

        A variation counts when the finding's checks pass there (for a
        refusal: are accepted) on the finding's arrays and on
        TRIGGER_SEEDS - 1 more; it becomes a rule when a search of the
        opposite finds no failure either.
        """
        fails = self._fails(finding.subject, finding.names, finding.kind, self._verdicts_for(finding))
        rules, observations, leads, untested = [], [], [], []
        for condition, change, variant in self._local_facts(finding, space):
            opposite = OPPOSITES[condition]
            seen, where = self._seen_where(finding, opposite)
            common = seen > 0 and seen >= RULE_RATE * where
            affordable = self._rule_affordable(finding)
            narrowed = space.narrowed(opposite) if common and affordable else None
            counter, searched = self._counterexample(narrowed, fails) if narrowed is not None else (None, 0)
            if counter is None and searched >= TRIGGER_EXAMPLES:
                rules.append((condition, change, f"{searched} configurations with {opposite.text}"))
                continue
            observations.append((condition, change, opposite, counter is not None))
            if counter is not None:
                leads.append(_Lead(narrowed, counter))
            elif narrowed is not None:
                untested.append(f"no rule is drawn for {condition}: only {searched} configurations with "
                                f"{opposite.text} could be drawn, fewer than the {TRIGGER_EXAMPLES} a rule needs")
            elif not common:
                untested.append(_rare_text(finding, seen, where, condition))
            elif not affordable:
                untested.append("no rule is drawn from these: the time limit left no room to test one")
        rules = [rule for rule in rules if not set(IMPLIED.get(rule[0], ())) & {r for r, _, _ in rules}]
        finding.rules = [condition for condition, _, _ in rules]
        finding.triggers = [_rule_text(finding, space, *rule) for rule in rules]
        if not rules:  # with a rule, the other facts seen here are coincidences: left out
            finding.observations = [_observation_text(finding, *fact) for fact in observations]
            finding.observations += list(dict.fromkeys(untested))
        finding.hints = _hints(finding, finding.rules, self.checks(finding.subject, finding.config, finding.seed))
        if finding.kind == REFUSAL:
            finding.refusal = _refusal_text(finding, finding.rules)
        return leads

    def _seen_where(self, finding, opposite):
        """(examples of the run's search where the finding's checks failed, examples there were) among those
        where the condition whose ``opposite`` this is holds."""
        outside = Space(self.layer, opposite.pins, restrict=opposite.restrict, excluded=opposite.excluded)
        where = [failing for (config, _), failing in self.explored if not outside.contains(config)]
        keys = {(finding.subject, name, finding.kind) for name in finding.names}
        return sum(bool(keys & failing) for failing in where), len(where)

    def _local_facts(self, finding, space):
        """(condition, change, variant) for each variation of the finding's configuration, within ``space``, that
        clears its checks."""
        for condition, change, variant in () if self.fixed else variations(finding.config):
            if not space.contains(variant) or (condition == "pad = 0" and space.per_axis):
                continue  # a pinned dimension changed; "pad = 0" is tested as a rule only where pads are shared
            if self._affordable(finding.subject, TRIGGER_SEEDS) and self._clears(finding, variant):
                yield condition, change, variant

    def _clears(self, finding, variant):
        """The finding's checks pass on ``variant`` (a refusal: are not refused), on TRIGGER_SEEDS data seeds."""
        for data_seed in _data_seeds(finding):
            results = [r for r in self.checks(finding.subject, variant, data_seed) if r.name in finding.names]
            if finding.kind == REFUSAL and any(refused(r) for r in results):
                return False
            if finding.kind == FAILURE and any(r.status != "pass" for r in results):
                return False
        return True

    def _counterexample(self, space, fails):
        """(the first example of ``space`` on which ``fails``, or None; how many distinct examples were searched):
        first TRIGGER_EXAMPLES distinct ones drawn with the run's seed (Hypothesis draws some twice: a search of
        what is missing follows with the next seed, up to TRIGGER_ROUNDS searches), then one of each geometry class
        and class of values they missed (``_strata``).  A rule needs TRIGGER_EXAMPLES searched."""
        searched = {}

        def counted(example):
            searched[example] = fails(example)
            return searched[example]

        def drawn(example):
            if example not in searched and len(searched) >= TRIGGER_EXAMPLES:
                return False  # enough: the rest of this search's draws are not checked
            return counted(example)
        for round_ in range(TRIGGER_ROUNDS):
            before = len(searched)
            try:
                found = find(st.tuples(space.strategy(), seeds()), drawn, random=random.Random(self.seed + round_),
                             settings=self._settings([Phase.generate], TRIGGER_EXAMPLES))
                return tuple(found), len(searched)
            except (NoSuchExample, Unsatisfiable):
                pass
            if len(searched) == before or len(searched) >= TRIGGER_EXAMPLES:  # no more to draw, or enough
                break
        self._strata(space, list(searched), counted)
        failing = [example for example, failed in searched.items() if failed]
        return (failing[0] if failing else None), len(searched)


def _draw_of(data, stratum, spaces):
    """(a configuration of ``stratum`` drawn from the first of ``spaces`` that gives one within its attempts,
    a data seed), or None."""
    for space in spaces:
        for _ in range(stratum.attempts):
            config = data.draw(space.strategy(excluding=False))
            if stratum.holds(config) and space.allows(config):
                return config, data.draw(seeds())
    return None


def _grid_example(space, stratum, seed):
    """(the first configuration of ``space`` in a small grid where ``stratum`` holds, ``seed``), or None: whether
    pins that the class's draws did not contradict still leave room for it (stride 1, pad 1 and kernel 1 leave
    no 1x1 output).  The grid spans each free dimension over the values the classes are about: counts 1 and 2,
    sides up to 12, kernels up to 7, strides up to 5, pads up to 4, dilations 1 and 2; pins stay pinned."""
    pins = tuple(sorted((name, _pin(name, value)) for name, value in space.pins.items()))
    config = _first_in_grid(space.layer, space.per_axis, pins, tuple(sorted(space.restrict.items())), space.excluded,
                            stratum)
    return None if config is None else (config, seed)


@functools.lru_cache(maxsize=4096)
def _first_in_grid(layer, per_axis, pins, restrict, excluded, stratum):
    """``_grid_example``'s search, remembered: rule tests ask it again for the same narrowed spaces."""
    space = Space(layer, dict(pins), per_axis, dict(restrict), excluded=excluded)
    weights = windowed_kind(layer).weights  # filters and dilation are conv's dimensions

    def values(name, free):
        """The pin of ``name``, or its ``free`` grid values kept to its bounds (or, when the grid has none
        there, the bounds' first values)."""
        if name in space.pins:
            return [space.pins[name]]
        low, high = dict(space.restrict.get("bounds", ())).get(name, (-math.inf, math.inf))
        inside = [value for value in free if low <= min(_entries(value)) <= max(_entries(value)) <= high]
        if inside or low == -math.inf:
            return inside
        firsts = range(low, min(high, low + 4) + 1)
        return list(firsts) if name in ("batch", "channels", "filters") else [(v, v) for v in firsts]

    sides = [(n, m) for n in range(1, 13) for m in (n, n + 1)]
    kernels = [(k, k) for k in range(1, 8)] + [(1, 2), (2, 3), (3, 2)]
    geometry = itertools.product(values("size", sides), values("kernel", kernels),
                                 values("stride", [(s, s) for s in range(1, 6)]),
                                 values("pad", [(p, p) for p in range(5)]),
                                 values("dilation", [(1, 1), (2, 2)] if weights else [(1, 1)]))
    counts = list(itertools.product(values("batch", [2, 1]), values("channels", [2, 1]),
                                    values("filters", [2, 1] if weights else [0])))
    for size, kernel, stride, pad, dilation in geometry:
        if any(n + 2 * p < d * (k - 1) + 1 for n, p, d, k in zip(size, pad, dilation, kernel)):
            continue  # the window does not fit, whatever the counts
        for batch, channels, filters in counts:
            try:
                config = Config(layer, batch, channels, size, kernel, stride, pad, filters, dilation)
            except ValueError:  # a pool padded more than half its window, whatever the counts
                break
            if not space.allows(config):  # the grid keeps to the pins; the restrictions are checked here
                continue
            if stratum.holds(config):
                return config
            if not stratum.counts:
                break  # the geometry alone decides this class
    return None


def _mean(spent):
    """Seconds per example of a tally [seconds, examples] (0 before any)."""
    return spent[0] / max(1, spent[1])


def _data_seeds(finding):
    """The finding's data seed and TRIGGER_SEEDS - 1 more: the sets of arrays a trigger fact is measured on."""
    return [(finding.seed + k) % 2**32 for k in range(TRIGGER_SEEDS)]


def _rare_text(finding, seen, examples, condition):
    verb = "was refused" if finding.kind == REFUSAL else "failed"
    return (f"no rule is drawn for {condition}: {', '.join(finding.names)} {verb} on {seen} of the {examples} "
            f"configurations searched where {condition}, too rarely for a search of {TRIGGER_EXAMPLES} to test one")


def _rule_text(finding, space, condition, change, tested):
    """'fails only when stride > 1 (passes with stride 1, all else equal; no failure in a search of 26
    configurations with stride 1)'."""
    verb = ("refuses", "accepted") if finding.kind == REFUSAL else ("fails", "passes")
    prefix = f"{space.scope_text}, " if space.scope else ""
    found = "no refusal" if finding.kind == REFUSAL else "no failure"
    return f"{prefix}{verb[0]} only when {condition} ({verb[1]} with {change}, all else equal; {found} in a search " \
           f"of {tested})"


def _observation_text(finding, condition, change, opposite, contradicted):
    verb = ("refuses", "accepted") if finding.kind == REFUSAL else ("fails", "passes")
    seen = f"{verb[1]} with {change} at this configuration (all else equal)"
    return f"{seen}, but {verb[0]} on other configurations with {opposite.text}" if contradicted else seen


def _hints(finding, rules, results):
    """The checks' own measured hints (and why they raised, when that is known), then those resting on the rules
    that held, measured on ``results`` (every check's at the finding's configuration); each once."""
    if finding.kind == REFUSAL:
        return refusal_hints(rules)
    check_hints = [hint for result in finding.checks for hint in result.hints + error_hints(result.error)]
    return list(dict.fromkeys(check_hints + trigger_hints(rules, finding.names, results, finding.config,
                                                          check_hints)))


def _refusal_text(finding, rules):
    """'the layer refuses configurations only where ...: AssertionError: ... (at file:line: code)'."""
    error = finding.checks[0].error
    configurations = f"configurations with {' and '.join(finding.scope)}" if finding.scope else "configurations"
    where = f"{configurations} only where {' and '.join(rules)}" if rules else "this configuration"
    raised = f"{error['type']}: {error['message']}" if error["message"] else error["type"]
    location = f" (at {error['location']})" if error.get("location") else ""
    return f"the layer refuses {where}: {raised}{location}"


def variations(config):
    """(condition, change, varied config) for each dimension of ``config`` that is not at its simplest.

    A change to the window (kernel, pad, dilation) keeps the grid of outputs,
    resizing the input to match, so that only the one dimension changes; the
    other changes, and padding added where there was none, keep the input.  Variations that cannot be made valid are
    left out.
    """
    keep_outputs, keep_input = True, False
    candidates = []
    if config.stride != (1, 1):
        candidates.append(("stride > 1", "stride 1", keep_input, dict(stride=1)))
    if config.pad != (0, 0):
        candidates.append(("pad > 0", "pad 0", keep_outputs, dict(pad=0)))
    else:
        candidates.append(("pad = 0", "pad 1", keep_input, dict(pad=1)))
    if config.dilation != (1, 1):
        candidates.append(("dilation > 1", "dilation 1", keep_outputs, dict(dilation=1)))
    if config.batch > 1:
        candidates.append(("batch > 1", "batch 1", keep_input, dict(batch=1)))
    if config.channels > 1:
        candidates.append(("channels > 1", "1 channel", keep_input, dict(channels=1)))
    if config.is_conv and config.filters > 1:
        candidates.append(("filters > 1", "1 filter", keep_input, dict(filters=1)))
    if config.is_conv and config.filters != config.channels:
        candidates.append(("filters != channels", "as many filters as channels", keep_input,
                           dict(filters=config.channels)))
    if config.size[0] != config.size[1]:
        candidates.append(("the input is not square", "a square input", keep_input, dict(size=max(config.size))))
    if config.kernel[0] != config.kernel[1]:
        candidates.append(("the kernel is not square", "a square kernel", keep_outputs,
                           dict(kernel=max(config.kernel))))
    if config.is_conv and config.kernel != (3, 3):
        candidates.append(("the kernel is not 3x3", "a 3x3 kernel", keep_outputs, dict(kernel=3)))
    if EXCLUDABLE["the kernel is even"](config):
        odd = tuple(k + 1 - k % 2 for k in config.kernel)
        candidates.append(("the kernel is even", f"an odd kernel ({pair_text(odd)})", keep_outputs,
                           dict(kernel=odd)))
    if strata.tiles(config):
        other = config.stride[0] + 1  # windows still apart, the stride still above 1: only the equality goes
        candidates.append(("stride == kernel", f"stride {other}", keep_input, dict(stride=other)))
    if not config.is_conv and config.windows_overlap:
        candidates.append(("pooling windows overlap", "windows that do not overlap", keep_input,
                           dict(stride=max(config.kernel))))
    trimmed = tuple(n - r for n, r in zip(config.size, config.remainders))
    if trimmed != config.size and min(trimmed) >= 1:
        candidates.append(("the stride does not divide the padded input", "an input the stride divides",
                           keep_input, dict(size=trimmed)))
    variants = []
    for condition, change, outputs_kept, changes in candidates:
        variant = _vary(config, outputs_kept, changes)
        if variant is not None and variant != config:
            variants.append((condition, change, variant))
    return variants


def _vary(config, keep_outputs, changes):
    """``config`` with ``changes``; the input resized to keep the output grid, or grown until the window fits."""
    try:
        roomy = config.replace(**{**changes, "size": 10**6})  # validates everything but the input size
    except ValueError:
        return None
    axes = zip(roomy.stride, roomy.window.extent, roomy.pad)
    if keep_outputs:
        grid = zip(config.out_shape[2:], config.remainders)
        size = tuple(max(1, (out - 1) * s + e - 2 * p + r) for (out, r), (s, e, p) in zip(grid, axes))
    else:
        wanted = as_pair(changes.get("size", config.size), "size", 1)
        size = tuple(max(n, e - 2 * p) for n, (_, e, p) in zip(wanted, axes))
    return roomy.replace(size=size)


def _rank(result):
    return {"skip": 0, "pass": 1, "fail": 2}[result.status]


def _summary_copy(result):
    """A CheckResult for the summary table, without the per-example positions."""
    return dataclasses.replace(result, mismatches=None, notes=list(result.notes))


def default_seed():
    """0 under CI (env CI set: derandomized), otherwise a fresh random seed the report prints."""
    return 0 if os.environ.get("CI") else random.randrange(2**32)
