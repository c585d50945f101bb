"""Hints that name the cause, seen where students see them: the command line, the pytest plugin's assertion message
and Gradescope's output through the grading sandbox (tests/test_mutants.py checks every hint through the API).

The layers are ours: students' files written here, and tests/mutants/standalone.py, which the sandbox can load.
"""
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcheck import report as render
from gradcheck.cli import main
from gradcheck.grading.grade import grade
from gradcheck.grading.sandbox import sandbox_problem

STANDALONE = Path(__file__).parent / "mutants" / "standalone.py"

ROWS_FLIPPED = '''
import numpy as np


class Conv:
    """A loop conv that 'flips the kernel as a convolution does', but only its rows, in forward and backward."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        self.x = np.pad(x, ((0, 0), (0, 0), (self.pad, self.pad), (self.pad, self.pad)))
        Wf = self.W[:, :, ::-1, :]
        F, C, KH, KW = Wf.shape
        S = self.stride
        OH, OW = (self.x.shape[2] - KH) // S + 1, (self.x.shape[3] - KW) // S + 1
        out = np.zeros((x.shape[0], F, OH, OW))
        for i in range(OH):
            for j in range(OW):
                out[:, :, i, j] = np.tensordot(self.x[:, :, i * S:i * S + KH, j * S:j * S + KW], Wf,
                                               axes=([1, 2, 3], [1, 2, 3])) + self.b
        return out

    def backward(self, dout):
        Wf = self.W[:, :, ::-1, :]
        F, C, KH, KW = Wf.shape
        S, P = self.stride, self.pad
        dx = np.zeros(self.x.shape)
        dWf = np.zeros(Wf.shape)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = self.x[:, :, i * S:i * S + KH, j * S:j * S + KW]
                dWf += np.tensordot(dout[:, :, i, j], window, axes=([0], [0]))
                dx[:, :, i * S:i * S + KH, j * S:j * S + KW] += np.tensordot(dout[:, :, i, j], Wf, axes=([1], [0]))
        self.dW, self.db = dWf[:, :, ::-1, :], dout.sum(axis=(0, 2, 3))
        H, W = dx.shape[2] - 2 * P, dx.shape[3] - 2 * P
        return dx[:, :, P:P + H, P:P + W]
'''

AVERAGING_MAX_POOL = '''
import numpy as np


def max_pool_forward_naive(x, pool_param):
    """cs231n's max pool, written from the average pool: each window's mean."""
    PH, PW, S = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    out = np.zeros((N, C, (H - PH) // S + 1, (W - PW) // S + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * S:i * S + PH, j * S:j * S + PW].mean(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    PH, PW, S = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros(x.shape)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * S:i * S + PH, j * S:j * S + PW] += dout[:, :, i:i + 1, j:j + 1] / (PH * PW)
    return dx
'''


@pytest.fixture
def students(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CI", raising=False)
    (tmp_path / "rows.py").write_text(ROWS_FLIPPED)
    (tmp_path / "pools.py").write_text(AVERAGING_MAX_POOL)
    return tmp_path


def cli(*args):
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, " ".join(result.stdout.split())


def test_the_cli_names_a_flip_of_the_rows_and_not_a_rotation(students):
    code, out = cli("conv", "--impl", "rows.py:Conv", "--seed", "0", "--examples", "10")
    assert code == 1
    assert "hint: forward uses the kernel flipped upside down (its rows reversed)" in out
    assert "(measured on a 2x2 kernel, where flips differ)" in out and "rotated" not in out


def test_the_cli_names_a_max_pool_that_averages(students):
    code, out = cli("pool", "--mode", "max", "--impl", "pools.py:max_pool_forward_naive", "--seed", "0",
                    "--examples", "10")
    assert code == 1
    assert "hint: forward averages each window: max pooling takes each window's maximum (np.max), not its mean" in out


def test_the_plugin_s_message_names_float_of_an_array_with_the_line(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(layers=STANDALONE.read_text(), test_layer=textwrap.dedent("""
        from layers import ConvFloatOfArray

        def test_conv(gradcheck):
            gradcheck.assert_conv(ConvFloatOfArray, examples=5)
    """))
    result = pytester.runpytest("--gradcheck-seed", "0")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*Hint: float() or int() of an array that is not 0-dimensional*layers.py:*float(b)*.item()*"])


needs_bwrap = pytest.mark.skipif(sandbox_problem() is not None, reason=f"no bwrap sandbox here: {sandbox_problem()}")


@needs_bwrap
def test_gradescope_names_float_of_an_array_through_the_sandbox_with_the_student_s_line():
    result = grade([STANDALONE], "conv", "ConvFloatOfArray", seed=0, examples=5, timeout=30, workers=1)
    (submission,) = result.submissions
    assert result.sandbox == "bwrap" and submission.score == 0
    forward = json.loads(render.grade_to_gradescope(submission, result))["tests"][0]
    hint = next(line for line in forward["output"].splitlines() if line.startswith("hint: float() or int()"))
    assert forward["name"].startswith("forward") and "standalone.py:" in hint and "float(b)" in hint
    assert ".item()" in hint


@needs_bwrap
def test_a_read_past_x_is_not_measured_through_the_sandbox_and_nothing_breaks():
    """In the sandbox x arrives as a copy: what lies after it cannot be controlled, so no hint claims it."""
    result = grade([STANDALONE], "conv", "ConvStridedUnpadded", seed=0, examples=5, timeout=30, workers=1,
                   batch=1, channels=1, size=6)
    (submission,) = result.submissions
    assert submission.error is None, submission.error
    assert "forward" in [check.name for check in submission.checks if check.status == "fail"]
    hints = [hint for finding in submission.report.findings for hint in finding.hints]
    assert not any("past the end of x" in hint for hint in hints)
