"""The mutant suite: every wrong layer fails exactly its checks, every right one passes.

Each layer in tests/mutants is checked the way a student would check it,
``gradcheck.check(layer, cls, seed=0)`` with the default fuzzing budget,
and the names of the checks with status "fail" must be exactly the ones its
registry entry names: the right check and only that check.  Some findings
must also carry the right trigger fact or hint, and every trigger fact must
be backed by a variation on which the finding's checks really pass, and
hold as a rule: on 100 configurations of its opposite drawn here, the layer's
forward and gradients equal an independent reference's (the loops
formulation), or, for the other checks, a search of its opposite, pinned
through the public options with another seed, finds no failure.  A layer that refuses part of the space
on purpose is checked strictly (its refusals are the findings) and without
``strict`` (it is checked where it accepts, and the report says where).  The
fast suite runs these tests on the layers of QUICK (see there what they
cover); the slow suite runs them on every layer, repeats the verdicts on
seeds 0..2, and checks every right layer at float32 precision too.
"""
import json
import math
import re
import shlex

import numpy as np
import pytest
from click.testing import CliRunner

import gradcheck
from gradcheck.api import plan
from gradcheck.checks import check_names, run_checks
from gradcheck.cli import main
from gradcheck.config import Config
from gradcheck.fuzz import refused, variations
from gradcheck.inputs import make_inputs
from mutants import Mutant, causes, conv, correct, geometry, layouts, pool, styles, values

MUTANTS = (conv.MUTANTS + pool.MUTANTS + styles.MUTANTS + layouts.MUTANTS + causes.MUTANTS + geometry.MUTANTS
           + values.MUTANTS)
CORRECT = ([Mutant(cls, "conv", set()) for cls in correct.CONV]
           + [Mutant(cls, "maxpool", set()) for cls in correct.MAXPOOL]
           + [Mutant(cls, "avgpool", set()) for cls in correct.AVGPOOL])
FLOAT32 = CORRECT + [Mutant(conv.ConvFloat32, "conv", set())] + layouts.RIGHT  # right at float32 precision
SEEDS = range(3)  # five took .ci/run past 30 minutes on a 2-core EPYC; bench_detection.py sweeps ten by hand
# The layers every test of this module runs on in the fast suite: the seed document's stride bug, and layers that
# take under 3 s each and between them fail every check and carry a trigger, a hint, a note, an error, "sometimes"
# and "absent", from the conv, pool, styles, layouts and causes modules, and right layers of every kind.  The
# others run in the slow suite; among them are the only layers with a refusal, a restriction or two findings and
# those of the geometry and values modules, which take 5 to 9 s each.
QUICK = {
    "ConvDxIgnoresStride", "ConvDbAveraged", "ConvAccumulatesGrads", "ConvStaleCol", "ConvCopiesWeights",
    "ConvMutatesX", "ConvRaisesInBackward", "ConvReturnsList", "MaxPoolMaskAllTies", "AvgPoolCountExcludePad",
    "ConvPositional", "conv_forward", "ConvBackwardNone", "conv_forward_hparams", "dlai conv_forward",
    "MaxPoolDxSpreads", "ConvIntOutput", "ConvIm2colDLfS",
    "ConvFFT", "MaxPoolLoops", "AvgPoolStrided",
}

_reports = {}


def report(mutant, seed=0, precision="float64", strict=None):
    """gradcheck.check(layer, cls, seed=seed), once per class, seed, precision and strictness for the whole
    module; strict by default for a layer of kind "refusal", whose refusals are what it is registered with."""
    strict = mutant.kind == "refusal" if strict is None else strict
    key = (mutant.name, seed, precision, strict)
    if key not in _reports:
        _reports[key] = gradcheck.check(mutant.layer, mutant.cls, seed=seed, precision=precision, strict=strict,
                                        **mutant.pins)
    return _reports[key]


