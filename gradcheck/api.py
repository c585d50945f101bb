"""``gradcheck.check``: the one entry point the CLI, the pytest helpers and the grader share."""
import inspect
import os
import shlex
from dataclasses import dataclass, field

from reference_layers import FORMULATIONS
from reference_layers.geometry import as_int

from . import guard
from .adapters import Implementation, implementation_of, load_implementation, reference_style
from .checks import METHODS
from .compare import CheckResult
from .config import LAYERS, Config, cli_args
from .fuzz import DEFAULT_EXAMPLES, Finding, Space, Stop, default_seed, run_search
from .inputs import PRECISIONS

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
    of ValueError) fails the check it happened in, since the layer could not
    be checked there: the report is FAILED and the CLI exits 1, but the
    finding's ``kind`` is "refusal" and it says what the layer refuses, with no
    gradient hint; ``divisible=True`` keeps the search to what a layer that
    refuses inputs the stride does not divide accepts.
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
            "config": dict(self.options, seed=self.seed, examples_run=self.examples, covered=self.covered),
            "checks": [result.to_dict() for result in self.checks],
            "counterexample": first.to_dict() if first else None,
            "findings": [finding.to_dict() for finding in self.findings],
            "triggers": list(first.triggers) if first else [],
            "hints": list(first.hints) if first else [],
            "reproduce": first.reproduce if first else self.reproduce,
            "notes": list(self.notes),
            "methods": {name: {method: {"configurations": count, "evaluations": evaluations}
                               for method, (count, evaluations) in by_method.items()}
                        for name, by_method in self.methods.items()},
        }
        if self.stopped is not None:
            data["stopped"] = self.stopped.to_dict()
        return data

    @classmethod
    def from_dict(cls, data):
        """The Report that ``to_dict`` described; ``reproduce`` is the command it shows (the first finding's
        when there is one)."""
        config = data["config"]
        options = {key: value for key, value in config.items() if key not in ("seed", "examples_run", "covered")}
        methods = {name: {method: [tally["configurations"], tally["evaluations"]] for method, tally in by.items()}
                   for name, by in data["methods"].items()}
        return cls(data["layer"], data["implementation"], options,
                   [CheckResult.from_dict(check) for check in data["checks"]],
                   [Finding.from_dict(finding) for finding in data["findings"]], config["examples_run"],
                   config["seed"], data["reproduce"], list(data["notes"]), config["covered"], methods,
                   Stop.from_dict(data["stopped"]) if data.get("stopped") else None)


def check(layer, impl=None, *, progress=None, **options):
    """Check ``impl``'s forward and gradients for ``layer`` ("conv", "maxpool" or "avgpool").

    ``impl`` is None (the reference layers check themselves: every
    formulation against finite differences and against the other formulations), a
    class, factory or forward function in one of the conventions of
    ``gradcheck.adapters``, a ``"FILE:NAME"`` string, or an Implementation
    (as the sandbox provides).  Options:

    batch, channels, filters, size, kernel, stride, pad, dilation
        pin a dimension (an int, or an (h, w) pair); the others are fuzzed.
        For pools a pinned kernel also pins the stride unless it is given.
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
        pair taking stride and pad as arguments) or "dive"; see
        ``gradcheck.adapters``.
    divisible
        draw only configurations whose stride divides H + 2P - KH and
        W + 2P - KW, for layers that refuse the others (as cs231n's fast layers do).

    ``progress(done, total)`` is called as configurations are checked.
    Bad options raise ValueError or TypeError, an unloadable ``impl``
    LoadError; a wrong layer never raises, it fails checks.
    """
    known = [name for name, p in inspect.signature(plan).parameters.items() if p.kind is p.KEYWORD_ONLY]
    for name in options:
        if name not in known:
            raise TypeError(f"check() got an unexpected keyword argument {name!r}; it takes {', '.join(known)}")
    return plan(layer, impl, **options).run(progress)


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

    def run(self, progress=None, stop_on=()):
        """The Report; an exception of a type in ``stop_on`` escaping a check ends the run early
        (``Report.stopped``) instead of propagating."""
        search = run_search(self.layer, self.implementations, self.space, examples=self.examples,
                            seed=self.seed, method=self.method, progress=progress, label=self._reproduce,
                            fixed=self.fixed, precision=self.precision, stop_on=stop_on)
        run_args = self.fixed[0].cli_args() if self.fixed else cli_args(self.layer, self.options["pinned"])
        if not self.fixed:
            run_args += ["--examples", str(self.examples)]
        if search.stop is not None:
            search.stop.reproduce = self.command(search.stop.config.cli_args(), search.stop.seed)
        return Report(self.layer, self.spec or "reference layers", self.options, search.summary, search.findings,
                      search.examples, self.seed, self.command(run_args, self.seed), covered=search.covered,
                      methods=search.methods, stopped=search.stop)

    def expected_seconds(self):
        """About how long ``run`` takes with a fast layer (the guard's estimate)."""
        if self.fixed:
            return guard.estimate_seconds(self.fixed[0])
        return guard.expected_seconds(self.space.strategy(), self.examples)

    def _reproduce(self, finding):
        return self.command(finding.config.cli_args(), finding.seed)

    def command(self, args, seed):
        """The gradcheck command line for ``args`` with this plan's implementation, seed and modes."""
        words = ["gradcheck", *args]
        if self.spec:
            words += ["--impl", self.spec]
        if self.convention != "auto":
            words += ["--convention", self.convention]
        if self.precision != "float64":
            words += ["--precision", self.precision]
        if self.method != "auto":
            words += ["--method", self.method]
        if self.divisible:
            words.append("--divisible")
        words += ["--seed", str(seed)]
        return shlex.join(words)


