"""``gradcheck.check``: the one entry point the CLI, the pytest helpers and the grader share."""
import inspect
import os
import shlex
from dataclasses import dataclass, field

from reference_layers import FORMULATIONS
from reference_layers.geometry import as_int

from . import strategies
from .adapters import load_object, reference_style
from .config import LAYERS, Config, cli_args
from .fuzz import DEFAULT_EXAMPLES, default_seed, run_search

DIMENSIONS = ("batch", "channels", "filters", "size", "kernel", "stride", "pad", "dilation")


@dataclass
class Report:
    """The outcome of a check: one summary row per check, and the findings behind every failure.

    ``checks`` summarizes each check over every configuration tried; a failed
    check shows its errors at the smallest configuration it fails on.
    ``findings`` lists each distinct failure with that configuration, the
    trigger facts and hints; ``counterexample`` is the first of them.
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

    @property
    def passed(self):
        return all(result.passed for result in self.checks)

    @property
    def counterexample(self):
        return self.findings[0] if self.findings else None

    def to_dict(self):
        first = self.counterexample
        return {
            "passed": self.passed,
            "layer": self.layer,
            "implementation": self.implementation,
            "config": dict(self.options, seed=self.seed, examples_run=self.examples),
            "checks": [result.to_dict() for result in self.checks],
            "counterexample": first.to_dict() if first else None,
            "findings": [finding.to_dict() for finding in self.findings],
            "triggers": list(first.triggers) if first else [],
            "hints": list(first.hints) if first else [],
            "reproduce": first.reproduce if first else self.reproduce,
            "notes": list(self.notes),
        }


def check(layer, impl=None, *, batch=None, channels=None, filters=None, size=None, kernel=None, stride=None,
          pad=None, dilation=None, examples=None, seed=None, fast=False, config=None, per_axis=None,
          progress=None):
    """Check ``impl``'s forward and gradients for ``layer`` ("conv", "maxpool" or "avgpool").

    ``impl`` is None (the reference layers check themselves: every
    formulation against finite differences and against the fastest one), a
    class in the reference convention, or a ``"FILE:NAME"`` string.  Pin
    any dimension (ints or (h, w) pairs); the others are fuzzed over
    ``examples`` configurations.  When every dimension is pinned, or
    ``config`` is given, that one configuration is checked with the arrays of
    ``seed``.  ``fast`` screens gradients along random directions first.
    ``per_axis`` lets stride, pad and dilation differ between the axes (the
    default for the reference layers; user layers get ints).
    """
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}, got {layer!r}")
    implementations, spec = _implementations(layer, impl)
    seed = default_seed() if seed is None else as_int(seed, "seed", 0)
    examples = DEFAULT_EXAMPLES if examples is None else as_int(examples, "examples", 1)
    pins = _pins(layer, batch=batch, channels=channels, filters=filters, size=size, kernel=kernel,
                 stride=stride, pad=pad, dilation=dilation)
    accepts_dilation = all(i.accepts_dilation for i in implementations.values())
    if not accepts_dilation and pins.get("dilation") not in (None, 1, (1, 1)):
        raise ValueError("the implementation's constructor takes no dilation argument; leave dilation at 1")
    if not accepts_dilation and "dilation" in _free(layer, pins):
        pins["dilation"] = 1
    per_axis = (impl is None) if per_axis is None else per_axis
    if config is None and not _free(layer, pins):
        config = _pinned_config(layer, pins)
    if config is not None:
        strategy = None
        fixed = (config, seed)
    else:
        strategy = strategies.configs(layer, per_axis=per_axis, **pins)
        fixed = None

    def reproduce(finding):
        return _command(finding.config.cli_args(), spec, finding.seed, fast)

    search = run_search(layer, implementations, strategy, examples=examples, seed=seed, fast=fast,
                        progress=progress, label=reproduce, fixed=fixed)
    options = {name: list(value) if isinstance(value, tuple) else value for name, value in pins.items()}
    options.update(fast=fast, examples=examples)
    run_args = config.cli_args() if config is not None else cli_args(layer, pins)
    return Report(layer, spec or "reference layers", options, search.summary, search.findings,
                  search.examples, seed, _command(run_args + ([] if fixed else ["--examples", str(examples)]),
                                                  spec, seed, fast))


def _implementations(layer, impl):
    """{subject name: Implementation} and the FILE:NAME spec that reproduces it ("" for the references)."""
    if impl is None:
        return {cls.__name__: reference_style(cls) for cls in FORMULATIONS[layer]}, ""
    if isinstance(impl, str):
        return {"": reference_style(load_object(impl), impl.rpartition(":")[2])}, impl
    return {"": reference_style(impl)}, _spec_of(impl)


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


def _command(args, spec, seed, fast):
    words = ["gradcheck", *args]
    if spec:
        words += ["--impl", spec]
    words += ["--seed", str(seed)]
    if fast:
        words.append("--fast")
    return shlex.join(words)
