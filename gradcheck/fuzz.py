"""Search configurations with Hypothesis; shrink each distinct failure; measure what makes it disappear.

The search runs in two phases.  First ``examples`` configurations drawn from
``gradcheck.strategies`` are checked, and every check that fails anywhere is
noted.  Then, for each such check, ``hypothesis.find`` looks for and shrinks
the smallest configuration on which that check fails.  Checks whose smallest
configurations coincide form one finding; "dB wrong everywhere" and "dX
wrong only with stride > 1" shrink to different configurations and so stay
two findings.  Around each finding one dimension at a time is varied (stride
to 1, pad to 0, square input, batch 1, ...) and the variations that make the
failure disappear are reported as trigger facts: measured, not guessed.

A search given ``stop_on`` exception types (the sandbox's SandboxDied: the
layer no longer runs) ends where one escapes a check and keeps what was
checked before: see ``Stop``.
"""
import dataclasses
import os
import random
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, find, given, seed as hypothesis_seed, settings
from hypothesis.errors import NoSuchExample
from hypothesis import strategies as st

from reference_layers.geometry import as_pair

from .checks import Stopped, check_names, run_checks
from .compare import CheckResult
from .config import Config
from .diagnose import trigger_hints
from .inputs import make_inputs
from .strategies import seeds

DEFAULT_EXAMPLES = 30
TRIGGER_SEEDS = 5  # data seeds a variation must pass on before it counts as a trigger fact


@dataclass
class Finding:
    """One distinct failure: the smallest configuration (and data seed) on which ``checks`` fail."""

    subject: str
    config: object
    seed: int
    checks: list  # CheckResults of the checks this configuration is the smallest failure of
    also_failing: list = field(default_factory=list)  # names of other checks failing here too
    triggers: list = field(default_factory=list)
    hints: list = field(default_factory=list)
    shrunk: bool = True
    reproduce: str = ""

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
        }
        if self.subject:
            data["subject"] = self.subject
        return data

    @classmethod
    def from_dict(cls, data):
        """The Finding that ``to_dict`` described."""
        return cls(data.get("subject", ""), Config.from_dict(data["config"]), data["seed"],
                   [CheckResult.from_dict(check) for check in data["details"]], list(data["also_failing"]),
                   list(data["triggers"]), list(data["hints"]), data["shrunk"], data["reproduce"])


@dataclass
class Stop:
    """Where a search ended early: ``reason`` (the message of the exception that escaped) while ``check`` ran
    on ``config`` with data ``seed``.

    ``phase`` "search": after ``completed`` configurations; the summary keeps
    every check's verdict over them and the checks that completed on the
    configuration it stopped on, the running check fails with the reason and
    a check never completed is skipped.  "explain": every configuration had
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
    differences that ran (``methods``: check -> method -> [configurations, forward evaluations]) and where it
    stopped early (``stop``, or None)."""

    summary: list
    findings: list
    examples: int
    covered: dict
    methods: dict
    stop: Stop = None


def run_search(layer, implementations, strategy, *, examples=DEFAULT_EXAMPLES, seed=0, method="auto",
               progress=None, label=None, fixed=None, precision="float64", stop_on=()):
    """Explore ``strategy`` (of Configs) for every implementation; shrink and explain each failure.

    ``implementations`` maps a subject name ("" for a single user layer) to
    an Implementation.  ``fixed`` = (config, data seed) checks that one
    example instead of searching.  ``progress(done, total)`` is called as
    examples run; ``label(finding)`` returns the reproduction command for a
    finding.  Inputs are built in ``precision``; ``method`` chooses the finite differences.
    An exception of a type in ``stop_on`` ends the search early (``Search.stop``).
    """
    return _Searcher(layer, implementations, strategy, examples, seed, method, progress, fixed, precision,
                     stop_on).run(label)


