"""``gradcheck.check``: the one entry point the CLI, the pytest helpers and the grader share."""
import inspect
import shlex
from dataclasses import dataclass, field

from reference_layers.geometry import as_int

from . import guard, layout as layouts
from .adapters import (LAYOUTS, NCHW, Implementation, Layout, implementation_of, load_implementation,
                       natural_layout, reference_style, restriction)
from .checks import METHODS
from .compare import CheckResult
from .config import Config, as_ranges, cli_args, dimension_text, split_ranges, windowed_kind
from .fuzz import DEFAULT_EXAMPLES, FAILURE, REFUSAL, Finding, Space, Stop, default_seed, run_search
from .inputs import PRECISIONS
from .restrict import Restriction, accepted_opposites, accepted_space
from .userfiles import spec_of

DIMENSIONS = ("batch", "channels", "filters", "size", "kernel", "stride", "pad", "dilation")


@dataclass
class Report:
    """The outcome of a check: one summary row per check, and the findings behind every failure.

    ``checks`` summarizes each check over every configuration tried; a failed
    check shows its errors at the smallest configuration it fails on.
    ``findings`` lists each distinct failure with that configuration, the
    trigger facts (rules tested over their opposite), the observations made
    at that configuration only, and hints; ``counterexample`` is the first of
    them.  A check can have up to three findings (``fuzz.FINDINGS_PER_CHECK``).
    ``stopped`` says where a run given ``stop_on`` ended early (a ``fuzz.Stop``
    with its reproduction command), or is None.

    A configuration the layer refuses on purpose (its own assert, or a raise
    of ValueError or NotImplementedError) is not a gradient bug: when every
    refusal follows rules that held, the layer is checked again on the part of
    the space it accepts, and ``restriction`` (a ``restrict.Restriction``)
    says where ("only with a square kernel") and what it refuses; ``passed``
    and the checks are the verdict there.  Otherwise, and with ``strict``, a
    refusal fails the check it happened in, since the layer could not be
    checked there: the finding's ``kind`` is "refusal" and it says what the
    layer refuses, with no gradient hint.
    """

    layer: str
    implementation: str
    options: dict
    checks: list
    findings: list
    examples: int
    seed: int
    reproduce: str
    notes: list = field(default_factory=list)
    covered: dict = field(default_factory=dict)
    methods: dict = field(default_factory=dict)
    stopped: Stop = None
    layout: Layout = NCHW  # the layout of the layer, which every index and shape of the report is in
    restriction: Restriction = None
    classes: dict = field(default_factory=dict)  # the geometry classes reached and missed (fuzz.Search.classes)
    passes: dict = field(default_factory=dict)  # check name -> of the ``examples`` searched, how many it passed on

    @property
    def passed(self):
        return all(result.passed for result in self.checks)

    @property
    def counterexample(self):
        return self.findings[0] if self.findings else None

    def to_dict(self):
        first = self.counterexample
        data = {
            "passed": self.passed,
            "layer": self.layer,
            "implementation": self.implementation,
            "config": dict(self.options, seed=self.seed, examples_run=self.examples, covered=self.covered,
                           classes=self.classes),
            "layout": dict(self.layout.to_dict(), name=self.layout.name),
            "checks": [result.to_dict() for result in self.checks],
            "counterexample": first.to_dict() if first else None,
            "findings": [finding.to_dict() for finding in self.findings],
            "triggers": list(first.triggers) if first else [],
            "hints": list(first.hints) if first else [],
            "reproduce": first.reproduce if first else self.reproduce,
            "notes": list(self.notes),
            "restriction": self.restriction.to_dict() if self.restriction else None,
            "methods": {name: {method: {"configurations": count, "evaluations": evaluations}
                               for method, (count, evaluations) in by_method.items()}
                        for name, by_method in self.methods.items()},
            "passes": dict(self.passes),
        }
        if self.stopped is not None:
            data["stopped"] = self.stopped.to_dict()
        return data

    @classmethod
    def from_dict(cls, data):
        """The Report that ``to_dict`` described; ``reproduce`` is the command it shows (the first finding's
        when there is one)."""
        config = data["config"]
        options = {key: value for key, value in config.items()
                   if key not in ("seed", "examples_run", "covered", "classes")}
        methods = {name: {method: [tally["configurations"], tally["evaluations"]] for method, tally in by.items()}
                   for name, by in data["methods"].items()}
        return cls(data["layer"], data["implementation"], options,
                   [CheckResult.from_dict(check) for check in data["checks"]],
                   [Finding.from_dict(finding) for finding in data["findings"]], config["examples_run"],
                   config["seed"], data["reproduce"], list(data["notes"]), config["covered"], methods,
                   Stop.from_dict(data["stopped"]) if data.get("stopped") else None,
                   Layout.from_dict(data["layout"]) if data.get("layout") else NCHW,
                   Restriction.from_dict(data["restriction"]) if data.get("restriction") else None,
                   config.get("classes", {}), data.get("passes", {}))


