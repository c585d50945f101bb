"""Any NumPy forward/backward pair, checked by finite differences alone: ``gradcheck fn``.

The pair is written as cs231n writes its layers: ``forward(*inputs)``
returns ``out`` or ``(out, cache)``, and ``backward(dout, cache)`` returns
the gradient of every input, in the order declared (one array when there
is one input); a forward that returns ``out`` alone has its backward called
as ``backward(dout, *inputs)``.  The shapes are declared with symbols,
``{"x": "N,D", "w": "D,M", "b": "M"}``, each symbol between its bounds
(default 1..4; ``dims={"N": range(2, 6)}`` or ``{"D": 3}``), and a
Hypothesis search over them and the data seed looks for configurations
where a gradient differs from the finite differences of the forward.

An input may hold integers below a bound (labels, word indices:
``integers={"y": "C"}``) or booleans (a mask): those are drawn, passed and
watched for changes like the others, but never differentiated, and
backward returns no gradient for them.  A forward of several outputs (an
LSTM step's next_h and next_c) returns them and then its cache; its
backward takes a dout for each (``joined``).

No reference is needed, so nothing says what forward should compute: the
checks are that forward returns a finite array and the same one twice, that
neither call changes its inputs, and that each gradient is the vector-
Jacobian product of forward with ``dout``:

    d<name>  =  d/d<name> sum(forward(...) * dout)

estimated by central differences with a step of 2**-20 (the functions here
need not be piecewise linear, so the step is small: the truncation error
of a smooth function is about step**2 * f''' / 6, 1e-13 of its scale).  An
input of at most DENSE_LIMIT elements is differenced element by element;
a larger one is screened along SCREEN random directions and, when a
direction disagrees, localized by group testing (``numeric.localize``): the
forward evaluations a check costs do not grow with the input's size.

An element that disagrees is differenced again at each of RECHECK_STEPS
before it counts, so that a kink within a step of an input (ReLU's 0)
never fails a right gradient.  The inputs are standard normal, but for one
data seed in LARGE_EVERY moved by LARGE (every run meets some), where a
softmax without its maximum subtracted overflows.  Moved, not scaled: the
differences between inputs stay as usual, so a softmax that subtracts its
maximum never sees a probability underflow to 0 (log(0) of a label 1000
below the best score is inf, in a right layer too).

A failing check is reported at the smallest configuration where it fails
(Hypothesis shrinks the symbols and the data seed), with the elements that
differ, and what makes the failure disappear: a symbol set to its lowest
value (or usual values for large ones), tested on TRIGGER_SEEDS sets of
arrays at that configuration, then as a rule ("fails only when N > 1") by a
search of TRIGGER_EXAMPLES configurations with that value.  A gradient that
is the expected one times a symbol's value everywhere gets a hint.

With a reference pair (a catalogue kind's, ``gradcheck.kinds``), forward
and every gradient are compared with the reference's instead, element by
element, and a value that is exactly what one of the reference's named
Mistakes computes gets its hint; a forward of another shape than the
reference's fails alone (no dout fits both).
"""
import dataclasses
import inspect
import random
import re
import shlex
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, Phase, find, given, seed as hypothesis_seed, settings, strategies as st
from hypothesis.errors import NoSuchExample, Unsatisfiable

from . import numeric
from .compare import EPS64, FLOAT32, CheckResult, Tolerance, compare
from .config import parse_range
from .fuzz import DEFAULT_EXAMPLES, TRIGGER_EXAMPLES, TRIGGER_ROUNDS, TRIGGER_SEEDS, default_seed
from .forms import Pair, UserError, call
from .userfiles import Source, find_backward, spec_of

DEFAULT_BOUNDS = (1, 4)
AXIS = re.compile(r"(\d*)([A-Za-z_]\w*)")  # an axis of a declared shape: a symbol, or a multiple of one (4H)
DENSE_LIMIT = 64  # elements of an input differenced one by one; above, a projection screen
SCREEN = 8  # random directions of a projection screen
TOLERANCE = Tolerance("float64", step=2 ** -20, rtol=1e-6, atol=1e-7, ctol=16 * EPS64, ftol=8 * EPS64)
CHECKS = ("forward", "repeatable", "no-mutation")  # then one gradient check per input
RECHECK_STEPS = (2 ** -22, 2 ** -24, 2 ** -26)  # a disagreement must hold at each before it counts
# Where a kind's two reference formulations differ on a configuration, rounding does (a batch norm of eps 1e-8 on
# two samples near 1000: dx cancels to 1e-4 of its terms, and the two differ by 1.5e-6 of it); a right layer may
# differ from the first by as much, and a few times more: that much is added to the slack there
SPREAD = 4
LARGE, LARGE_EVERY = 1000.0, 8  # one data seed in 8 draws inputs around 1000: exp() without max subtraction
VALUES = {"usual": "usual (standard normal)", "large": f"large (around {LARGE:g})"}
LARGE_CONDITION = f"the inputs are large (around {LARGE:g})"
RULE = "fails only when "  # how a fact tested as a rule begins
OVERFLOW_HINT = ("forward overflows on large inputs: exp(1000) is inf; subtract each row's maximum before exp() "
                 "(softmax, log-sum-exp), which changes no result, and use np.tanh rather than "
                 "(exp(x) - exp(-x)) / (exp(x) + exp(-x))")
DOUT_WRITTEN = ("backward writes into the dout it is given (dx = dout; dx[x <= 0] = 0): harmless where the caller "
                "never reads dout again, as in cs231n's and DLFS's networks; dx = dout.copy() is safe everywhere")