def plan(layer, impl=None, *, batch=None, channels=None, filters=None, size=None, kernel=None, stride=None,
         pad=None, dilation=None, examples=None, seed=None, fast=False, method="auto", config=None, per_axis=None,
         convention="auto", precision="float64", divisible=False):
    """Validate the options of ``check`` and load ``impl``; raise on anything wrong, run nothing."""
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}, got {layer!r}")
    method = _method(method, fast)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    implementations, spec = _implementations(layer, impl, convention)
    seed = default_seed() if seed is None else as_int(seed, "seed", 0)
    examples = DEFAULT_EXAMPLES if examples is None else as_int(examples, "examples", 1)
    pins = _pins(layer, batch=batch, channels=channels, filters=filters, size=size, kernel=kernel,
                 stride=stride, pad=pad, dilation=dilation)
    for implementation in implementations.values():
        _apply_convention_pins(pins, implementation)
    if per_axis is None:
        per_axis = all(i.per_axis for i in implementations.values())
    options = {"pinned": dict(pins), "method": method, "examples": examples, "precision": precision,
               "divisible": bool(divisible)}
    if config is None and not _free(layer, pins):
        config = _pinned_config(layer, pins)
    if config is not None:
        _require_per_axis(config.to_dict(), per_axis, implementations)
        if divisible:
            _require_divisible(config)
        guard.require_fit(config)
        return Plan(layer, implementations, spec, None, (config, seed), examples, seed, method, options, convention,
                    precision, bool(divisible))
    _require_per_axis(pins, per_axis, implementations)
    space = Space(layer, pins, per_axis, {"divisible": True} if divisible else {})
    guard.require_fit(guard.smallest(space.strategy()))  # validates the pins too
    return Plan(layer, implementations, spec, space, None, examples, seed, method, options, convention, precision,
                bool(divisible))


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


def _require_divisible(config):
    """Refuse, under divisible, a configuration whose stride does not divide its padded input."""
    if config.remainders != (0, 0):
        spans = [n + 2 * p - e for n, p, e in zip(config.size, config.pad, config.window.extent)]
        raise ValueError(f"with --divisible the stride {config.stride} must divide H + 2P - extent and "
                         f"W + 2P - extent, here {tuple(spans)}; change the size or the stride, or drop --divisible")


def _apply_convention_pins(pins, implementation):
    """Pin what the implementation's convention cannot vary; refuse a user pin that contradicts it."""
    for name, value in implementation.pinned.items():
        if pins.get(name, value) not in (value, (value, value)):
            raise ValueError(f"{implementation.name} ({implementation.convention} convention) cannot take "
                             f"{name} {pins[name]}; leave {name} at {value}")
        pins[name] = value


def _implementations(layer, impl, convention):
    """{subject name: Implementation} and the FILE:NAME spec that reproduces it ("" for the references)."""
    if impl is None:
        formulations = FORMULATIONS[layer]
        return {cls.__name__: reference_style(cls, layer, [other for other in formulations if other is not cls])
                for cls in formulations}, ""
    if isinstance(impl, Implementation):
        return {"": impl}, impl.spec
    if isinstance(impl, str):
        return {"": load_implementation(impl, layer, convention)}, impl
    return {"": implementation_of(impl, layer, convention)}, _spec_of(impl)


def _spec_of(obj):
    """FILE:NAME for a class or function defined in a file, for reproduction commands."""
    try:
        path = inspect.getsourcefile(obj)
    except TypeError:
        return obj.__qualname__
    return f"{os.path.relpath(path)}:{obj.__qualname__}" if path else obj.__qualname__


def _pins(layer, **pins):
    """The pinned dimensions, validated; for pools a pinned kernel also pins the stride (the default)."""
    pins = {k: v for k, v in pins.items() if v is not None}
    if layer != "conv":
        for name in ("filters", "dilation"):
            if pins.get(name) not in (None, 1, (1, 1)):
                raise ValueError(f"pools have no {name}; leave it out")
            pins.pop(name, None)
        if "kernel" in pins and "stride" not in pins:
            pins["stride"] = pins["kernel"]
    return pins


def _free(layer, pins):
    names = DIMENSIONS if layer == "conv" else ("batch", "channels", "size", "kernel", "stride", "pad")
    return [name for name in names if name not in pins]


def _pinned_config(layer, pins):
    if layer == "conv":
        return Config.conv(**pins)
    return Config.pool(layer[:3], **pins)