def failed(rep):
    return {result.name for result in rep.checks if result.status == "fail"}


def table(rep):
    return "\n".join(f"  {r.name:12} {r.status:5} {r.message}" for r in rep.checks)


def cases(mutants, only=lambda m: True):
    """One parameter a mutant, slow unless it is in QUICK; under pytest-xdist every test of one mutant runs in
    the same worker (its group), where the reports of ``report`` are computed once for all of them."""
    return [pytest.param(m, id=m.name, marks=[pytest.mark.xdist_group(m.name)]
                         + ([] if m.name in QUICK else [pytest.mark.slow])) for m in mutants if only(m)]


def test_the_registry_is_complete():
    wrong = [m for m in MUTANTS if m.fails]
    assert len(wrong) >= 24 and QUICK <= {m.name for m in MUTANTS + CORRECT}
    assert len({m.name for m in MUTANTS + CORRECT}) == len(MUTANTS + CORRECT)
    for m in MUTANTS + CORRECT:
        names = check_names(m.layer)
        assert m.fails <= set(names), m.name


@pytest.mark.parametrize("mutant", cases(MUTANTS))
def test_mutant_fails_exactly_its_checks(mutant):
    rep = report(mutant)
    assert mutant.fails <= failed(rep) <= mutant.fails | mutant.sometimes, f"{mutant.name}:\n{table(rep)}"
    assert rep.passed == (not mutant.fails)
    # every failing check is explained by a finding with a configuration to reproduce it
    assert {name for finding in rep.findings for name in finding.names} == failed(rep)


@pytest.mark.parametrize("mutant", cases(CORRECT))
def test_correct_layer_passes(mutant):
    rep = report(mutant)
    assert rep.passed, f"{mutant.name}:\n{table(rep)}"
    assert rep.findings == []
    assert all(result.status == "pass" for result in rep.checks), table(rep)


@pytest.mark.parametrize("mutant", cases(MUTANTS, only=lambda m: m.trigger))
def test_finding_names_the_trigger(mutant):
    """E.g. the stride bug: "stride > 1"; max-pool assign: "windows overlap"; dB averaged: "batch > 1"."""
    rep = report(mutant)
    findings = [f for f in rep.findings if set(f.names) & mutant.fails]
    facts = [fact for f in findings for fact in f.triggers]
    assert any(mutant.trigger in fact for fact in facts), facts


def condition_of(fact):
    """The condition C of a fact "[with S, ]fails only when C (passes with ...)" (or "refuses only when C")."""
    return re.search(r"(?:fails|refuses) only when (.+?) \((?:passes|accepted) with", fact).group(1)


@pytest.mark.parametrize("mutant", cases([m for m in MUTANTS if m.fails]))
def test_trigger_facts_are_backed_by_passing_variations(mutant):
    """A fact "fails only when C" must mean: with C undone, the finding's checks pass (not skip), on more
    than the one data seed it was measured on; "refuses only when C": with C undone, none is refused."""
    rep = report(mutant)
    implementation = plan(mutant.layer, mutant.cls).implementations[""]  # in the layout the probe finds, as check()
    for finding in rep.findings:
        varied = {condition: variant for condition, _, variant in variations(finding.config)}
        for fact in finding.triggers:
            variant = varied[condition_of(fact)]
            for data_seed in dict.fromkeys([finding.seed, 0, 1, 2, 3]):
                results = [r for r in run_checks(variant, make_inputs(variant, data_seed), implementation)
                           if r.name in finding.names]
                if finding.kind == "refusal":
                    assert not any(refused(r) for r in results), (fact, variant.describe(), data_seed)
                else:
                    assert {r.status for r in results} == {"pass"}, (fact, variant.describe(), data_seed,
                                                                     [(r.name, r.status, r.message) for r in results])