@dataclass(frozen=True)
class Signature:
    """The inputs' shapes (name -> tuple of symbols and ints, in the forward's order), each symbol's (lowest,
    highest), and the inputs that hold no real numbers: ``integers`` (name -> the axis-like bound they stay
    below: labels below C, word indices below V) and ``booleans`` (masks).  Those are drawn, passed and checked
    for changes like the others, but never differentiated: backward returns no gradient for them."""

    shapes: dict
    bounds: dict
    integers: dict = field(default_factory=dict)
    booleans: tuple = ()

    @classmethod
    def parse(cls, shapes, dims=None, integers=None, booleans=()):
        """From ``shapes`` ({"x": "N,D"} or {"x": ("N", "D")}), ``dims`` ({"N": 3, "D": range(1, 5)} or
        {"N": "1..4"}), ``integers`` ({"y": "C"}: y holds 0..C-1) and ``booleans`` (("mask",)); ValueError
        saying what is wrong."""
        if not shapes:
            raise ValueError("declare the shape of every input of forward, e.g. --shape x=N,D --shape w=D,M")
        parsed = {}
        for name, shape in shapes.items():
            if not str(name).isidentifier():
                raise ValueError(f"an input's name must be an identifier, got {name!r}")
            parts = [part.strip() for part in shape.split(",")] if isinstance(shape, str) else list(shape)
            parsed[name] = tuple(_axis(name, part) for part in parts if part != "")
        integers = {name: _axis(name, str(below).strip()) for name, below in (integers or {}).items()}
        booleans = tuple(booleans)
        for name in [*integers, *booleans]:
            if name not in parsed:
                raise ValueError(f"{name} has no shape; declare it with --shape {name}=... as well")
        if set(integers) & set(booleans):
            raise ValueError(f"{sorted(set(integers) & set(booleans))[0]} is declared both integers and booleans")
        if len(integers) + len(booleans) == len(parsed):
            raise ValueError("every input is integers or booleans: at least one must hold real numbers to "
                             "differentiate")
        axes = [axis for shape in parsed.values() for axis in shape] + list(integers.values())
        symbols = {_symbol(axis) for axis in axes if isinstance(axis, str)}
        bounds = dict.fromkeys(sorted(symbols), DEFAULT_BOUNDS)
        for symbol, value in (dims or {}).items():
            if symbol not in symbols:
                raise ValueError(f"{symbol} is in no shape; the symbols are {', '.join(sorted(symbols)) or 'none'}")
            bounds[symbol] = _bounds(symbol, value)
        return cls(parsed, bounds, integers, booleans)

    @property
    def real(self):
        """The inputs that hold real numbers, in order: those differentiated, each with its gradient check."""
        return [name for name in self.shapes if name not in self.integers and name not in self.booleans]

    def strategy(self):
        """Hypothesis: one value for every symbol, within its bounds (shrinking towards the lowest)."""
        return st.fixed_dictionaries({symbol: st.integers(low, high) for symbol, (low, high) in self.bounds.items()})

    def shape(self, name, sizes):
        return tuple(_length(axis, sizes) for axis in self.shapes[name])

    def draw(self, rng, sizes, offset=0.0):
        """{name: array} at ``sizes``: real inputs standard normal plus ``offset``, integers uniform below
        their bound, booleans fair coins."""
        def drawn(name):
            shape = self.shape(name, sizes)
            if name in self.integers:
                return rng.integers(0, _length(self.integers[name], sizes), shape)
            if name in self.booleans:
                return rng.random(shape) < 0.5
            return offset + rng.standard_normal(shape)
        return {name: drawn(name) for name in self.shapes}

    def pinned(self, symbol, value):
        return dataclasses.replace(self, bounds=dict(self.bounds, **{symbol: (value, value)}))

    def words(self):
        """The command-line words that declare these inputs: ['--shape', 'x=N,D', '--integers', 'y=C', ...]."""
        return [word for name, shape in self.shapes.items()
                for word in ("--shape", f"{name}={','.join(map(str, shape))}")] + \
            [word for name, below in self.integers.items() for word in ("--integers", f"{name}={below}")] + \
            [word for name in self.booleans for word in ("--booleans", name)]

    def describe(self, name):
        """'x (N, D)', 'y (N) integers 0..C-1', 'mask (N, T) booleans'."""
        shape = f"{name} ({', '.join(map(str, self.shapes[name]))})"
        if name in self.integers:
            return f"{shape} integers 0..{self.integers[name]}-1"
        return f"{shape} booleans" if name in self.booleans else shape


def _axis(name, part):
    """An int, a symbol (N) or a multiple of one (4H: an LSTM's four gates)."""
    if isinstance(part, int) or str(part).isdigit():
        value = int(part)
        if value < 1:
            raise ValueError(f"the shape of {name} has an axis of {value}; an axis has at least 1 element")
        return value
    if not AXIS.fullmatch(str(part)) or _multiple(part) < 1:
        raise ValueError(f"the shape of {name} must list symbols (N, D, ...), multiples of one (4H) or ints, "
                         f"separated by commas, got {part!r}")
    return part


def _length(axis, sizes):
    """The number of elements of ``axis`` (3, N or 4H) at ``sizes``."""
    return _multiple(axis) * sizes[_symbol(axis)] if isinstance(axis, str) else axis


def _multiple(axis):
    """4 for the axis 4H, 1 for H."""
    return int(AXIS.fullmatch(axis).group(1) or 1)


def _symbol(axis):
    """H for the axis 4H or H."""
    return AXIS.fullmatch(axis).group(2)


def _bounds(symbol, value):
    """(lowest, highest) from an int, a range or 'LOW..HIGH'."""
    if isinstance(value, str):
        span = parse_range(value)
        value = span if span is not None else int(value) if value.isdigit() else value
    if isinstance(value, int) and not isinstance(value, bool):
        value = range(value, value + 1)
    if not isinstance(value, range) or value.step != 1 or not value or value.start < 1:
        shown = f"{value.start}..{value.stop - 1}" if isinstance(value, range) else repr(value)
        raise ValueError(f"{symbol} takes an int >= 1 or a range LOW..HIGH of them (lowest first), got {shown}")
    return value.start, value[-1]


@dataclass(frozen=True)
class Example:
    """One configuration: a value per symbol, and the seed of the arrays."""

    sizes: tuple  # ((symbol, value), ...), sorted
    seed: int

    @property
    def text(self):
        return ", ".join(f"{symbol}={value}" for symbol, value in self.sizes) or "the declared shapes"


