"""The search: minimal counterexamples per distinct failure, measured trigger facts, determinism, pins."""
import functools
import itertools
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcheck
from gradcheck import api, fuzz, strata
from gradcheck import strategies
from gradcheck.config import Config
from gradcheck.fuzz import variations
from gradcheck.inputs import value_class, value_classes
from reference_layers import Conv2d, MaxPool2d


class BiasMeanAndStrideBug(Conv2d):
    """Two independent bugs: db averaged over the batch, and dx scaled when the stride is not 1."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.db = self.db / dout.shape[0]
        return dx * 1.5 if self.window.stride != (1, 1) else dx


class AssignsInsteadOfAdds(MaxPool2d):
    """Max pooling whose backward assigns where windows overlap, so the last window wins."""

    def backward(self, dout):
        dx_padded = np.zeros(self._x_padded.shape)
        per_tap = (self._first_max * dout).reshape(self.window.size + dout.shape)
        for (s, t), (rows, cols) in self.window.tap_slices(dout.shape[2:]):
            target = dx_padded[..., rows, cols]
            target[per_tap[s, t] != 0] = per_tap[s, t][per_tap[s, t] != 0]
        return self.window.unpad(dx_padded)


def findings_by_check(report):
    return {name: finding for finding in report.findings for name in finding.names}


@functools.cache
def two_bugs():
    """The default search of BiasMeanAndStrideBug with seed 0, once for the tests that read it."""
    return gradcheck.check("conv", BiasMeanAndStrideBug, seed=0)


@pytest.mark.slow
def test_two_independent_bugs_are_two_findings_each_minimal():
    found = findings_by_check(two_bugs())
    assert set(found) == {"dX", "dB"}
    db, dx = found["dB"].config, found["dX"].config
    assert db != dx
    assert db.batch == 2 and db.stride == (1, 1)  # the smallest batch that shows a mean: 2
    assert dx.stride != (1, 1) and dx.batch == 1
    assert any("batch > 1" in fact for fact in found["dB"].triggers)
    assert any("stride > 1" in fact for fact in found["dX"].triggers)


def test_a_time_limit_nearly_used_up_keeps_the_verdict_and_drops_the_explanations():
    """In a sandbox the time limit counts the layer's own calls: explaining must never cost the verdict."""
    from gradcheck.adapters import implementation_of

    implementation = implementation_of(BiasMeanAndStrideBug, "conv")
    implementation.time_left = lambda: 0.0
    report = gradcheck.check("conv", implementation, seed=0)
    assert {name for finding in report.findings for name in finding.names} == {"dX", "dB"}
    assert all(not finding.shrunk and not finding.triggers for finding in report.findings)


def test_minimal_counterexample_is_small_in_every_dimension():
    dx = findings_by_check(two_bugs())["dX"].config
    assert (dx.batch, dx.channels, dx.filters) == (1, 1, 1)
    assert dx.kernel == (1, 1) and dx.pad == (0, 0) and dx.dilation == (1, 1)


@pytest.mark.slow
def test_overlap_bug_is_explained_by_overlapping_windows():
    report = gradcheck.check("maxpool", AssignsInsteadOfAdds, seed=0)
    finding = findings_by_check(report)["dX"]
    assert finding.config.windows_overlap
    assert any("pooling windows overlap" in fact for fact in finding.triggers)


@pytest.mark.slow
def test_same_seed_same_report():
    first = gradcheck.check("conv", BiasMeanAndStrideBug, seed=5, examples=10).to_dict()
    second = gradcheck.check("conv", BiasMeanAndStrideBug, seed=5, examples=10).to_dict()
    assert first == second


@pytest.mark.slow
def test_pinned_dimensions_stay_pinned_in_every_finding_and_get_no_trigger_fact():
    report = gradcheck.check("conv", BiasMeanAndStrideBug, stride=2, channels=3, seed=0)
    assert report.findings
    for finding in report.findings:
        assert finding.config.stride == (2, 2) and finding.config.channels == 3
        assert not any("stride" in fact or "channel" in fact for fact in finding.triggers + finding.observations)
    assert any("batch > 1" in fact for fact in findings_by_check(report)["dB"].triggers)  # a free dimension


