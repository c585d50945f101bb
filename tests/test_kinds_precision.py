"""A catalogue layer that computes in float32 from the float64 inputs gradcheck gives it: said in the report
when it passes, and named in the hint when it fails, as what may be all that differs when every difference is
within float32's rounding."""
import numpy as np

from gradcheck import kinds

AFFINE = kinds.catalogue()["affine"]
NOTE = ("came back as float32 from float64 inputs: its rounding stayed within the check's tolerance here (1e-06 "
        "of each value and 1e-07 of the largest), but the layer computes in float32 somewhere")


class Affine:
    """A right affine layer, but for the dtype its forward and dx come back in (``dtype``) and an error of
    ``error`` of the output's largest value added to forward's output."""

    dtype, error = np.float32, 0.0

    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        out = x @ self.W + self.b
        wobble = np.cos(np.arange(out.size)).reshape(out.shape)
        return (out + self.error * np.abs(out).max() * wobble).astype(self.dtype)

    def backward(self, dout):
        self.dW, self.db = self.x.T @ dout, dout.sum(axis=0)
        return (dout @ self.W.T).astype(self.dtype)


class AffineOffByFloat32Rounding(Affine):
    error = 5e-6


class AffineInFloat16(Affine):
    dtype = np.float16


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