@dataclass
class Finding:
    """Checks that fail at the smallest ``example`` found for them, with the facts tested around it; a check
    outside the search (a catalogue kind's probe) has no example."""

    names: list
    example: Example
    results: list
    facts: list = field(default_factory=list)
    reproduce: str = ""

    # What grading's reports and class report read of a finding, named as fuzz.Finding names it.
    subject = ""  # one implementation, never several
    kind = "failure"  # the pair never refuses: what it raises fails its checks
    scope = ()  # one search, never narrowed by an earlier finding
    refusal = ""
    observations = ()

    @property
    def checks(self):
        return self.results

    @property
    def seed(self):
        return self.example.seed if self.example else None

    @property
    def triggers(self):
        return self.facts

    @property
    def rules(self):
        """The conditions of the facts that were tested as rules: 'N > 1' of 'fails only when N > 1 (...)'."""
        return [fact[len(RULE):].split(" (passes with")[0] for fact in self.facts if fact.startswith(RULE)]

    @property
    def hints(self):
        return list(dict.fromkeys(hint for result in self.results for hint in result.hints))

    def to_dict(self):
        return {"checks": list(self.names), "sizes": dict(self.example.sizes) if self.example else None,
                "seed": self.example.seed if self.example else None,
                "results": [result.to_dict() for result in self.results], "facts": list(self.facts),
                "reproduce": self.reproduce}

    @classmethod
    def from_dict(cls, data):
        example = None if data["sizes"] is None else Example(tuple(sorted(data["sizes"].items())), data["seed"])
        return cls(list(data["checks"]), example, [CheckResult.from_dict(result) for result in data["results"]],
                   list(data["facts"]), data["reproduce"])


@dataclass
class FunctionReport:
    """The verdict on a forward/backward pair: each check over every configuration searched, and the findings."""

    spec: str
    signature: Signature
    checks: list
    findings: list
    examples: int
    seed: int
    reproduce: str
    values: list = field(default_factory=list)  # the classes of values the data seeds made: usual, large
    command: str = "fn"  # the gradcheck command: fn, or a catalogue kind's name
    against: str = "finite differences alone"  # or "its reference", for a catalogue kind
    notes: list = field(default_factory=list)  # what the reader must know: how the reference was chosen
    passes: dict = field(default_factory=dict)  # check name -> of the ``examples`` searched, how many it passed on

    stopped = None  # never stopped early: a grade whose sandbox died has no report (grading.worker)

    @property
    def passed(self):
        return all(result.passed for result in self.checks)

    @property
    def counterexample(self):
        return self.findings[0] if self.findings else None

    def to_dict(self):
        return {"passed": self.passed, "command": self.command, "function": self.spec, "against": self.against,
                "seed": self.seed, "examples_run": self.examples,
                "values": list(self.values),
                "shapes": {name: list(shape) for name, shape in self.signature.shapes.items()},
                "integers": {name: below for name, below in self.signature.integers.items()},
                "booleans": list(self.signature.booleans),
                "bounds": {symbol: list(span) for symbol, span in self.signature.bounds.items()},
                "checks": [result.to_dict() for result in self.checks],
                "findings": [finding.to_dict() for finding in self.findings], "notes": list(self.notes),
                "reproduce": self.reproduce, "passes": dict(self.passes)}

    @classmethod
    def from_dict(cls, data):
        """The report ``to_dict`` described (a grading process sends it so)."""
        signature = Signature({name: tuple(shape) for name, shape in data["shapes"].items()},
                              {symbol: tuple(span) for symbol, span in data["bounds"].items()},
                              dict(data["integers"]), tuple(data["booleans"]))
        return cls(data["function"], signature, [CheckResult.from_dict(result) for result in data["checks"]],
                   [Finding.from_dict(finding) for finding in data["findings"]], data["examples_run"], data["seed"],
                   data["reproduce"], list(data["values"]), data["command"], data["against"], list(data["notes"]),
                   dict(data["passes"]))


@dataclass(frozen=True)
class Mistake:
    """A named mistake: what ``computes(inputs, dout)`` gives for ``check`` (forward's output, or a gradient:
    dx, dW, ...) instead of the right value, and the ``hint`` shown when a layer's value is that one.  A catalogue
    kind's mistake may take keywords of the kind's options (``eps=EPS``): it is given the values read off the
    layer, as the reference is (``kinds.check_pair``)."""

    check: str
    computes: object
    hint: str


def check_function(forward, backward=None, shapes=None, dims=None, *, integers=None, booleans=(), outputs=1,
                   examples=None, seed=None, words=(), reference=None, notes=()):
    """Check ``backward`` against finite differences of ``forward`` over the ``shapes`` declared, each symbol
    within ``dims``, the inputs named in ``integers`` ({"y": "C"}: labels 0..C-1) and ``booleans`` holding
    those and getting no gradient (see the module docstring and ``Signature``); a FunctionReport.  ``backward``
    None: the function named as ``forward`` with forward -> backward, where ``userfiles.find_backward`` looks.
    ``words`` are the command line that runs this check, after "gradcheck" (for reproduce commands; default
    ``fn`` with the forward's FILE:NAME and the shapes).  With a ``reference`` Pair (a catalogue kind's),
    forward and every gradient are compared with the reference's instead; ``notes`` go into the report.  A
    forward of several ``outputs`` returns them and then its cache, and its backward takes a dout for each
    (see ``joined``).  ValueError for bad shapes or dims, or a configuration the reference cannot take;
    LoadError for a backward not found; what the pair raises fails its checks."""
    named = impl_words(forward, backward)
    if backward is None:
        name = getattr(forward, "__name__", "forward")
        backward = find_backward(forward, name, Source.of(forward)).function
    signature = Signature.parse(shapes, dims, integers, booleans)
    _require_arity(forward, signature)
    examples = DEFAULT_EXAMPLES if examples is None else examples
    if not isinstance(examples, int) or examples < 1:
        raise ValueError(f"examples must be an int >= 1, got {examples!r}")
    seed = default_seed() if seed is None else seed
    words = tuple(words) or ("fn", *named, *signature.words(), *(["--outputs", str(outputs)] if outputs > 1 else []))
    if not isinstance(outputs, int) or outputs < 1:
        raise ValueError(f"outputs must be an int >= 1, got {outputs!r}")
    pair = Pair(forward, backward)
    if outputs > 1:
        pair, reference = joined(pair, outputs), reference and joined(reference, outputs)
    report = _Search(pair, signature, seed, words, reference).run(examples)
    report.notes = [*notes, *report.notes]
    return report


def impl_words(impl, backward=None):
    """['--impl', 'FILE:NAME'] (and '--backward', 'FILE:NAME' for a function given as ``backward``), as
    reproduce commands name a layer given as an object."""
    return ["--impl", spec_of(impl)] + (["--backward", spec_of(backward)] if callable(backward) else [])