@pytest.mark.slow
def test_bounds_hold_in_every_configuration_any_part_of_the_search_runs():
    """Drawn, shrunk, varied for trigger facts, searched for rules, added for geometry classes: every
    configuration the layer is built with keeps to the bounds, and rules stay inside them ("stride > 1" is
    tested with stride 1 under 1..2, never printed under 2..3, where stride 1 is outside)."""
    seen = set()

    class Recorded(BiasMeanAndStrideBug):
        def __init__(self, W, b, stride=1, pad=0, dilation=1):
            seen.add((*np.broadcast_to(stride, 2), *np.broadcast_to(pad, 2), *W.shape[2:]))
            super().__init__(W, b, stride, pad, dilation)

    def checked(**bounds):
        prepared = api.plan("conv", Recorded, seed=0, **bounds)
        seen.clear()  # what the probes that load the layer built: no check's configuration
        return prepared.run()

    found = findings_by_check(checked(stride=range(1, 3), pad=range(0, 2), kernel=range(2, 4)))
    assert found["dX"].triggers[0].startswith("fails only when stride > 1")
    assert any(fact.startswith("fails only when batch > 1") for fact in found["dB"].triggers)
    assert {value for geometry in seen for value in geometry[:2]} == {1, 2}  # strides
    assert {value for geometry in seen for value in geometry[2:4]} == {0, 1}  # pads
    assert {value for geometry in seen for value in geometry[4:]} == {2, 3}  # kernels

    report = checked(stride=range(2, 4))
    assert {value for geometry in seen for value in geometry[:2]} == {2, 3}
    assert not any("stride" in fact for finding in report.findings for fact in finding.triggers)


def test_the_rules_printed_are_those_a_pinned_search_confirms():
    """With stride 1 pinned only the dB bug shows, with batch 1 only the dX bug: each finding's rule is the
    pin that hides it, and nothing else is printed as a rule."""
    assert gradcheck.check("conv", BiasMeanAndStrideBug, stride=1, seed=0, examples=20).findings[0].names == ["dB"]
    assert gradcheck.check("conv", BiasMeanAndStrideBug, batch=1, seed=0, examples=20).findings[0].names == ["dX"]
    found = findings_by_check(two_bugs())
    assert len(found["dX"].triggers) == 1
    rule = re.fullmatch(r"fails only when stride > 1 \(passes with stride 1, all else equal; no failure in a search "
                        r"of (\d+) configurations with stride 1\)", found["dX"].triggers[0])
    assert rule and int(rule.group(1)) >= fuzz.TRIGGER_EXAMPLES == 100
    assert any(fact.startswith("fails only when batch > 1") for fact in found["dB"].triggers)


def test_every_dimension_pinned_checks_exactly_one_configuration():
    pinned = dict(batch=2, channels=1, filters=1, size=4, kernel=2, stride=2, pad=0, dilation=1)
    report = gradcheck.check("conv", BiasMeanAndStrideBug, seed=7, examples=50, **pinned)
    assert report.examples == 1
    assert {f.config for f in report.findings} == {Config.conv(**pinned)}
    assert {name for f in report.findings for name in f.names} == {"dX", "dB"}