def check(layer, impl=None, *, progress=None, **options):
    """Check ``impl``'s forward and gradients for ``layer`` ("conv", "maxpool" or "avgpool").

    ``impl`` is None (the reference layers check themselves: every
    formulation against finite differences and against the other formulations), a
    class, factory or forward function in one of the conventions of
    ``gradcheck.adapters``, a ``"FILE:NAME"`` string, or an Implementation
    (as the sandbox provides).  Options:

    batch, channels, filters, size, kernel, stride, pad, dilation
        pin a dimension (an int, or an (h, w) pair), or keep it within a
        range (``stride=range(1, 3)``: 1 or 2 along each axis); the others
        are fuzzed.
    examples
        configurations to try (default 30).
    seed
        makes the run repeat exactly (default: 0 under CI, else random).
    method
        the finite differences: "auto" (default: element by element while
        that is cheap, else a projection screen), "structured", "dense" or
        "projection" (a screen along random directions; a failed screen is
        localized by group testing).
    fast
        shorthand for method="projection".
    precision
        "float64" (default) or "float32": the dtype of the inputs and the
        tolerances; what the layer returns never loosens them.
    config
        a Config to check once, deterministically, with the arrays of ``seed``
        (also what happens when every dimension is pinned).
    per_axis
        let stride, pad and dilation differ between the axes (default: only
        for the reference layers, since most user layers take ints).
    convention
        "auto" (detect), "reference", "function" (cs231n), "args" (a function
        pair taking stride and pad as arguments), "dive" or "dlai"
        (deeplearning.ai's functions); see ``gradcheck.adapters``.
    layout
        "auto" (default: the convention's, confirmed or corrected by a probe
        forward), "nchw" or "nhwc" (channels-last: x (N, H, W, C), W as
        (KH, KW, C, F) or (F, KH, KW, C), found by the probe).  A layout the
        probe contradicts raises ValueError saying which the layer reads.
        The report's indices and shapes are in the layer's layout.
    divisible
        draw only configurations whose stride divides H + 2P - KH and
        W + 2P - KW (as cs231n's fast layers require).  A layer that refuses
        the others passes on them without it too, restricted; with it, every
        configuration drawn is one of them.
    backward
        the backward of a forward function ``impl``: a function, a
        ``"FILE:NAME"`` string, or a NAME found as its partner would be
        (default: the forward's name with forward -> backward, looked up in
        its module, what that imports, and the files of its folder).
    strict
        a configuration the layer refuses on purpose fails the check it
        happened in, even when the refusals follow rules (default False: the
        layer is then checked where it accepts, see ``Report.restriction``).
    convention_pins
        keep the search to what the layer's convention and signature can take
        (default True: a constructor without a stride is checked with stride
        1, cs231n's pools with pad 0, ...).  False checks the geometry asked
        for whatever the signature offers, and a configuration the layer
        cannot take fails (grading: its implementation is the untrusted
        child's, whose account of its own signature chooses nothing).

    ``progress(done, total)`` is called as configurations are checked.
    Bad options raise ValueError or TypeError, an unloadable ``impl``
    LoadError; a wrong layer never raises, it fails checks.
    """
    known = check_options()
    for name in options:
        if name not in known:
            raise TypeError(f"check() got an unexpected keyword argument {name!r}; it takes {', '.join(known)}")
    return plan(layer, impl, **options).run(progress)


