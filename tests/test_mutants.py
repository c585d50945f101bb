"""The mutant suite: every wrong layer fails exactly its checks, every right one passes.

Each layer in tests/mutants is checked the way a student would check it,
``gradcheck.check(layer, cls, seed=0)`` with the default fuzzing budget,
and the names of the checks with status "fail" must be exactly the ones its
registry entry names: the right check and only that check.  Some findings
must also carry the right trigger fact or hint, and every trigger fact must
be backed by a variation on which the finding's checks really pass.  The
slow sweep repeats the verdicts on seeds 0..4, and checks every right layer
at float32 precision too.
"""
import pytest

import gradcheck
from gradcheck.adapters import implementation_of
from gradcheck.checks import check_names, run_checks
from gradcheck.fuzz import variations
from gradcheck.inputs import make_inputs
from mutants import Mutant, conv, correct, pool, styles

MUTANTS = conv.MUTANTS + pool.MUTANTS + styles.MUTANTS
CORRECT = ([Mutant(cls, "conv", set()) for cls in correct.CONV]
           + [Mutant(cls, "maxpool", set()) for cls in correct.MAXPOOL]
           + [Mutant(cls, "avgpool", set()) for cls in correct.AVGPOOL])
FLOAT32 = CORRECT + [Mutant(conv.ConvFloat32, "conv", set())]  # right at float32 precision
SEEDS = range(5)

_reports = {}


def report(mutant, seed=0, precision="float64"):
    """gradcheck.check(layer, cls, seed=seed), once per class, seed and precision for the whole module."""
    key = (mutant.name, seed, precision)
    if key not in _reports:
        _reports[key] = gradcheck.check(mutant.layer, mutant.cls, seed=seed, precision=precision, **mutant.pins)
    return _reports[key]


def failed(rep):
    return {result.name for result in rep.checks if result.status == "fail"}


def table(rep):
    return "\n".join(f"  {r.name:12} {r.status:5} {r.message}" for r in rep.checks)


def cases(mutants, only=lambda m: True):
    return [pytest.param(m, id=m.name) for m in mutants if only(m)]


def test_the_registry_is_complete():
    wrong = [m for m in MUTANTS if m.fails]
    assert len(wrong) >= 24
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


@pytest.mark.parametrize("mutant", cases([m for m in MUTANTS if m.fails]))
def test_trigger_facts_are_backed_by_passing_variations(mutant):
    """A fact "fails only when C" must mean: with C undone, the finding's checks pass (not skip), on more
    than the one data seed it was measured on."""
    rep = report(mutant)
    implementation = implementation_of(mutant.cls, mutant.layer)
    for finding in rep.findings:
        varied = {condition: variant for condition, _, variant in variations(finding.config)}
        for fact in finding.triggers:
            condition = next(c for c in varied if fact.startswith(f"fails only when {c} ("))
            for data_seed in dict.fromkeys([finding.seed, 0, 1, 2, 3]):
                results = run_checks(varied[condition], make_inputs(varied[condition], data_seed), implementation)
                statuses = {r.name: r.status for r in results if r.name in finding.names}
                assert set(statuses.values()) == {"pass"}, (fact, varied[condition].describe(), data_seed,
                                                            [(r.name, r.status, r.message) for r in results])


@pytest.mark.parametrize("mutant", cases(MUTANTS, only=lambda m: m.hint))
def test_finding_gives_the_hint(mutant):
    rep = report(mutant)
    hints = [hint for f in rep.findings if set(f.names) & mutant.fails for hint in f.hints]
    assert any(mutant.hint in hint for hint in hints), hints


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
@pytest.mark.parametrize("mutant", cases(FLOAT32))
def test_right_layers_pass_at_float32_precision(mutant, seed):
    rep = report(mutant, seed, "float32")
    assert rep.passed, f"{mutant.name}, seed {seed}:\n{table(rep)}"


def test_a_float32_layer_fails_at_float64_and_passes_at_float32():
    mutant = next(m for m in MUTANTS if m.cls is conv.ConvFloat32)
    rep = report(mutant)
    messages = [r.message for r in rep.checks if r.status == "fail"]
    assert all("float32 under float64 precision" in message for message in messages), messages
    assert report(mutant, precision="float32").passed