@pytest.mark.parametrize("mutant", cases([m for m in MUTANTS if m.fails]))
def test_the_verdicts_of_checks_asked_for_alone_are_those_of_a_whole_run(mutant):
    """Rule searches run only the finding's checks (run_checks's ``only``): on each finding's configuration and
    its variations, where verdicts change, each check asked for alone gets the verdict (and kind) of a full run
    (checks whose failure depends on the arrays, ``sometimes``, aside: one layer reads memory past x), but for a
    forward whose values are right and only the finite differences of its slope fail it in the full run."""
    rep = report(mutant)
    implementation = plan(mutant.layer, mutant.cls).implementations[""]
    for finding in rep.findings:
        for config in [finding.config] + [variant for _, _, variant in variations(finding.config)]:
            for data_seed in (finding.seed, 1):
                whole = {r.name: r for r in run_checks(config, make_inputs(config, data_seed), implementation)}
                for name in set(finding.names) - mutant.sometimes:
                    alone = {r.name: r for r in run_checks(config, make_inputs(config, data_seed), implementation,
                                                           only={name})}[name]
                    if name == "forward" and alone.status == "pass" and whole[name].status == "fail":
                        assert "not near them" in whole[name].message  # alone, forward is judged by its values
                        continue
                    assert (alone.status, refused(alone)) == (whole[name].status, refused(whole[name])), \
                        (name, config.describe(), data_seed, alone.message, whole[name].message)


# Where a condition does not hold, as gradcheck.check options: the rule "fails only when C" is checked by a search
# of its own over each of these (another seed than the report's, and no code shared with how gradcheck tests it).
NOT = {
    "stride > 1": [dict(stride=1)],
    "pad > 0": [dict(pad=0)],
    "pad = 0": [dict(pad=1), dict(pad=2)],
    "dilation > 1": [dict(dilation=1)],
    "batch > 1": [dict(batch=1)],
    "channels > 1": [dict(channels=1)],
    "filters > 1": [dict(filters=1)],
    "filters != channels": [dict(filters=c, channels=c) for c in (1, 2, 5)],
    "the input is not square": [dict(size=n) for n in (2, 5, 9, 17)],
    "the kernel is not square": [dict(kernel=k, stride=s) for k in (1, 2, 3, 6) for s in (1, 2)],
    "the kernel is not 3x3": [dict(kernel=3)],
    "pooling windows overlap": [dict(kernel=k, stride=s) for k, s in ((1, 1), (2, 2), (3, 3), (2, 3), (1, 4))],
    "the stride does not divide the padded input": [dict(divisible=True)],
    "the kernel is even": [dict(kernel=k) for k in (1, 3, 5, (3, 1), (1, 5))],
    "stride == kernel": [dict(kernel=k, stride=s) for k, s in ((2, 1), (2, 3), (3, 2), (3, 1), (1, 1), (4, 2))],
}
SCOPES = {"stride 1": dict(stride=1), "pad 0": dict(pad=0), "dilation 1": dict(dilation=1), "batch 1": dict(batch=1),
          "1 channel": dict(channels=1), "1 filter": dict(filters=1), "an odd kernel": dict(kernel=3),
          "a stride other than the kernel": dict(stride=1)}
RULE_EXAMPLES = 20


def rule_checks(mutant, finding, fact):
    """The gradcheck.check option sets that test one rule: its opposite, within the finding's scope."""
    scope = [SCOPES[text] for text in finding.scope]
    for opposite in NOT[condition_of(fact)]:
        options = dict(mutant.pins, **opposite)
        for pins in scope:
            options.update(pins)
        yield options