def check_options():
    """The names of the options ``check`` takes: ``plan``'s keywords but the grader's ``stop_on``."""
    return [name for name, p in inspect.signature(plan).parameters.items()
            if p.kind is p.KEYWORD_ONLY and name != "stop_on"]


@dataclass
class Plan:
    """A validated check, ready to run: what ``check`` does before any layer code runs."""

    layer: str
    implementations: dict
    spec: str
    space: object
    fixed: tuple
    examples: int
    seed: int
    method: str
    options: dict
    convention: str = "auto"
    precision: str = "float64"
    divisible: bool = False
    layout: Layout = NCHW  # the layout the layer reads, as the probe decided
    natural: Layout = NCHW  # the layout of its convention
    backward: str = ""  # --backward, for reproduction commands
    strict: bool = False

    def run(self, progress=None, stop_on=()):
        """The Report; an exception of a type in ``stop_on`` escaping a check ends the run early
        (``Report.stopped``) instead of propagating.

        Unless ``strict``, a run whose refusals all follow rules is followed by
        a run on the part of the space the layer accepts (``restrict``), which
        checks the first run's failures again first: the report is that run's,
        with the ``restriction``.
        """
        search = self._search(self.space, progress, stop_on)
        restriction = None
        accepted = None if self.strict or self.fixed or search.stop else accepted_space(self.space, search.findings)
        if accepted is not None:
            restriction = Restriction([opposite.text for opposite in accepted_opposites(search.findings)],
                                      [finding for finding in search.findings if finding.kind == REFUSAL])
            carried = [(finding.config, finding.seed) for finding in search.findings if finding.kind == FAILURE]
            search = self._search(accepted, progress, stop_on, carried)
        run_args = self.fixed[0].cli_args() if self.fixed else \
            cli_args(self.layer, {**self.options["pinned"], **as_ranges(self.options["bounds"])})
        if not self.fixed:
            run_args += ["--examples", str(self.examples)]
        if search.stop is not None:
            search.stop.reproduce = self.command(search.stop.config.cli_args(), search.stop.seed)
        report = Report(self.layer, self.spec or "reference layers", self.options, search.summary, search.findings,
                        search.examples, self.seed, self.command(run_args, self.seed, search=not self.fixed),
                        covered=search.covered, methods=search.methods, stopped=search.stop,
                        restriction=restriction, classes=search.classes, passes=search.passes)
        return layouts.relaid(report, self.layout)

    def _search(self, space, progress, stop_on, carry=()):
        return run_search(self.layer, self.implementations, space, examples=self.examples, seed=self.seed,
                          method=self.method, progress=progress, label=self._reproduce, fixed=self.fixed,
                          precision=self.precision, stop_on=stop_on, carry=carry)

    def expected_seconds(self):
        """About how long ``run`` takes with a fast layer (the guard's estimate)."""
        if self.fixed:
            return guard.estimate_seconds(self.fixed[0])
        return guard.expected_seconds(self.space.strategy(), self.examples)

    def _reproduce(self, finding):
        return self.command(finding.config.cli_args(), finding.seed)

    def command(self, args, seed, search=False):
        """The gradcheck command line for ``args`` with this plan's implementation, seed and modes (``--strict``
        only for a ``search``: one configuration is never narrowed)."""
        words = ["gradcheck", *args]
        if self.spec:
            words += ["--impl", self.spec]
        if self.backward:
            words += ["--backward", self.backward]
        if self.convention != "auto":
            words += ["--convention", self.convention]
        if "nhwc" in (self.layout.name, self.natural.name):
            words += ["--layout", self.layout.name]
        if self.precision != "float64":
            words += ["--precision", self.precision]
        if self.method != "auto":
            words += ["--method", self.method]
        if self.divisible:
            words.append("--divisible")
        if self.strict and search:
            words.append("--strict")
        words += ["--seed", str(seed)]
        return shlex.join(words)