class _Searcher:
    def __init__(self, layer, implementations, strategy, examples, seed, method, progress, fixed, precision,
                 stop_on=()):
        self.layer = layer
        self.implementations = implementations
        self.fixed = fixed
        self.examples = None if fixed else st.tuples(strategy, seeds())
        self.budget = 1 if fixed else examples
        self.seed = seed
        self.method = method
        self.precision = precision
        self.progress = progress or (lambda done, total: None)
        self.cache = {}
        self.summary = {}  # (subject, check name) -> CheckResult summarizing every example
        self.first_failure = {}  # (subject, check name) -> (config, seed)
        self.count = 0
        self.covered = {}
        self.methods = {}
        self.stop_on = stop_on
        self.passes = {}  # (subject, check name) -> configurations it passed on
        self.current = None  # (subject, config, seed) being checked

    def run(self, label):
        stop = None
        try:
            self._explore()
        except Stopped as stopped:
            stop = self._stopped_searching(stopped)
        try:
            findings = self._explain() if stop is None else self._first_failures()
        except Stopped as stopped:
            stop = self._stop(stopped, "explain")
            findings = self._first_failures()
        for finding in findings:
            finding.reproduce = label(finding) if label else ""
        summary = [self.summary[key] for key in sorted(self.summary, key=self._order)]
        return Search(summary, findings, self.count, self.covered, self.methods, stop)

    def _explain(self):
        """The findings: each failure shrunk, with its trigger facts and hints."""
        findings = self._findings()
        for finding in findings:
            conditions = self._triggers(finding)
            finding.triggers = [f"fails only when {condition} (passes with {change}, all else equal)"
                                for condition, change in conditions]
            check_hints = [hint for result in finding.checks for hint in result.hints]
            finding.hints = list(dict.fromkeys(check_hints + trigger_hints(c for c, _ in conditions)))
        return findings

    def _stop(self, stopped, phase):
        _, config, seed = self.current
        return Stop(str(stopped.cause), stopped.check, config, seed, phase, self.count)

    def _stopped_searching(self, stopped):
        """Keep what the search saw before ``stopped``: the checks completed on the configuration it stopped on
        count, the running one fails, one never completed stays skipped; each check that passed says on how
        many configurations."""
        subject, config, seed = self.current
        self.cache[self.current] = stopped.results  # a failure first seen there needs no rerun for its finding
        for result in stopped.results:
            if result.name != stopped.check and result.status != "skip":
                self._record(subject, result, (config, seed))
        running = next(result for result in stopped.results if result.name == stopped.check)
        if self.summary.get((subject, running.name), running).status != "fail":
            self.summary[(subject, running.name)] = running
        for result in stopped.results:
            seen = self.summary.setdefault((subject, result.name), result)
            if seen.status == "pass":
                seen.message = (f"passed on {self.passes[(subject, result.name)]} of {self.budget} configurations; "
                                f"not checked on the others: the run stopped ({stopped.cause})")
        return self._stop(stopped, "search")

    def _first_failures(self):
        """Findings without shrinking or trigger facts (no more calls of the layer): each check at the first
        configuration it failed on."""
        return self._findings(shrink=False)

    def _order(self, key):
        subject, name = key
        return list(self.implementations).index(subject), check_names(self.layer).index(name)

    def checks(self, subject, config, seed):
        """run_checks, memoized: shrinking and trigger facts revisit examples."""
        key = (subject, config, seed)
        if key not in self.cache:
            self.current = key
            self.cache[key] = run_checks(config, make_inputs(config, seed, self.precision),
                                         self.implementations[subject], method=self.method, subject_name=subject,
                                         stop_on=self.stop_on)
        return self.cache[key]

    def _settings(self, phases, examples):
        return settings(max_examples=examples, phases=phases, database=None, deadline=None,
                        derandomize=False, suppress_health_check=list(HealthCheck), print_blob=False,
                        report_multiple_bugs=False)

    def _explore(self):
        if self.fixed:
            return self._check_example(self.fixed)

        @hypothesis_seed(self.seed)
        @self._settings([Phase.generate], self.budget)
        @given(self.examples)
        def explore(example):
            self._check_example(example)

        explore()

    def _check_example(self, example):
        for subject in self.implementations:
            for result in self.checks(subject, *example):
                self._record(subject, result, example)
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

    def _record(self, subject, result, example):
        if result.method:
            tally = self.methods.setdefault(result.name, {}).setdefault(result.method, [0, 0])
            tally[0] += 1
            tally[1] += result.evaluations
        key = (subject, result.name)
        if result.status == "fail":
            self.first_failure.setdefault(key, example)
        self.passes[key] = self.passes.get(key, 0) + (result.status == "pass")
        seen = self.summary.get(key)
        if seen is None or _rank(result) > _rank(seen):
            self.summary[key] = _summary_copy(result)
        elif result.status == "pass" and seen.status == "pass":
            for attribute in ("max_abs_error", "max_rel_error"):
                new = getattr(result, attribute)
                if new is not None and (getattr(seen, attribute) is None or new > getattr(seen, attribute)):
                    setattr(seen, attribute, new)

    def _findings(self, shrink=True):
        minimal = {}  # (subject, config, seed) -> [check names]
        shrunk = {}
        for (subject, name), example in sorted(self.first_failure.items(), key=lambda kv: self._order(kv[0])):
            found, ok = self._shrink(subject, name, example) if shrink else (tuple(example), False)
            minimal.setdefault((subject,) + found, []).append(name)
            shrunk[(subject,) + found] = shrunk.get((subject,) + found, True) and ok
        findings = []
        for (subject, config, data_seed), names in minimal.items():
            results = self.checks(subject, config, data_seed)
            failing = [r for r in results if r.status == "fail"]
            findings.append(Finding(subject, config, data_seed,
                                    checks=[r for r in failing if r.name in names],
                                    also_failing=[r.name for r in failing if r.name not in names],
                                    shrunk=shrunk[(subject, config, data_seed)]))
            for result in findings[-1].checks:  # the summary shows each check at its smallest failure
                self.summary[(subject, result.name)] = result
        return findings

    def _shrink(self, subject, name, example):
        """The smallest example on which check ``name`` fails, by hypothesis.find; (example, shrunk?)."""
        if self.fixed:
            return tuple(example), False

        def fails(candidate):
            return any(r.name == name and r.status == "fail" for r in self.checks(subject, *candidate))

        try:
            found = find(self.examples, fails, settings=self._settings([Phase.generate, Phase.shrink],
                                                                       max(self.budget, 10) * 2),
                         random=random.Random(self.seed))
            return tuple(found), True
        except NoSuchExample:  # find's own search missed it; keep the first failure, unshrunk
            return tuple(example), False

    def _triggers(self, finding):
        """(condition, change) for each variation of the finding's configuration that makes its checks pass.

        A variation counts only when the finding's checks pass (not merely
        don't fail) on the finding's arrays and on TRIGGER_SEEDS - 1 more.
        """
        data_seeds = [(finding.seed + k) % 2**32 for k in range(TRIGGER_SEEDS)]
        facts = []
        for condition, change, variant in variations(finding.config):
            if all(r.status == "pass" for data_seed in data_seeds
                   for r in self.checks(finding.subject, variant, data_seed) if r.name in finding.names):
                facts.append((condition, change))
        return facts