def joined(pair, outputs):
    """``pair``, whose forward returns ``outputs`` arrays and then a cache (an LSTM step's next_h, next_c, cache)
    and whose backward takes a dout for each, then the cache, as a pair of one output: the arrays laid end to
    end, flattened, in order (so the checks' positions in forward count through the first output, then the
    next).  Its mistakes compute the joined output too."""
    def forward(*inputs):
        returned = call("forward", pair.forward, *inputs)
        if not isinstance(returned, tuple) or len(returned) != outputs + 1:
            raise UserError(f"forward must return its {outputs} outputs and then a cache, as a tuple of "
                            f"{outputs + 1}; it returned {type(returned).__name__}"
                            f"{f' of {len(returned)}' if isinstance(returned, tuple) else ''}")
        arrays = [finite_array("forward", out) for out in returned[:-1]]
        return np.concatenate([array.ravel() for array in arrays]), ([array.shape for array in arrays], returned[-1])

    def backward(dout, cache):
        shapes, theirs = cache
        ends = np.cumsum([int(np.prod(shape)) for shape in shapes])[:-1]
        return pair.backward(*(part.reshape(shape) for part, shape in zip(np.split(dout, ends), shapes)), theirs)
    forward.__name__ = getattr(pair.forward, "__name__", "forward")
    return Pair(forward, backward, pair.mistakes, other=pair.other and joined(pair.other, outputs))


def _require_arity(forward, signature):
    """Refuse shapes declared for fewer or more inputs than ``forward`` takes, naming its parameters."""
    try:
        parameters = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: its own call will say
        return
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    varargs = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    declared = len(signature.shapes)
    if declared < len(required) or (declared > len(positional) and not varargs):
        name = getattr(forward, "__name__", "forward")
        raise ValueError(f"{name} takes {', '.join(p.name for p in positional) or 'no input'}, but "
                         f"{declared} shape{'s are' if declared != 1 else ' is'} declared "
                         f"({', '.join(signature.shapes)}); declare one --shape per input, in its order")