def plan(layer, impl=None, *, batch=None, channels=None, filters=None, size=None, kernel=None, stride=None,
         pad=None, dilation=None, examples=None, seed=None, fast=False, method="auto", config=None, per_axis=None,
         convention="auto", precision="float64", divisible=False, strict=False, layout="auto", backward=None,
         convention_pins=True, stop_on=()):
    """Validate the options of ``check`` and load ``impl``; raise on anything wrong, run nothing but the probe
    that decides the layout the layer reads (``gradcheck.layout.choose``; an exception of a type in
    ``stop_on`` ends that probe, as it ends ``Plan.run``)."""
    windowed_kind(layer)  # a ValueError naming the layers there are
    method = _method(method, fast)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if impl is None and layout == "nhwc":
        raise ValueError("the reference layers read NCHW; --layout is for a layer given with --impl")
    implementations, spec = _implementations(layer, impl, convention, backward)
    seed = default_seed() if seed is None else as_int(seed, "seed", 0)
    examples = DEFAULT_EXAMPLES if examples is None else as_int(examples, "examples", 1)
    pins, bounds = _pins(layer, batch=batch, channels=channels, filters=filters, size=size, kernel=kernel,
                         stride=stride, pad=pad, dilation=dilation)
    restrict = {"divisible": True} if divisible else {}
    pinning = implementations if convention_pins else {}  # those whose convention keeps the search to what it takes
    for implementation in pinning.values():
        _apply_convention_pins(pins, bounds, implementation)
        restrict.update(implementation.restrict)
    if bounds:
        restrict["bounds"] = tuple(sorted(bounds.items()))
    restricted = _restriction(layer, pinning)
    if per_axis is None:
        per_axis = all(i.per_axis for i in implementations.values())
    options = {"pinned": dict(pins), "bounds": bounds, "method": method, "examples": examples, "precision": precision,
               "divisible": bool(divisible), "strict": bool(strict), "restricted": restricted or None}
    if config is None and not _free(layer, pins):
        config = _pinned_config(layer, pins)
    shown = _backward_spec(backward)
    if config is not None:
        _require_per_axis(config.to_dict(), per_axis, implementations)
        _require_square(config.to_dict(), pinning)
        if divisible:
            _require_divisible(config)
        _require_within(config, bounds)
        guard.require_fit(config)
        space, fixed = None, (config, seed)
    else:
        _require_per_axis(pins, per_axis, implementations)
        _require_square(pins, pinning)
        space, fixed = Space(layer, pins, per_axis, restrict), None
        guard.require_fit(guard.smallest(space.strategy()))  # validates the pins too
    chosen, natural = _layouts(layer, implementations, layout, stop_on)
    return Plan(layer, implementations, spec, space, fixed, examples, seed, method, options, convention, precision,
                bool(divisible), chosen, natural, shown, bool(strict))


def _layouts(layer, implementations, requested, stop_on):
    """(the layout the user's layer reads, its convention's own), set on its Implementation; NCHW for the
    reference layers."""
    if len(implementations) != 1:
        return NCHW, NCHW
    (implementation,) = implementations.values()
    implementation.layout = layouts.choose(implementation, layer, requested, stop_on)
    return implementation.layout, natural_layout(implementation.convention)


def _restriction(layer, implementations):
    """Why the user's layer's convention keeps the search to part of the space (square kernels, ...), or ""."""
    if len(implementations) != 1:
        return ""
    (implementation,) = implementations.values()
    return restriction(implementation.convention, layer)[1]


def _method(method, fast):
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if fast and method not in ("auto", "projection"):
        raise ValueError(f"fast means method 'projection'; it cannot be combined with method {method!r}")
    return "projection" if fast else method


def _require_per_axis(dims, per_axis, implementations):
    """Refuse (h, w) pins with h != w for stride, pad or dilation when the layer takes one int for both axes."""
    if per_axis:
        return
    for name in ("stride", "pad", "dilation"):
        value = dims.get(name)
        if value is not None and not isinstance(value, int) and value[0] != value[1]:
            layer = ", ".join(i.name for i in implementations.values())
            raise ValueError(f"{layer} takes {name} as one int for both axes, so it cannot be checked with "
                             f"{name} {value[0]}x{value[1]}; pass --per-axis if it accepts (h, w) pairs")


