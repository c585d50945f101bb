"""A catalogue layer that computes in float32 from the float64 inputs gradcheck gives it: said in the report
when it passes, and named in the hint when it fails, as what may be all that differs when every difference is
within float32's rounding."""
import numpy as np

from gradcheck import kinds

AFFINE = kinds.catalogue()["affine"]
NOTE = ("came back as float32 from float64 inputs: its rounding stayed within the check's tolerance here (1e-06 "
        "of each value and 1e-07 of the largest), but the layer computes in float32 somewhere")


class Affine:
    """A right affine layer, but for the dtype its forward and dx come back in (``dtype``) and forward's output
    off by ``error`` of each value, more or less."""

    dtype, error = np.float32, 0.0

    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        out = x @ self.W + self.b
        wobble = np.cos(np.arange(out.size)).reshape(out.shape)
        return (out * (1 + self.error * wobble)).astype(self.dtype)

    def backward(self, dout):
        self.dW, self.db = self.x.T @ dout, dout.sum(axis=0)
        return (dout @ self.W.T).astype(self.dtype)


class AffineOffByFloat32Rounding(Affine):
    error = 5e-6


class AffineInFloat16(Affine):
    dtype = np.float16


class BatchNormInFloat32:
    """A right batch norm in training mode but for computing in float32 from x.astype(np.float32): its output
    comes back float64 (gamma and beta are), off by float32's rounding of x - mean, which inputs around 1000
    make large."""

    def __init__(self, gamma, beta):
        self.gamma, self.beta = gamma, beta

    def forward(self, x):
        x = x.astype(np.float32)
        self.xc = x - x.mean(axis=0)
        self.std = np.sqrt(np.mean(self.xc ** 2, axis=0) + 1e-7)
        self.xn = self.xc / self.std
        return self.gamma * self.xn + self.beta

    def backward(self, dout):
        self.dbeta, self.dgamma = dout.sum(axis=0), np.sum(self.xn * dout, axis=0)
        dxc = self.gamma * dout / self.std
        dvar = -0.5 * np.sum(self.gamma * dout * self.xc, axis=0) / self.std ** 3
        dxc = dxc + 2.0 / len(dout) * self.xc * dvar
        return dxc - dxc.mean(axis=0)


def test_a_right_layer_in_float32_passes_and_the_report_says_which_arrays_came_back_so():
    report = kinds.check_kind(AFFINE, Affine, seed=0)
    assert report.passed
    notes = {check.name: check.notes for check in report.checks if check.notes}
    assert notes == {"forward": ["forward " + NOTE], "dx": ["dx " + NOTE]}


def test_a_float32_output_off_by_no_more_than_float32_rounding_fails_with_a_hint_saying_so():
    report = kinds.check_kind(AFFINE, AffineOffByFloat32Rounding, seed=0)
    assert [check.name for check in report.checks if not check.passed] == ["forward"]
    assert report.findings[0].results[0].hints == [
        "forward came back as float32 from float64 inputs, and every difference from the reference is within "
        "float32's rounding (2e-05 of each value and of the largest), which float32 can account for alone; compute "
        "in float64 (look for dtype='f', np.float32 or astype)"]


def test_a_float16_layer_fails_with_a_hint_that_does_not_blame_float32_rounding():
    report = kinds.check_kind(AFFINE, AffineInFloat16, seed=0)
    assert "forward" in [check.name for check in report.checks if not check.passed]
    assert report.findings[0].results[0].hints[-1] == (
        "forward came back as float16 from float64 inputs: compute in float64 (look for dtype='f', np.float32 or "
        "astype) to check it at float64's tolerance")


def test_ratios_of_one_give_or_take_rounding_are_not_called_a_constant_factor():
    """The float32 batch norm's outputs are the reference's times 1 give or take rounding: no factor is named
    (it was: "forward is 1 times the reference, everywhere")."""
    report = kinds.check_kind(kinds.catalogue()["batchnorm"], BatchNormInFloat32, seed=1)
    forward = report.checks[0]
    assert not forward.passed and len(forward.mismatches.ravel()) > 1
    assert not [hint for hint in forward.hints if "times the reference" in hint]