def variations(config):
    """(condition, change, varied config) for each dimension of ``config`` that is not at its simplest.

    A change to the window (kernel, pad, dilation) keeps the grid of outputs,
    resizing the input to match, so that only the one dimension changes; the
    other changes keep the input.  Variations that cannot be made valid are
    left out.
    """
    keep_outputs, keep_input = True, False
    candidates = []
    if config.stride != (1, 1):
        candidates.append(("stride > 1", "stride 1", keep_input, dict(stride=1)))
    if config.pad != (0, 0):
        candidates.append(("pad > 0", "pad 0", keep_outputs, dict(pad=0)))
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
    if not config.is_conv and config.windows_overlap:
        candidates.append(("pooling windows overlap", "windows that do not overlap", keep_input,
                           dict(stride=max(config.kernel))))
    trimmed = tuple(n - r for n, r in zip(config.size, _remainders(config)))
    if trimmed != config.size and min(trimmed) >= 1:
        candidates.append(("the stride does not divide the padded input", "an input the stride divides",
                           keep_input, dict(size=trimmed)))
    variants = []
    for condition, change, outputs_kept, changes in candidates:
        variant = _vary(config, outputs_kept, changes)
        if variant is not None and variant != config:
            variants.append((condition, change, variant))
    return variants


def _remainders(config):
    """Per axis, the rows (or columns) of the padded input past the last window."""
    return tuple((n + 2 * p - e) % s for n, p, e, s in
                 zip(config.size, config.pad, config.window.extent, config.stride))


def _vary(config, keep_outputs, changes):
    """``config`` with ``changes``; the input resized to keep the output grid, or grown until the window fits."""
    try:
        roomy = config.replace(**{**changes, "size": 10**6})  # validates everything but the input size
    except ValueError:
        return None
    axes = zip(roomy.stride, roomy.window.extent, roomy.pad)
    if keep_outputs:
        grid = zip(config.out_shape[2:], _remainders(config))
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
