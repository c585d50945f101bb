"""The search: minimal counterexamples per distinct failure, measured trigger facts, determinism, pins."""
import numpy as np
import pytest
from hypothesis import given, settings

import gradcheck
from gradcheck import strategies
from gradcheck.config import Config
from gradcheck.fuzz import variations
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


def test_two_independent_bugs_are_two_findings_each_minimal():
    report = gradcheck.check("conv", BiasMeanAndStrideBug, seed=0)
    found = findings_by_check(report)
    assert set(found) == {"dX", "dB"}
    db, dx = found["dB"].config, found["dX"].config
    assert db != dx
    assert db.batch == 2 and db.stride == (1, 1)  # the smallest batch that shows a mean: 2
    assert dx.stride != (1, 1) and dx.batch == 1
    assert any("batch > 1" in fact for fact in found["dB"].triggers)
    assert any("stride > 1" in fact for fact in found["dX"].triggers)


def test_minimal_counterexample_is_small_in_every_dimension():
    dx = findings_by_check(gradcheck.check("conv", BiasMeanAndStrideBug, seed=1))["dX"].config
    assert (dx.batch, dx.channels, dx.filters) == (1, 1, 1)
    assert dx.kernel == (1, 1) and dx.pad == (0, 0) and dx.dilation == (1, 1)


def test_overlap_bug_is_explained_by_overlapping_windows():
    report = gradcheck.check("maxpool", AssignsInsteadOfAdds, seed=0)
    finding = findings_by_check(report)["dX"]
    assert finding.config.windows_overlap
    assert any("pooling windows overlap" in fact for fact in finding.triggers)


def test_same_seed_same_report():
    first = gradcheck.check("conv", BiasMeanAndStrideBug, seed=5).to_dict()
    second = gradcheck.check("conv", BiasMeanAndStrideBug, seed=5).to_dict()
    assert first == second


def test_pinned_dimensions_stay_pinned_in_every_finding():
    report = gradcheck.check("conv", BiasMeanAndStrideBug, stride=2, channels=3, seed=0)
    assert report.findings
    for finding in report.findings:
        assert finding.config.stride == (2, 2) and finding.config.channels == 3


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