# Where a condition does not hold, as a predicate on configurations, keyed by the opposite's text as a finding's
# scope names it too: written here, apart from gradcheck's own, for the rules checked against the reference.
OPPOSITE = {
    "stride > 1": ("stride 1", lambda c: c.stride == (1, 1)),
    "pad > 0": ("pad 0", lambda c: c.pad == (0, 0)),
    "pad = 0": ("pad > 0", lambda c: min(c.pad) >= 1),
    "dilation > 1": ("dilation 1", lambda c: c.dilation == (1, 1)),
    "batch > 1": ("batch 1", lambda c: c.batch == 1),
    "channels > 1": ("1 channel", lambda c: c.channels == 1),
    "filters > 1": ("1 filter", lambda c: c.filters == 1),
    "filters != channels": ("as many filters as channels", lambda c: c.filters == c.channels),
    "the input is not square": ("a square input", lambda c: c.size[0] == c.size[1]),
    "the kernel is not square": ("a square kernel", lambda c: c.kernel[0] == c.kernel[1]),
    "the kernel is not 3x3": ("a 3x3 kernel", lambda c: c.kernel == (3, 3)),
    "pooling windows overlap": ("windows that do not overlap",
                                lambda c: all(s >= k for s, k in zip(c.stride, c.kernel))),
    "the stride does not divide the padded input": (
        "an input the stride divides",
        lambda c: all((n + 2 * p - k) % s == 0 for n, p, k, s in zip(c.size, c.pad, c.kernel, c.stride))),
    "the kernel is even": ("an odd kernel", lambda c: all(k % 2 for k in c.kernel)),
    "stride == kernel": ("a stride other than the kernel", lambda c: not (c.kernel[0] == c.kernel[1] > 1
                                                                          and c.stride == c.kernel)),
}
WHERE = dict(OPPOSITE.values())
VALUES = ("forward", "dX", "dW", "dB")  # the checks whose verdict is a comparison with the reference
REFERENCE_EXAMPLES = 100
_verified = set()  # (mutant, checks, scope, condition) already checked: the rules of one layer repeat over seeds


def independent_configs(mutant, holds, rng):
    """REFERENCE_EXAMPLES configurations of the mutant's space where ``holds``, drawn by rejection from small
    ranges with ``rng`` (no Hypothesis, no gradcheck strategy); the mutant's pins and its convention's
    restrictions kept.  Stride, pad and dilation are one value for both axes, as every layer takes them."""
    space = plan(mutant.layer, mutant.cls, **mutant.pins).space
    found = []
    for _ in range(300 * REFERENCE_EXAMPLES):
        dims = dict(batch=int(rng.integers(1, 4)), channels=int(rng.integers(1, 4)),
                    size=tuple(int(n) for n in rng.integers(1, 10, 2)),
                    kernel=tuple(int(k) for k in rng.integers(1, 5, 2)),
                    stride=int(rng.integers(1, 4)), pad=int(rng.integers(0, 3)))
        if mutant.layer == "conv":
            dims["filters"] = int(rng.integers(1, 4))
        dims.update(mutant.pins)
        try:
            config = (Config.conv(**dims) if mutant.layer == "conv" else Config.pool(mutant.layer[:3], **dims))
        except ValueError:  # the window does not fit, or a pool padded past half its window
            continue
        if space.contains(config) and holds(config):
            found.append(config)
            if len(found) == REFERENCE_EXAMPLES:
                return found
    raise AssertionError(f"only {len(found)} configurations of {mutant.name}'s space where the opposite holds")