class _Search:
    def __init__(self, pair, signature, seed, words, reference=None):
        self.pair, self.signature, self.seed, self.words, self.reference = pair, signature, seed, words, reference
        self.names = list(CHECKS) + [f"d{name}" for name in signature.real]
        self.memo = {}

    def run(self, examples):
        fixed = all(low == high for low, high in self.signature.bounds.values())
        seen = {}

        def fails(example):
            failed = {result.name for result in self.results(example) if not result.passed}
            seen[example] = failed
            return bool(failed)
        if fixed:
            fails(Example(tuple((s, low) for s, (low, _) in self.signature.bounds.items()), self.seed))
        else:
            self._explore(self.signature, fails, examples)
            if not any(value_class(example.seed) == "large" for example in seen):  # every run meets large values
                first = next(iter(seen))
                fails(dataclasses.replace(first, seed=large_seed(first.seed)))
        failing = [name for name in self.names if any(name in failed for failed in seen.values())]
        findings = []
        for name in failing:
            if any(name in finding.names for finding in findings):
                continue
            example = self._smallest(name, seen) if not fixed else next(e for e, f in seen.items() if name in f)
            results = self.results(example)
            names = [result.name for result in results if not result.passed]
            finding = Finding(names, example, [r for r in results if not r.passed])
            finding.facts = [] if fixed else self._facts(finding)
            overflowed = [result for result in finding.results if result.name == "forward" or
                          (result.actual is not None and not np.isfinite(result.actual))]
            if overflowed and any(fact.startswith(f"{RULE}{LARGE_CONDITION}") for fact in finding.facts):
                overflowed[0].hints.append(OVERFLOW_HINT)
            finding.reproduce = self.command(example.sizes, example.seed)
            findings.append(finding)
        values = sorted({value_class(example.seed) for example in seen}, key=("usual", "large").index)
        passes = {name: sum(any(r.name == name and r.status == "pass" for r in self.results(example))
                            for example in seen) for name in self.names}
        checks = [self._verdict(name, seen, findings) for name in self.names]
        return FunctionReport(self._spec(), self.signature, checks, findings, len(seen), self.seed,
                              self.command(None, self.seed), values, self.words[0],
                              "finite differences alone" if self.reference is None else "its reference",
                              _not_made_everywhere(checks, passes, len(seen)), passes)

    def results(self, example):
        if example not in self.memo:
            self.memo[example] = run_checks(self.pair, self.signature, dict(example.sizes), example.seed,
                                            self.reference)
        return self.memo[example]

    def _explore(self, signature, visit, examples, seed_offset=0, usual=False):
        """Call ``visit`` on ``examples`` examples of ``signature`` drawn with the run's seed (some twice; with
        ``usual``, only data seeds of usual values)."""
        @hypothesis_seed(self.seed + seed_offset)
        @settings(max_examples=examples, phases=[Phase.generate], database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(_examples(signature, usual))
        def explore(example):
            visit(example)
        explore()

    def _find(self, signature, condition, examples):
        """The smallest example of ``signature`` meeting ``condition`` that a search of ``examples`` finds and
        Hypothesis shrinks, or None."""
        try:
            return find(_examples(signature), condition, random=random.Random(self.seed),
                        settings=settings(max_examples=examples, phases=[Phase.generate, Phase.shrink], database=None,
                                          deadline=None, suppress_health_check=list(HealthCheck)))
        except (NoSuchExample, Unsatisfiable):
            return None

    def _smallest(self, name, seen):
        """The smallest example where check ``name`` fails: Hypothesis's shrinking from the search's failures."""
        def fails(example):
            return any(r.name == name and not r.passed for r in self.results(example))
        found = self._find(self.signature, fails, max(len(seen), 1) * 4)
        return found or min((e for e, failed in seen.items() if name in failed), key=_size)

    def _facts(self, finding):
        """'fails only when N > 1 (...)' for each condition whose opposite (the lowest value of a symbol, usual
        values for large ones) clears the finding at its configuration on TRIGGER_SEEDS sets of arrays and in a
        search of TRIGGER_EXAMPLES configurations; scoped to the configuration when only there.  The sets of arrays
        are of the finding's class of values (its seed moved by whole blocks of LARGE_EVERY)."""
        facts = []
        for condition, opposite, vary, signature, usual in self._opposites(finding.example):
            seeds = [finding.example.seed + k * LARGE_EVERY for k in range(TRIGGER_SEEDS)]
            if not all(self._clears(finding, vary(dataclasses.replace(finding.example, seed=seed))) for seed in seeds):
                continue
            searched = {}

            def visit(example):
                if example not in searched and len(searched) < TRIGGER_EXAMPLES:
                    searched[example] = self._clears(finding, example)
            for round_ in range(1, TRIGGER_ROUNDS + 1):  # a round draws some examples twice
                self._explore(signature, visit, TRIGGER_EXAMPLES, seed_offset=round_, usual=usual)
                if len(searched) >= TRIGGER_EXAMPLES or not all(searched.values()):
                    break
            if all(searched.values()) and len(searched) >= TRIGGER_EXAMPLES:
                facts.append(f"{RULE}{condition} (passes with {opposite}, all else equal; no failure in a "
                             f"search of {len(searched)} configurations with {opposite})")
            else:
                facts.append(f"passes with {opposite} at this configuration (all else equal)" +
                             ("" if all(searched.values()) else f", but fails on other configurations with {opposite}"))
        return facts

    def _opposites(self, example):
        """(condition, its opposite, the example varied to it, the signature and values a rule search draws)
        for what holds at ``example``: a symbol above its lowest value, large values."""
        sizes = dict(example.sizes)
        for symbol, (low, high) in self.signature.bounds.items():
            if sizes[symbol] > low:
                yield (f"{symbol} > {low}", f"{symbol}={low}",
                       lambda e, symbol=symbol, low=low: dataclasses.replace(
                           e, sizes=tuple(sorted(dict(e.sizes, **{symbol: low}).items()))),
                       self.signature.pinned(symbol, low), False)
        if value_class(example.seed) == "large":
            yield (LARGE_CONDITION, "usual values",
                   lambda e: dataclasses.replace(e, seed=usual_seed(e.seed)), self.signature, True)

    def _clears(self, finding, example):
        return all(r.passed for r in self.results(example) if r.name in finding.names)

    def _verdict(self, name, seen, findings):
        """The check over the search: its failure at the smallest example of its finding, else its worst pass."""
        for finding in findings:
            for result in finding.results:
                if result.name == name:
                    return result
        passes = [r for example in seen for r in self.results(example) if r.name == name]
        return max(passes, key=lambda r: (bool(r.notes), r.max_abs_error or 0.0)) if passes else \
            CheckResult(name, "pass")

    def _spec(self):
        """What the report names: the words after --impl (and --backward)."""
        return " ".join(word for before, word in zip(self.words, self.words[1:]) if before in ("--impl", "--backward"))

    def command(self, sizes, seed):
        """The gradcheck command line that checks ``sizes`` (every symbol pinned; None: the run's bounds)."""
        bounds = dict(sizes) if sizes is not None else self.signature.bounds
        dims = [f"{symbol}={value}" if isinstance(value, int) else
                f"{symbol}={value[0]}" if value[0] == value[1] else f"{symbol}={value[0]}..{value[1]}"
                for symbol, value in bounds.items()]
        return shlex.join(["gradcheck", *self.words, *[word for dim in dims for word in ("--dim", dim)],
                           "--seed", str(seed)])


def _not_made_everywhere(checks, passes, searched):
    """Notes for the checks that passed where they were made but not on every configuration ``searched``."""
    unmade = {}
    for check in checks:
        if check.status == "pass" and passes[check.name] < searched:
            unmade.setdefault(passes[check.name], []).append(check.name)
    return [f"{_listed(names)} passed where {'it was' if len(names) == 1 else 'they were'} made, on {count} of "
            f"{searched} configurations: forward failed first on the others" for count, names in unmade.items()]


def _listed(names):
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _examples(signature, usual=False):
    """Hypothesis: Examples of ``signature``, the sizes and the data seed shrinking towards the smallest (with
    ``usual``, seeds of usual values only)."""
    seeds = st.integers(0, 2 ** 32 - 1).map(usual_seed) if usual else st.integers(0, 2 ** 32 - 1)
    return st.builds(lambda sizes, seed: Example(tuple(sorted(sizes.items())), seed), signature.strategy(), seeds)


def value_class(seed):
    """'large' for one data seed in LARGE_EVERY (the inputs moved by LARGE), else 'usual' (standard normal)."""
    return "large" if seed % LARGE_EVERY == LARGE_EVERY - 1 else "usual"


def usual_seed(seed):
    """``seed``, or the one below it when it makes large values."""
    return seed - (value_class(seed) == "large")


def large_seed(seed):
    """The seed of large values in ``seed``'s block of LARGE_EVERY."""
    return seed - seed % LARGE_EVERY + LARGE_EVERY - 1


def _size(example):
    return (sum(value for _, value in example.sizes), example.seed)


def run_checks(pair, signature, sizes, seed, reference=None):
    """Every check of ``pair`` at one configuration: CheckResults, in the order of ``CHECKS`` then the inputs;
    against the ``reference`` Pair's forward and gradients when there is one, else finite differences."""
    rng = np.random.default_rng(seed)
    inputs = signature.draw(rng, sizes, LARGE if value_class(seed) == "large" else 0.0)
    real = signature.real
    gradient_names = [f"d{name}" for name in real]
    skipped = [CheckResult(name, "skip", "forward failed") for name in CHECKS[1:] + tuple(gradient_names)]
    copies = {name: array.copy() for name, array in inputs.items()}

    def inputs_of(arrays):
        return {name: arrays[name].copy() for name in inputs}
    try:
        out, cache, narrow_out = _forward(pair.forward, inputs)
        again = _forward(pair.forward, inputs_of(copies))[0]
    except UserError as error:
        return [CheckResult("forward", "fail", str(error), error=error.details)] + skipped
    if reference is not None:
        expected_out, reference_cache, _ = _reference(lambda: _forward(reference.forward, inputs_of(copies)), sizes)
        if out.shape != expected_out.shape:  # no dout fits both: forward fails alone
            return [_named(_against("forward", out, expected_out, sizes), out, reference.mistakes,
                           inputs_of(copies), None)] + skipped
    dout = rng.standard_normal(out.shape)
    copies["dout"] = dout.copy()
    other = _OtherFormulation(reference.other, inputs_of(copies), real, dout.copy()) \
        if reference is not None and reference.other else None
    if reference is not None:
        expected = _reference(lambda: _backward(reference.backward, copies["dout"], reference_cache,
                                                inputs_of(copies), real), sizes)[0]
    try:
        gradients, narrow = _backward(pair.backward, dout, cache, inputs, real)
    except UserError as error:
        gradient_results = [CheckResult(name, "fail", str(error), error=error.details) for name in gradient_names]
    else:
        def judged(name):
            """d<name>: against the reference's gradient, or finite differences of forward."""
            if isinstance(gradients[name], UserError):  # a gradient the layer did not give
                return CheckResult(f"d{name}", "fail", str(gradients[name]))
            if reference is None:
                return _gradient(pair.forward, name, gradients[name], inputs_of(copies), copies["dout"], seed, sizes)
            return _named(_against(f"d{name}", gradients[name], expected[name], sizes, other), gradients[name],
                          reference.mistakes, inputs_of(copies), copies["dout"])
        gradient_results = [_said_narrow(judged(name), f"d{name}", narrow[name],
                                         reference and (gradients[name], expected[name])) for name in real]
        if reference is None:  # the finite differences are of forward's values
            gradient_results = [_said_narrow(result, "forward", narrow_out) for result in gradient_results]
    changed = [name for name, array in inputs.items() if not np.array_equal(array, copies[name], equal_nan=True)]
    mutation = CheckResult("no-mutation", "fail", f"forward or backward changed {', '.join(changed)} in place") \
        if changed else CheckResult("no-mutation", "pass")
    if not np.array_equal(dout, copies["dout"], equal_nan=True):
        mutation.notes.append(DOUT_WRITTEN)
    return [_said_narrow(_forward_result(out, reference and expected_out, sizes, reference, inputs_of(copies),
                                         copies["dout"], other),
                         "forward", narrow_out, reference and (out, expected_out)),
            _repeated(out, again), mutation] + gradient_results


def _forward_result(out, expected, sizes, reference, inputs, dout, other=None):
    """forward: its NaN or inf (the other checks go on: they may be right where forward overflows), else against
    the reference's ``expected`` (without a reference, its gradients are held to it instead)."""
    overflowed = _non_finite("forward", out)
    if overflowed:
        return CheckResult("forward", "fail", overflowed)
    if reference is None:
        return CheckResult("forward", "pass")
    return _named(_against("forward", out, expected, sizes, other), out, reference.mistakes, inputs, dout)


def _repeated(out, again):
    """repeatable: a second forward's output against the first's; a NaN or inf where the first had it repeats it."""
    if out.shape == again.shape:
        same = ~np.isfinite(out) & ((out == again) | (np.isnan(out) & np.isnan(again)))
        out, again = np.where(same, 0.0, out), np.where(same, 0.0, again)
    return compare("repeatable", again, {"first call": out}, TOLERANCE)


def _named(result, actual, mistakes, inputs, dout):
    """``result``, its hints led by those of the ``mistakes`` whose value (output or gradient) ``actual`` is."""
    if result.passed:
        return result
    def made_by(mistake):
        wrong = mistake.computes(inputs, dout)
        return wrong.shape == actual.shape and np.allclose(actual, wrong, rtol=1e-6, atol=1e-9)
    named = [mistake.hint for mistake in mistakes if mistake.check == result.name and made_by(mistake)]
    result.hints = named + result.hints
    return result


def _reference(step, sizes):
    """What ``step()``, a call of the reference's forward or backward at ``sizes``, returns; ValueError when the
    reference cannot take this configuration (a --dim outside the kind's ranges)."""
    try:
        return step()
    except UserError as error:
        shown = ", ".join(f"{symbol}={value}" for symbol, value in sorted(sizes.items()))
        raise ValueError(f"the reference cannot take {shown} ({error}): choose --dim values within the kind's "
                         "ranges (gradcheck KIND --help)") from None


def _against(check, actual, expected, sizes, other=None):
    """``actual`` compared with the reference's ``expected``, element by element, with the factor hints; a
    gradient that differs in shape by axes of length 1 alone is compared as the reference's (``_reshaped``).
    Where it differs, the reference's ``other`` formulation (an _OtherFormulation) is computed too: where the
    two differ, by rounding, a right layer may differ as much (SPREAD)."""
    actual, note = _reshaped(check, actual, expected.shape) if check != "forward" else (actual, None)
    if actual.shape != expected.shape:
        return CheckResult(check, "fail", f"{check} has shape {actual.shape}, the reference's {expected.shape}",
                           shapes=(actual.shape, expected.shape))
    # two right formulations differ by rounding of their O(1) terms: a few ulps of 1 even where the value is tiny
    # (1 + tanh(x / 2) for a sigmoid near 0), so the slack counts every element as at least 1 in magnitude
    slack = TOLERANCE.slack(magnitude=np.maximum(1.0, np.abs(expected)))
    result = compare(check, actual, {"reference": expected}, TOLERANCE, keep_positions=True,
                     slack={"reference": slack})
    if not result.passed and other is not None:
        spread = np.abs(expected - other.values(check))
        result = compare(check, actual, {"reference": expected}, TOLERANCE, keep_positions=True,
                         slack={"reference": slack + SPREAD * spread})
    if not result.passed:
        result.hints = _scale_hints(check, actual, expected, sizes, "the reference")
    result.notes += [note] if note else []
    return result


@dataclass(frozen=True)
class _OtherFormulation:
    """A reference's second formulation on one configuration's inputs (and dout), computed once, when a check
    first differs from the first's."""

    pair: Pair
    inputs: dict
    real: list
    dout: np.ndarray
    computed: dict = field(default_factory=dict)

    def values(self, check):
        """forward's output, or the gradient ``check`` names (dx)."""
        if not self.computed:
            inputs = {name: array.copy() for name, array in self.inputs.items()}
            out, cache, _ = _forward(self.pair.forward, inputs)
            grads = _backward(self.pair.backward, self.dout.copy(), cache, inputs, self.real)[0]
            self.computed.update({"forward": out, **{f"d{name}": grad for name, grad in grads.items()}})
        return self.computed[check]


def _reshaped(check, gradient, shape):
    """(``gradient`` as ``shape``, a note saying so) when it differs from ``shape`` only by axes of length 1
    (keepdims=True gave dgamma (1, D) for a gamma of (D,)): the courses' checks broadcast it and take its values,
    so the check does too, and says so; else (``gradient``, None)."""
    if gradient.shape == shape or [n for n in gradient.shape if n != 1] != [n for n in shape if n != 1]:
        return gradient, None
    return gradient.reshape(shape), (f"{check} has shape {gradient.shape} where {check[1:]} has {shape}: compared "
                                     f"as {shape}; give it {check[1:]}'s shape (a sum with or without keepdims=True)")


def _forward(forward, inputs):
    """(out as a float64 array, cache or None when forward returned out alone, the narrower float dtype out came
    in or None: ``_narrowness``)."""
    returned = call("forward", forward, *inputs.values())
    out, cache = returned if isinstance(returned, tuple) and len(returned) == 2 else (returned, None)
    if out is None:
        raise UserError("forward returned None as its output: is it unfinished? return the output array")
    if not isinstance(out, (np.ndarray, list, float, int)):
        raise UserError(f"forward must return an array, or (out, cache); it returned {type(returned).__name__}")
    return np.asarray(out, dtype=np.float64), cache, _narrowness(out)


def _narrowness(value):
    """The name of ``value``'s dtype when it is a float narrower than float64 (float32), else None."""
    dtype = getattr(value, "dtype", None)
    return dtype.name if dtype is not None and dtype.kind == "f" and dtype.itemsize < 8 else None


def _said_narrow(result, what, dtype, compared=None):
    """``result``, where ``what`` (its own array, or forward's that it differenced) came back as ``dtype``
    (float32) from float64 inputs: a note of that when its own array passed; a hint when it failed, saying so
    when every difference from the reference (``compared``: the layer's array and the reference's) is within
    float32's rounding, as ``compare.FLOAT32`` takes it."""
    if dtype is None or result.status == "skip":
        return result
    given = f"{what} came back as {dtype} from float64 inputs"
    look = "compute in float64 (look for dtype='f', np.float32 or astype)"
    if result.passed:
        if what == result.name:
            result.notes.append(f"{given}: its rounding stayed within the check's tolerance here ({TOLERANCE.rtol:g} "
                                f"of each value and {TOLERANCE.atol:g} of the largest), but the layer computes in "
                                f"{dtype} somewhere")
    elif what != result.name:
        result.hints.append(f"{given}, and finite differences of it divide its rounding by the step "
                            f"({TOLERANCE.step:g}): {look} to check the gradients")
    elif compared is not None and _within_float32(result.name, *compared):
        result.hints.append(f"{given}, and every difference from the reference is within float32's rounding "
                            f"({FLOAT32.rtol:g} of each value and of the largest), which {dtype} can account for "
                            f"alone; {look}")
    else:
        result.hints.append(f"{given}: {look} to check it at float64's tolerance")
    return result


def _within_float32(check, actual, expected):
    return actual.shape == expected.shape and compare(
        check, actual, {"reference": expected}, FLOAT32,
        slack={"reference": FLOAT32.slack(magnitude=np.maximum(1.0, np.abs(expected)))}).passed


def finite_array(what, value):
    """``value`` as a float64 array; UserError saying where when it holds NaN or inf."""
    if value is None:
        raise UserError(f"{what} returned None: is it unfinished?")
    array = np.asarray(value, dtype=np.float64)
    problem = _non_finite(what, array)
    if problem:
        raise UserError(problem)
    return array


def _non_finite(what, array):
    """Where ``array``, what ``what`` returned, holds NaN or inf, in a sentence; None when it holds none."""
    if np.all(np.isfinite(array)):
        return None
    if array.ndim == 0:
        return f"{what} returned {array}"
    first = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
    return (f"{what} returned {int((~np.isfinite(array)).sum())} NaN or inf of {array.size} values (the first at "
            f"{list(first)}: {array[first]})")


def _backward(backward, dout, cache, inputs, real):
    """({name: its gradient as a float64 array} for the ``real`` inputs from backward(dout, cache), or
    backward(dout, *inputs) without a cache, {name: the narrower float dtype it came in}); a UserError in place
    of a gradient (a class's adapter found none) is kept, for that check alone to fail."""
    returned = call("backward", backward, dout, cache) if cache is not None else \
        call("backward", backward, dout, *inputs.values())
    grads = returned if isinstance(returned, (tuple, list)) else (returned,)
    if len(grads) != len(real):
        raise UserError(f"backward must return {len(real)} gradient{'s' * (len(real) > 1)} "
                         f"(d{', d'.join(real)}, in the order forward takes them), got {len(grads)}")
    return ({name: grad if isinstance(grad, UserError) else np.asarray(grad, dtype=np.float64)
             for name, grad in zip(real, grads)}, {name: _narrowness(grad) for name, grad in zip(real, grads)})


def _scale_hints(check, analytic, expected, sizes, against="the finite differences"):
    """When ``analytic`` is ``expected`` times one factor everywhere: what that factor says (the value of a
    symbol: a mean where a sum belongs; -1: the sign), or nothing."""
    largest = np.abs(expected).max(initial=0.0)
    counted = np.abs(expected) > 1e-6 * largest
    if not counted.any() or np.abs(analytic[~counted]).max(initial=0.0) > 1e-6 * largest:
        return []
    ratios = analytic[counted] / expected[counted]
    factor = float(np.median(ratios))
    # one factor everywhere: the ratios agree to 1e-4 of it, and far more closely than it is to 1 (ratios of 1
    # give or take rounding are no factor)
    if not np.isfinite(factor) or factor == 0 or abs(factor - 1) < 1e-4 or \
            not np.allclose(ratios, factor, rtol=0, atol=min(1e-4 * abs(factor), 1e-2 * abs(factor - 1))):
        return []
    if np.isclose(factor, -1.0, rtol=1e-4):
        return [f"{check} is {against} with the sign flipped, everywhere"]
    for value, told in ((1 / factor, "divided by"), (factor, "times")):
        symbols = [symbol for symbol, size in sizes.items() if size > 1 and np.isclose(value, size, rtol=1e-4)]
        if symbols:
            named = f"{symbols[0]}={sizes[symbols[0]]}" if len(symbols) == 1 else \
                f"{sizes[symbols[0]]} (the value of {' and '.join(symbols)} here)"
            why = "a mean where a sum belongs" if told == "divided by" else "a sum where the forward takes a mean"
            return [f"{check} is {against} {told} {named}, everywhere: {why}?"]
    if counted.sum() < 2:  # one element says nothing about "everywhere"
        return []
    return [f"{check} is {factor:.6g} times {against}, everywhere: a constant factor is wrong"]


def _gradient(forward, name, analytic, inputs, dout, seed, sizes):
    """d<name> against central differences of forward (``gradient_check``).  Forward's terms are taken to be as
    large as its largest input: a loss of 1e-300 computed as the difference of two scores of 560 (a softmax of
    large scores) is differenced as 0, and its gradient of 1e-300 is no disagreement."""
    def evaluate(thetas):
        return [_forward(forward, dict(inputs, **{name: moved}))[0] for moved in thetas]
    largest = max(np.abs(value).max(initial=0.0) for value in inputs.values() if value.dtype.kind == "f")
    return gradient_check(f"d{name}", name, evaluate, inputs[name], analytic, dout, np.random.default_rng(seed),
                          sizes, out_magnitude=largest)


def gradient_check(check, name, evaluate, theta, analytic, dout, rng, sizes=None, out_magnitude=0.0):
    """The CheckResult ``check`` of the gradient ``analytic`` of ``name`` (now ``theta``) against central
    differences of ``evaluate`` (outputs at a list of thetas): element by element when small, else a projection
    screen localized by group testing.  ``out_magnitude`` (the size of the terms of each output) widens the
    finite differences' rounding noise (``numeric.NumericGradient``).  What ``evaluate`` raises as a UserError
    fails the check."""
    analytic, note = _reshaped(check, analytic, theta.shape)
    if analytic.shape != theta.shape:
        return CheckResult(check, "fail", f"{check} has shape {analytic.shape}, {name} has {theta.shape}",
                           shapes=(analytic.shape, theta.shape))
    try:
        if theta.size <= DENSE_LIMIT:
            result = _differenced(check, evaluate, theta, dout, analytic, sizes or {}, out_magnitude)
        else:
            result = _screened(check, evaluate, theta, dout, analytic, rng, out_magnitude)
    except UserError as error:
        result = CheckResult(check, "fail", f"while differencing {name}: {error}", error=error.details)
    result.notes += [note] if note else []
    return result


def _differenced(check, evaluate, theta, dout, analytic, sizes, out_magnitude):
    """Element by element; the elements that disagree are differenced again at each of RECHECK_STEPS and kept
    where one agrees (a kink within a step of the input: ReLU's 0)."""
    estimate = numeric.finite_differences(evaluate, theta, dout, numeric.dense(theta.shape), TOLERANCE.step,
                                          out_magnitude=out_magnitude)
    values, noise, evaluations = estimate.values.copy(), estimate.noise.copy(), estimate.evaluations
    for step in (None,) + RECHECK_STEPS:
        if step is not None:
            bad = np.flatnonzero(result.mismatches)
            again = numeric.finite_differences(evaluate, theta, dout, numeric.dense(theta.shape, bad), step,
                                               out_magnitude=out_magnitude)
            values.flat[bad], noise.flat[bad] = again.values.flat[bad], again.noise.flat[bad]
            evaluations += again.evaluations
        result = compare(check, analytic, {"finite differences": values}, TOLERANCE,
                         slack={"finite differences": TOLERANCE.slack(noise=noise)}, keep_positions=True)
        if result.passed:
            break
    result.method, result.evaluations = "dense", evaluations
    if not result.passed:
        result.hints = _scale_hints(check, analytic, values, sizes)
    return result


def _screened(check, evaluate, theta, dout, analytic, rng, out_magnitude):
    """A projection screen of SCREEN directions; when it fails, the disagreeing elements by group testing."""
    spent = [0]

    def agrees(projection):
        """Per direction: agreement at the step, or at one of RECHECK_STEPS (a kink within a step)."""
        agreed = projection.agrees(TOLERANCE, dout, out_magnitude)
        for step in RECHECK_STEPS:
            if agreed.all():
                break
            again = numeric.project(evaluate, theta, dout, analytic, step,
                                    [u for u, ok in zip(projection.directions, agreed) if not ok])
            spent[0] += again.evaluations
            agreed[~agreed] = again.agrees(TOLERANCE, dout, out_magnitude)
        return agreed
    directions = numeric.random_directions(rng, theta.shape, SCREEN)
    projection = numeric.project(evaluate, theta, dout, analytic, TOLERANCE.step, directions)
    if agrees(projection).all():
        return CheckResult(check, "pass", method="projection", evaluations=projection.evaluations + spent[0],
                           max_abs_error=float(np.abs(projection.numeric - projection.analytic).max()))
    located = numeric.localize(evaluate, theta, dout, analytic, TOLERANCE.step, agrees, rng)
    evaluations = projection.evaluations + located.evaluations + spent[0]
    if located.complete and not len(located.positions):  # every element agrees alone: the joint move met a kink
        return CheckResult(check, "pass", method="projection", evaluations=evaluations,
                           notes=["a screen direction disagreed, but group testing found no element that does: "
                                  "moving every element at once crossed a kink (a ReLU's input near 0)"])
    mask = np.zeros(theta.shape, bool)
    mask.flat[located.positions] = True
    shown = f"{len(located.positions)}{'' if located.complete else ' or more'}"
    result = CheckResult(check, "fail", f"{shown} of {theta.size} elements differ from the finite differences",
                         mismatched=len(located.positions), total=theta.size, mismatches=mask,
                         against="finite differences", method="projection", evaluations=evaluations)
    if len(located.positions):
        worst = int(np.argmax(np.abs(analytic.flat[located.positions] - located.numeric)))
        position = np.unravel_index(located.positions[worst], theta.shape)
        result.worst_index = tuple(int(i) for i in position)
        result.expected, result.actual = float(located.numeric[worst]), float(analytic[position])
        result.max_abs_error = abs(result.expected - result.actual)
    return result