def _require_square(dims, implementations):
    """Refuse a non-square pin of what a layer takes as one int (``Implementation.restrict``)."""
    for implementation in implementations.values():
        unsquare = implementation.unsquare(dims.get)
        if unsquare:
            name, (h, w) = unsquare
            raise ValueError(f"{implementation.name} ({implementation.convention} convention) takes square "
                             f"{name}s only, so it cannot be checked with {name} {h}x{w}; pin a square {name}")


def _require_divisible(config):
    """Refuse, under divisible, a configuration whose stride does not divide its padded input."""
    if config.remainders != (0, 0):
        spans = [n + 2 * p - e for n, p, e in zip(config.size, config.pad, config.window.extent)]
        raise ValueError(f"with --divisible the stride {config.stride} must divide H + 2P - extent and "
                         f"W + 2P - extent, here {tuple(spans)}; change the size or the stride, or drop --divisible")


def _require_within(config, bounds):
    """Refuse a configuration outside the bounds given with it."""
    for name, (low, high) in bounds.items():
        value = getattr(config, name)
        if not all(low <= v <= high for v in (value if isinstance(value, tuple) else (value,))):
            raise ValueError(f"the configuration has {name} {dimension_text(value)}, outside the bounds "
                             f"{low}..{high} given with it; drop the bounds or change the configuration")


def _apply_convention_pins(pins, bounds, implementation):
    """Pin what the implementation's convention cannot vary; refuse a user pin or bounds that contradict it."""
    contradicted = implementation.contradicted_pin(pins.get)
    outside = [(name, dimension_text(range(low, high + 1))) for name, (low, high) in bounds.items()
               if name in implementation.pinned and not low <= implementation.pinned[name] <= high]
    if contradicted or outside:
        name, given = contradicted or outside[0]
        raise ValueError(f"{implementation.name} ({implementation.convention} convention) cannot take "
                         f"{name} {given}; leave {name} at {implementation.pinned[name]}")
    pins.update(implementation.pinned)
    for name in implementation.pinned:
        bounds.pop(name, None)


def _implementations(layer, impl, convention, backward=None):
    """{subject name: Implementation} and the FILE:NAME spec that reproduces it ("" for the references)."""
    if impl is None:
        if backward is not None:
            raise ValueError("backward names the backward of a forward function given as impl; leave it out")
        formulations = windowed_kind(layer).formulations
        return {cls.__name__: reference_style(cls, layer, [other for other in formulations if other is not cls])
                for cls in formulations}, ""
    if isinstance(impl, Implementation):
        return {"": impl}, impl.spec
    if isinstance(impl, str):
        return {"": load_implementation(impl, layer, convention, backward)}, impl
    return {"": implementation_of(impl, layer, convention, backward=backward)}, spec_of(impl)


def _backward_spec(backward):
    """--backward as reproduction commands give it: FILE:NAME or NAME as given, FILE:NAME for a function."""
    if backward is None or isinstance(backward, str):
        return backward or ""
    return spec_of(backward)


def _pins(layer, **dims):
    """(pins, bounds): the dimensions given, validated (pools have no filters or dilation), the ranges among them
    as {name: (lowest, highest)}."""
    pins, bounds = split_ranges({k: v for k, v in dims.items() if v is not None})
    if layer != "conv":
        for name in ("filters", "dilation"):
            if pins.get(name) not in (None, 1, (1, 1)) or name in bounds:
                raise ValueError(f"pools have no {name}; leave it out")
            pins.pop(name, None)
    return pins, bounds


def _free(layer, pins):
    names = DIMENSIONS if layer == "conv" else ("batch", "channels", "size", "kernel", "stride", "pad")
    return [name for name in names if name not in pins]


def _pinned_config(layer, pins):
    if layer == "conv":
        return Config.conv(**pins)
    return Config.pool(layer[:3], **pins)