def independent_arrays(config, rng, k):
    """x (one of four classes of values by ``k``; tie-free for max pooling), W, b and dout, from ``rng``."""
    if config.layer == "maxpool":
        steps = rng.permutation(math.prod(config.x_shape)) + 1.0
        x = [steps, -steps, steps - steps.size // 2][k % 3].reshape(config.x_shape) / 8
    else:
        x = rng.standard_normal(config.x_shape)
        x = [x, np.abs(x), -np.abs(x), 4096 * x][k % 4]
    params = {name: rng.standard_normal(shape) for name, shape in config.param_shapes.items()}
    return x, params, rng.standard_normal(config.out_shape)


def wrong_against_reference(implementation, config, arrays, names):
    """The checks of ``names`` whose array differs from the loops reference's (Conv2dLoops, MaxPool2dLoops,
    AvgPool2dLoops) on ``arrays``, or that raised."""
    x, params, dout = arrays
    reference = config.reference_layer({k: v.copy() for k, v in params.items()}, config.kind.formulations[1])
    expected = {"forward": reference.forward(x.copy()), "dX": reference.backward(dout.copy())}
    if config.is_conv:
        expected.update(dW=reference.dW, dB=reference.db)
    try:
        subject = implementation.make(config, {k: v.copy() for k, v in params.items()})
        got = {"forward": np.asarray(subject.forward(x.copy())), "dX": np.asarray(subject.backward(dout.copy()))}
        got.update({name: np.asarray(subject.read(attribute)) for name, attribute in (("dW", "dW"), ("dB", "db"))
                    if name in names})
    except Exception:  # noqa: BLE001 - a layer that raises where the rule says it passes breaks the rule
        return set(names)
    return {name for name in names if got[name].shape != expected[name].shape or not np.allclose(
        got[name], expected[name], rtol=1e-6, atol=1e-9 * max(1.0, np.abs(expected[name]).max(initial=0.0)))}


def assert_rule_holds_against_the_reference(mutant, finding, fact, accepted=()):
    """A rule on forward, dX, dW or dB, checked on REFERENCE_EXAMPLES configurations of its opposite (within the
    finding's scope, and where the layer was checked: ``accepted``, the opposites of the rules its refusals follow)
    drawn here, each against the loops reference: no configuration may fail those checks."""
    condition = condition_of(fact)
    names = sorted(set(finding.names) - mutant.sometimes)
    key = (mutant.name, tuple(names), finding.scope, tuple(accepted), condition)
    if key in _verified:
        return
    wheres = [OPPOSITE[condition][1]] + [WHERE[text] for text in (*finding.scope, *accepted)]
    rng = np.random.default_rng(len(_verified))
    implementation = plan(mutant.layer, mutant.cls, **mutant.pins).implementations[""]
    for k, config in enumerate(independent_configs(mutant, lambda c: all(w(c) for w in wheres), rng)):
        wrong = wrong_against_reference(implementation, config, independent_arrays(config, rng, k), names)
        assert not wrong, (fact, finding.scope, sorted(wrong), config.describe())
    _verified.add(key)


def assert_rules_hold(mutant, seed):
    """Every rule of the report on ``seed``: one whose checks compare values with the reference, of a wrong layer
    (not a refusal), against the loops reference on configurations drawn here; the others by a gradcheck search of
    its opposite with seed + 1."""
    rep = report(mutant, seed)
    accepted = rep.restriction.accepted if rep.restriction else ()
    for finding in rep.findings:
        for fact in finding.triggers:
            if finding.kind == "failure" and set(finding.names) - mutant.sometimes <= set(VALUES):
                assert_rule_holds_against_the_reference(mutant, finding, fact, accepted)
                continue
            option_sets = list(rule_checks(mutant, finding, fact))
            for options in option_sets:
                examples = max(5, RULE_EXAMPLES // len(option_sets))
                try:
                    again = gradcheck.check(mutant.layer, mutant.cls, seed=seed + 1, examples=examples,
                                            strict=mutant.kind == "refusal", **options)
                except ValueError:  # no configuration of the opposite fits the pins (a 3x3 pool with stride 1)
                    continue
                wrong = [f for f in again.findings if set(f.names) & set(finding.names) and f.kind == finding.kind]
                assert not wrong, (fact, options, [(f.names, f.config.describe()) for f in wrong])


def rule_cases(mutants):
    """(wrong layer, seed) for RULE_SEEDS of SEEDS a layer, the seeds rotating from one layer to the next, so
    that every seed's rules are re-checked on some of the layers."""
    wrong = [m for m in mutants if m.fails]
    return [pytest.param(m, SEEDS[(index + k) % len(SEEDS)], id=f"{m.name}-{SEEDS[(index + k) % len(SEEDS)]}",
                         marks=[pytest.mark.xdist_group(m.name)]) for index, m in enumerate(wrong)
            for k in range(RULE_SEEDS)]


# Seeds a layer whose printed rules are searched again: a pinned search per rule costs seconds, and this test on
# every seed was a third of .ci/run's time (the product tests each rule before printing it; this is a check of
# that from outside, on another seed).
RULE_SEEDS = 2


@pytest.mark.slow  # a search per rule: tests/test_fuzz.py tests the mechanism in the fast suite
@pytest.mark.parametrize("mutant,seed", rule_cases(MUTANTS))
def test_every_rule_holds_when_checked_by_pinning(mutant, seed):
    """A printed rule is a claim about every configuration: a search of its opposite finds no failure (for a
    refusal: no refusal) of the finding's checks."""
    assert_rules_hold(mutant, seed)


@pytest.mark.parametrize("mutant", cases(MUTANTS, only=lambda m: m.findings))
def test_a_second_bug_in_the_same_check_is_a_finding_of_its_own(mutant):
    rep = report(mutant)
    found = [f for f in rep.findings if set(f.names) & mutant.fails]
    assert len(found) == mutant.findings, [(f.names, f.config.describe(), f.scope) for f in found]
    assert len({f.config for f in found}) == len(found)


@pytest.mark.parametrize("mutant", cases(MUTANTS, only=lambda m: m.kind == "refusal"))
def test_a_refusal_is_its_own_finding_with_no_gradient_hint(mutant):
    rep = report(mutant)
    found = [f for f in rep.findings if set(f.names) & mutant.fails]
    assert found and all(f.kind == "refusal" for f in found)
    assert any(re.match(r"the layer refuses configurations (with .+ )?only where ", f.refusal) for f in found)
    for finding in found:
        assert re.search(r"mutants/\w+\.py:\d+: (assert|raise) ", finding.refusal)  # its own line, quoted
        assert all("--divisible" in hint for hint in finding.hints)


@pytest.mark.parametrize("mutant", cases(MUTANTS, only=lambda m: m.restricted))
def test_a_layer_whose_refusals_follow_rules_is_checked_where_it_accepts(mutant):
    """Not strict, a layer that refuses by rules passes (or fails exactly its own bugs) on the part of the space
    its rules leave, and the report says which part and what it refuses."""
    rep = report(mutant, strict=False)
    expected = set() if mutant.kind == "refusal" else mutant.fails
    assert expected <= failed(rep) <= expected | mutant.sometimes, f"{mutant.name}:\n{table(rep)}"
    assert rep.passed == (not expected)
    assert rep.restriction is not None and set(rep.restriction.accepted) == set(mutant.restricted)
    assert rep.restriction.refusals and all(f.kind == "refusal" for f in rep.restriction.refusals)
    assert not any(f.kind == "refusal" for f in rep.findings)
    assert any(" only when " in statement for statement in rep.restriction.statements())


@pytest.mark.parametrize("mutant", cases(MUTANTS, only=lambda m: m.hint))
def test_finding_gives_the_hint(mutant):
    rep = report(mutant)
    hints = [hint for f in rep.findings if set(f.names) & mutant.fails for hint in f.hints]
    assert any(mutant.hint in hint for hint in hints), hints
    assert not [hint for hint in hints for wrong in mutant.absent if wrong in hint], hints


@pytest.mark.parametrize("mutant", cases(CORRECT + [m for m in MUTANTS if not m.fails]))
def test_a_right_layer_gets_no_hint_at_all(mutant):
    """Hints come with findings only: a right layer, whatever its style, has none to show."""
    rep = report(mutant)
    assert not [hint for f in rep.findings for hint in f.hints] and not [h for r in rep.checks for h in r.hints]


@pytest.mark.parametrize("mutant", cases(MUTANTS, only=lambda m: m.note))
def test_unusual_but_right_layer_passes_with_a_note(mutant):
    rep = report(mutant)
    assert rep.passed, table(rep)
    notes = [note for result in rep.checks for note in result.notes]
    assert any(mutant.note in note for note in notes), notes


@pytest.mark.parametrize("mutant", cases(MUTANTS, only=lambda m: m.error))
def test_an_exception_in_backward_fails_dX_with_the_error_recorded(mutant):
    rep = report(mutant)
    dx = next(result for result in rep.checks if result.name == "dX")
    assert dx.status == "fail"
    assert dx.error["stage"] == "backward" and dx.error["type"] == mutant.error
    assert "mutants/conv.py" in dx.error["location"] and "x_shape" in dx.error["location"]
    skipped = {r.name for r in rep.checks if r.status == "skip"}
    assert skipped == {"dW", "dB", "repeatable", "fresh-cache", "no-mutation"}


def test_accumulated_gradients_fail_repeatable_only_on_the_second_call():
    rep = report(next(m for m in MUTANTS if m.cls is conv.ConvAccumulatesGrads))
    (finding,) = rep.findings
    assert finding.names == ["repeatable"]
    assert "differs from the first call" in finding.checks[0].message


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mutant", cases(MUTANTS + CORRECT))
def test_every_seed_gives_the_same_verdicts(mutant, seed):
    """The default search reaches every bug (batch >= 4, channels >= 4, kernel 7, stride 4, pad > kernel,
    sides >= 16, outputs >= 5 ...) on every seed, and never calls a right layer wrong."""
    rep = report(mutant, seed)
    assert mutant.fails <= failed(rep) <= mutant.fails | mutant.sometimes, f"{mutant.name}, seed {seed}:\n{table(rep)}"


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mutant", cases(MUTANTS, only=lambda m: m.restricted))
def test_every_seed_checks_a_layer_refusing_by_rules_where_it_accepts(mutant, seed):
    rep = report(mutant, seed, strict=False)
    expected = set() if mutant.kind == "refusal" else mutant.fails
    assert expected <= failed(rep) <= expected | mutant.sometimes, f"{mutant.name}, seed {seed}:\n{table(rep)}"
    assert rep.restriction is not None and set(rep.restriction.accepted) == set(mutant.restricted)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mutant", cases(FLOAT32))
def test_right_layers_pass_at_float32_precision(mutant, seed):
    rep = report(mutant, seed, "float32")
    assert rep.passed, f"{mutant.name}, seed {seed}:\n{table(rep)}"


@pytest.mark.slow  # two whole checks
def test_a_float32_layer_fails_at_float64_and_passes_at_float32():
    mutant = next(m for m in MUTANTS if m.cls is conv.ConvFloat32)
    rep = report(mutant)
    messages = [r.message for r in rep.checks if r.status == "fail"]
    assert all("float32 under float64 precision" in message for message in messages), messages
    assert report(mutant, precision="float32").passed


@pytest.mark.parametrize("mutant", cases(layouts.MUTANTS, only=lambda m: m.fails))
def test_a_channels_last_layers_reproduce_command_fails_the_same_way_in_its_layout(mutant, monkeypatch):
    """Run as printed, from the folder the check ran in: the finding's checks fail again, in the layer's layout."""
    for finding in report(mutant).findings:
        words = shlex.split(finding.reproduce)
        assert words[0] == "gradcheck" and words[words.index("--layout") + 1] == "nhwc"
        monkeypatch.delenv("CI", raising=False)
        result = CliRunner().invoke(main, words[1:] + ["--format", "json"])
        assert result.exit_code == 1, result.output
        again = json.loads(result.stdout)
        assert {check["name"] for check in again["checks"] if check["status"] == "fail"} >= set(finding.names)
        assert again["layout"]["name"] == "nhwc"