def test_under_ci_the_default_seed_is_fixed(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert gradcheck.check("avgpool", examples=2).seed == 0


def test_user_layers_get_square_strides_and_pads():
    @settings(max_examples=50)
    @given(strategies.conv_configs(per_axis=False))
    def square(config):
        assert config.stride[0] == config.stride[1] and config.pad[0] == config.pad[1]
    square()


@settings(max_examples=300)
@given(strategies.configs("conv") | strategies.configs("maxpool") | strategies.configs("avgpool"))
def test_variations_of_any_configuration_are_valid_and_differ(config):
    for _, _, variant in variations(config):
        assert variant != config
        assert variant.out_shape  # a valid window geometry


@pytest.mark.parametrize("config", [
    Config.conv(batch=2, channels=2, filters=3, size=(5, 4), kernel=(2, 3), stride=2, pad=1, dilation=2),
    Config.pool("max", batch=2, channels=1, size=(5, 6), kernel=(3, 2), stride=1, pad=1),
])
def test_variations_change_one_dimension_and_stay_valid(config):
    for condition, change, variant in variations(config):
        changed = {field for field in ("batch", "channels", "filters", "kernel", "stride", "pad", "dilation")
                   if getattr(variant, field) != getattr(config, field)}
        assert len(changed) <= 1, (condition, changed)
        if change in ("pad 0", "dilation 1", "a square kernel", "a 3x3 kernel"):
            assert variant.out_shape[2:] == config.out_shape[2:], condition  # the output grid is kept


# -- pins ------------------------------------------------------------------------------------------------
GEOMETRY = ("kernel", "stride", "pad", "size", "dilation")


def feasible(layer, pins, per_axis, divisible=False):
    """Brute force: is there any valid configuration with these pins?  Free values range widely; a free input
    is drawn to fit (and, with ``divisible``, to be divided by the stride)."""
    pool = layer != "conv"
    values = {name: [pins[name]] if pins.get(name) is not None else None for name in GEOMETRY}
    dilations = values["dilation"] or ([(1, 1)] if pool else [(d, e) for d in (1, 2) for e in (1, 2)])
    kernels = values["kernel"] or list(itertools.product(range(1, 8), repeat=2))
    pads = values["pad"] or list(itertools.product(range(0, 20), repeat=2))  # extent 25 on size 1, a stride 6
    strides = values["stride"] or [(1, 1)]  # stride 1 divides everything
    sizes = values["size"] or [None]
    for dilation, kernel, pad, stride, size in itertools.product(dilations, kernels, pads, strides, sizes):
        if not per_axis and (dilation[0] != dilation[1] or pad[0] != pad[1]):
            continue
        if pool and any(2 * p > k for p, k in zip(pad, kernel)):
            continue
        spans = [(None if size is None else size[axis] + 2 * pad[axis]) - (dilation[axis] * (kernel[axis] - 1) + 1)
                 if size is not None else 0 for axis in (0, 1)]
        if all(span >= 0 and (not divisible or span % s == 0) for span, s in zip(spans, stride)):
            return True
    return False


def pairs(low, high):
    return st.none() | st.tuples(st.integers(low, high), st.integers(low, high))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(layer=st.sampled_from(["conv", "maxpool"]), per_axis=st.booleans(), divisible=st.booleans(), data=st.data(),
       pins=st.fixed_dictionaries({"kernel": pairs(1, 9), "pad": pairs(0, 5), "size": pairs(1, 8),
                                   "dilation": pairs(1, 3), "stride": pairs(1, 6)}))
def test_pins_run_exactly_when_some_configuration_satisfies_them(layer, per_axis, divisible, data, pins):
    if not per_axis:  # a layer taking ints gets square stride, pad and dilation pins
        pins.update({name: pins[name] and (pins[name][0],) * 2 for name in ("stride", "pad", "dilation")})
    if layer != "conv":
        del pins["dilation"]
    if not feasible(layer, pins, per_axis, divisible):
        with pytest.raises(ValueError):
            strategies.configs(layer, per_axis=per_axis, divisible=divisible, **pins)
        return
    config = data.draw(strategies.configs(layer, per_axis=per_axis, divisible=divisible, **pins))
    for name, value in pins.items():
        if value is not None:
            assert getattr(config, name) == value, name
    if not per_axis:
        assert all(getattr(config, name)[0] == getattr(config, name)[1] for name in ("stride", "pad", "dilation"))
    if divisible:
        assert divides(config)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(layer=st.sampled_from(["conv", "maxpool"]), data=st.data(),
       pins=st.fixed_dictionaries({"kernel": st.none() | st.integers(1, 4), "pad": st.none() | st.integers(0, 2),
                                   "size": st.none() | st.integers(1, 6), "stride": st.none() | st.integers(1, 3)}),
       restrictions=st.fixed_dictionaries({}, optional={
           "divisible": st.just(True), "square": st.sampled_from([("size",), ("kernel",)]),
           "overlapping": st.just(False), "padded": st.just(True)}))
def test_restrictions_with_any_pins_draw_what_they_promise_or_refuse_at_once(layer, data, pins, restrictions):
    """Built from pins and restrictions together, a strategy either refuses them (ValueError) or draws only
    configurations that keep both: it never fails in the middle of a search."""
    try:
        strategy = strategies.configs(layer, per_axis=False, **pins, **restrictions)
    except ValueError:
        return
    config = data.draw(strategy)
    assert all(getattr(config, name) == (value, value) for name, value in pins.items() if value is not None)
    holds = {"divisible": divides, "square": lambda c: all(getattr(c, n)[0] == getattr(c, n)[1]
                                                           for n in restrictions["square"]),
             "overlapping": lambda c: not c.windows_overlap, "padded": lambda c: min(c.pad) >= 1}
    assert all(holds[name](config) for name in restrictions)


def divides(config):
    return all((n + 2 * p - e) % s == 0 for n, p, e, s in zip(config.size, config.pad, config.window.extent,
                                                              config.stride))


RESTRICTIONS = {
    "divisible": (dict(divisible=True), divides),
    "square input": (dict(square="size"), lambda c: c.size[0] == c.size[1]),
    "square kernel": (dict(square="kernel"), lambda c: c.kernel[0] == c.kernel[1]),
    "windows that do not overlap": (dict(overlapping=False), lambda c: not c.windows_overlap),
    "padded": (dict(padded=True), lambda c: min(c.pad) >= 1),
    "square and divisible": (dict(square=("size", "kernel"), divisible=True),
                             lambda c: c.size[0] == c.size[1] and c.kernel[0] == c.kernel[1] and divides(c)),
}


@pytest.mark.parametrize("layer", ["conv", "maxpool", "avgpool"])
@pytest.mark.parametrize("restriction", RESTRICTIONS.values(), ids=RESTRICTIONS.keys())
@pytest.mark.slow
def test_restricted_drawings_hold_their_restriction_and_still_vary(layer, restriction):
    keywords, holds = restriction
    seen = []

    @settings(max_examples=100, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategies.configs(layer, per_axis=False, **keywords))
    def draw(config):
        seen.append(config)
    draw()
    assert all(holds(config) for config in seen)
    assert len({(c.size, c.kernel, c.stride, c.pad) for c in seen}) > 25  # nothing collapsed to a few shapes
    assert any(max(c.stride) > 1 for c in seen) and any(max(c.size) >= 16 for c in seen)


def feasible_within(layer, pins, bounds, divisible):
    """Brute force over square values: is there a configuration with these pins whose every bounded dimension
    lies within its bounds?  A free dimension ranges over what the drawing tries (kernels 1..7, strides 1..5,
    pads up to 12), a bounded one over its bounds; a free unbounded input fits any window."""
    def values(name, free):
        if pins.get(name) is not None:
            return [pins[name]]
        return range(bounds[name][0], bounds[name][1] + 1) if name in bounds else free
    pool = layer != "conv"
    for dilation, kernel, stride, pad in itertools.product([1] if pool else values("dilation", (1, 2)),
                                                           values("kernel", range(1, 8)),
                                                           values("stride", range(1, 6)), values("pad", range(13))):
        extent = dilation * (kernel - 1) + 1
        if pool and 2 * pad > kernel:
            continue
        sizes = values("size", [None])
        if any(size is None or (size + 2 * pad >= extent and not (divisible and (size + 2 * pad - extent) % stride))
               for size in sizes):
            return True
    return False


def spans(low, high):
    return st.tuples(st.integers(low, high), st.integers(0, 3)).map(lambda pair: (pair[0], pair[0] + pair[1]))


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(layer=st.sampled_from(["conv", "maxpool"]), divisible=st.booleans(), data=st.data(),
       pins=st.fixed_dictionaries({"kernel": st.none() | st.integers(1, 9), "pad": st.none() | st.integers(0, 4),
                                   "size": st.none() | st.integers(1, 8), "stride": st.none() | st.integers(1, 6)}),
       bounds=st.fixed_dictionaries({}, optional={
           "kernel": spans(1, 9), "stride": spans(1, 6), "pad": spans(0, 4), "size": spans(1, 9),
           "batch": spans(1, 9), "channels": spans(1, 5)}))
def test_bounds_draw_within_them_or_refuse_at_once_exactly_when_nothing_fits(layer, divisible, data, pins, bounds):
    """Bounded dimensions ("stride 1..2", as a course file gives them) are drawn within their bounds, beyond the
    usual ranges if need be, with any pins; the strategy refuses (ValueError) exactly when no configuration fits."""
    pinned_outside = any(pins[name] is not None and not low <= pins[name] <= high
                         for name, (low, high) in bounds.items() if name in pins)
    if pinned_outside or not feasible_within(layer, pins, bounds, divisible):
        with pytest.raises(ValueError):
            strategies.configs(layer, per_axis=False, divisible=divisible, bounds=bounds, **pins)
        return
    config = data.draw(strategies.configs(layer, per_axis=False, divisible=divisible, bounds=bounds, **pins))
    for name, (low, high) in bounds.items():
        value = getattr(config, name)
        assert all(low <= v <= high for v in (value if isinstance(value, tuple) else (value,))), (name, value)
    assert all(getattr(config, name) == (value, value) for name, value in pins.items() if value is not None)
    assert not divisible or divides(config)


def test_bounds_that_make_no_sense_are_refused_with_what_to_do():
    with pytest.raises(ValueError, match="stride between 3 and 1 is empty: give the lowest value first"):
        strategies.conv_configs(bounds={"stride": (3, 1)})
    with pytest.raises(ValueError, match="bounds name dimensions"):
        strategies.conv_configs(bounds={"strides": (1, 2)})
    with pytest.raises(ValueError, match="stride is pinned to 3, outside its bounds 1..2"):
        strategies.conv_configs(stride=3, bounds={"stride": (1, 2)})
    with pytest.raises(ValueError, match="batch is pinned to 4, outside its bounds 1..2"):
        strategies.conv_configs(batch=4, bounds={"batch": (1, 2)})
    with pytest.raises(ValueError, match="pools have no filters or dilation"):
        strategies.pool_configs("max", bounds={"dilation": (1, 2)})
    with pytest.raises(ValueError, match="their bounds"):
        strategies.conv_configs(same_depth=True, bounds={"channels": (1, 2), "filters": (3, 4)})


def test_as_many_filters_as_channels_ties_them_or_refuses_a_clash():
    @settings(max_examples=50, database=None, deadline=None)
    @given(strategies.conv_configs(same_depth=True))
    def draw(config):
        assert config.filters == config.channels
    draw()
    with pytest.raises(ValueError, match="as many filters as channels"):
        strategies.conv_configs(same_depth=True, channels=2, filters=3)


def test_shared_pins_that_only_per_axis_ones_could_satisfy_are_refused():
    with pytest.raises(ValueError, match="no configuration fits these pins"):
        strategies.pool_configs("max", size=1, kernel=(1, 7), per_axis=False)
    strategies.pool_configs("max", size=1, kernel=(1, 7), per_axis=True)  # pads (0, 3) fit


def test_free_dimensions_reach_the_large_ranges():
    seen = []

    @settings(max_examples=300, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategies.conv_configs())
    def draw(config):
        seen.append(config)
    draw()
    reached = {
        "batch >= 4": any(c.batch >= 4 for c in seen), "channels >= 4": any(c.channels >= 4 for c in seen),
        "filters >= 4": any(c.filters >= 4 for c in seen), "kernel 7": any(7 in c.kernel for c in seen),
        "stride 4-5": any(max(c.stride) >= 4 for c in seen), "stride > kernel": any(
            s > k for c in seen for s, k in zip(c.stride, c.kernel)),
        "pad > kernel": any(p > k for c in seen for p, k in zip(c.pad, c.kernel)),
        "side >= 16": any(max(c.size) >= 16 for c in seen), "non-square": any(c.size[0] != c.size[1] for c in seen),
        "outputs >= 5 on inputs >= 5": any(o >= 5 and n >= 5 for c in seen for o, n in zip(c.out_shape[2:], c.size)),
    }
    assert all(reached.values()), reached
    small = sum(max(c.batch, c.channels, c.filters) <= 3 and max(c.size) < 16 for c in seen)
    assert small > len(seen) / 4  # small configurations still make up a good share


class Died(BaseException):
    """What a sandbox raises when the layer's process is gone."""


def dies_in_backward(call, also_wrong_db=False):
    """A right Conv2d (or one with the batch-mean db bug) that dies in its ``call``-th call of backward: the
    checks call backward three times per configuration (dX, repeatable, fresh-cache), dX's first."""
    calls = itertools.count(1)

    class Layer(Conv2d):
        def backward(self, dout):
            if next(calls) == call:
                raise Died("exited during backward")
            dx = super().backward(dout)
            if also_wrong_db:
                self.db = self.db / dout.shape[0]
            return dx

    return Layer


def test_a_run_stopped_by_stop_on_keeps_only_what_it_finished_where_it_stopped():
    """The first configuration completes; the second stops in dX's backward, after its forward passed: forward
    keeps its pass, and every check left unfinished there fails, since it might have failed there."""
    report = api.plan("conv", dies_in_backward(4), examples=5, seed=0, batch=1).run(stop_on=(Died,))
    checks = {check.name: check for check in report.checks}
    assert report.stopped.check == "dX" and report.stopped.completed == 1 and report.stopped.phase == "search"
    assert report.stopped.reason == "exited during backward" and not report.passed
    assert report.stopped.reproduce.startswith("gradcheck conv --batch 1 ") and report.examples == 1
    assert checks["dX"].status == "fail" and checks["dX"].message == "stopped: exited during backward"
    assert checks["forward"].message.startswith("passed on 2 of 5 configurations; not checked on the others")
    assert checks["dW"].status == "fail" and checks["dW"].message.startswith(
        "passed on 1 of 5 configurations, but not on the one where the run stopped (exited during backward): "
        "a check left unfinished fails")
    assert [name for name, check in checks.items() if check.status == "pass"] == ["forward"]
    assert api.Report.from_dict(report.to_dict()).stopped == report.stopped


def test_a_stop_on_the_first_configuration_leaves_unreached_checks_skipped():
    report = api.plan("conv", dies_in_backward(1), examples=3, seed=0).run(stop_on=(Died,))
    statuses = {check.name: check.status for check in report.checks}
    assert statuses.pop("forward") == "pass" and statuses.pop("dX") == "fail" and statuses.pop("no-mutation") == "skip"
    assert set(statuses.values()) == {"skip"} and report.stopped.completed == 0


def test_failures_before_a_stop_keep_their_findings_unshrunk():
    report = api.plan("conv", dies_in_backward(7, also_wrong_db=True), examples=5, seed=0,
                      batch=2).run(stop_on=(Died,))
    checks = {check.name: check.status for check in report.checks}
    assert checks["dB"] == "fail" and checks["dX"] == "fail" and report.stopped.completed == 2
    (finding,) = report.findings
    assert finding.names == ["dB"] and not finding.shrunk and finding.reproduce.startswith("gradcheck conv")


def test_without_stop_on_the_exception_propagates():
    with pytest.raises(Died):
        api.plan("conv", dies_in_backward(1), examples=2, seed=0).run()


# -- geometry classes (gradcheck.strata) ------------------------------------------------------------------
@pytest.mark.parametrize("layer", ["conv", "maxpool", "avgpool"])
def test_every_geometry_class_is_reached_even_by_a_run_of_one_example(layer):
    report = gradcheck.check(layer, seed=3, examples=1)
    assert report.classes == {"reached": [stratum.name for stratum in strata.strata(layer)], "excluded": [],
                              "missed": [], "values": value_classes(layer)}
    assert report.examples > 1  # the one example drawn, then one for each class it missed


def test_each_class_drawn_holds_where_the_random_examples_missed_it(monkeypatch):
    """The examples the class phase adds are in the classes they were drawn for, not merely in some class."""
    drawn = []

    def note(self, example):
        drawn.append(example[0])
        self.explored.append((example, set()))

    monkeypatch.setattr(fuzz._Searcher, "_check_example", note)
    gradcheck.check("conv", seed=0, examples=1)
    reached_by = [strata.reached("conv", config) for config in drawn]
    assert set().union(*reached_by) == {stratum.name for stratum in strata.strata("conv")}
    assert len(drawn) < len(strata.strata("conv"))  # one draw reaches several classes


REMAINDERS = {"stride > 1 dividing the padded input", "stride remainder 1", "stride remainder >= 2",
              "input rows past the last window"}


@pytest.mark.parametrize("layer,pins,excluded", [
    # stride 1: no remainder, and one output only from an input exactly as wide as the window (a 1x1 one is size 1)
    ("conv", dict(kernel=3, stride=1, pad=1), REMAINDERS | {
        "stride == kernel", "stride > kernel", "even kernel", "non-square kernel", "pad 0", "pad >= kernel",
        "one output from an input wider than the window"}),
    # and a 1x1 kernel padded by 1 gives at least 3 outputs on an axis; dilating it is allowed (and changes nothing)
    ("conv", dict(stride=1, pad=1, kernel=1), REMAINDERS | {
        "stride == kernel", "stride > kernel", "stride < kernel", "even kernel", "odd kernel > 1",
        "non-square kernel", "pad 0", "0 < pad < kernel", "one output from an input wider than the window",
        "1x1 output with batch and depth > 1"}),
    # a pool's pad 1 needs a window of 2 or more: stride 2 never exceeds it, and leaves a remainder of 1 at most,
    # inside the padding
    ("maxpool", dict(stride=2, pad=1), {"stride > kernel", "pad 0", "stride remainder >= 2",
                                        "input rows past the last window"}),
])
def test_classes_the_pins_exclude_are_said_so_and_the_others_reached(layer, pins, excluded):
    """Whether the pins leave room for a class is decided by a grid of configurations, not guessed: stride 1,
    pad 1 and kernel 1 leave no 1x1 output."""
    report = gradcheck.check(layer, seed=0, examples=2, **pins)
    assert set(report.classes["excluded"]) == excluded
    assert set(report.classes["reached"]) == {s.name for s in strata.strata(layer)} - excluded
    assert report.classes["missed"] == []


def test_the_stride_equal_to_the_kernel_is_drawn_whatever_the_pins_allow():
    report = gradcheck.check("maxpool", kernel=3, seed=0, examples=1)
    assert "stride == kernel" in report.classes["reached"]
    report = gradcheck.check("conv", stride=2, seed=1, examples=1)
    assert "stride == kernel" in report.classes["reached"]


def test_the_classes_reached_survive_json_and_are_printed():
    report = gradcheck.check("avgpool", seed=0, examples=3, pad=0)
    again = api.Report.from_dict(report.to_dict())
    assert again.classes == report.classes
    from gradcheck.report import classes_text
    assert classes_text(report.classes) == (f"{len(strata.strata('avgpool')) - 1} geometry classes: stride == kernel, "
                                            f"{', '.join(report.classes['reached'][1:])}; none with these pins: "
                                            "0 < pad < kernel; x's values: usual, all positive, all negative, "
                                            "one negative, one positive, half zeros, large")
    assert classes_text({"reached": ["pad 0"], "missed": ["stride > kernel"]}) == \
        "1 geometry classes: pad 0; not reached before the run stopped: stride > kernel"


# -- classes of values (gradcheck.inputs.value_classes) --------------------------------------------------------
@pytest.mark.parametrize("layer", ["conv", "maxpool", "avgpool"])
def test_every_class_of_values_is_used_even_by_a_run_of_one_example(layer, monkeypatch):
    used = []
    check_example = fuzz._Searcher._check_example

    def note(self, example):
        used.append(value_class(example[1], layer))
        return check_example(self, example)

    monkeypatch.setattr(fuzz._Searcher, "_check_example", note)
    report = gradcheck.check(layer, seed=2, examples=1)
    assert set(used) == set(value_classes(layer)) and report.classes["values"] == value_classes(layer)
    assert ("half zeros" in used) == (layer != "maxpool")  # zeros would tie max-pooling windows
