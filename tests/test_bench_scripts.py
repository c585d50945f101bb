"""The benchmark scripts still run: small arguments, exit status and the shape of their output (seconds, not minutes).

Exit status 1 is allowed (a missed target on a slow or busy machine), but then
the output must say FAIL; a crash (a traceback) is never allowed.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradcheck.grading.sandbox import sandbox_problem

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run(*args, timeout=60):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow  # seconds; .ci/run runs it
def test_bench_engine_runs_and_reports_every_measurement():
    done = run(str(BENCHMARKS / "bench_engine.py"), "--repeat", "1", "--skip-torch")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), done.stdout + done.stderr
    out = done.stdout
    for text in ("part 1:", "gradcheck, reference Conv2dIm2col", "the comparison with torch.autograd.gradcheck needs",
                 "dense ", "structured ", "projection ", "the engine ran: dX structured 55, dW structured 55, "
                 "dB structured 3", "part 2:", "full check, first run in the child (s)", "ru_maxrss",
                 "tracemalloc peak", "dX structured 163, dW structured 159, dB structured 3", "10.1 GB each"):
        assert text in out, f"{text!r} missing from:\n{out}"
    assert ("FAIL" in out) == (done.returncode == 1), out
    last = out.rstrip().splitlines()[-1]
    assert last == "every target met" if done.returncode == 0 else last.startswith("missed: "), last


def test_bench_engine_rejects_a_bad_repeat():
    done = run(str(BENCHMARKS / "bench_engine.py"), "--repeat", "0", "--skip-torch")
    assert done.returncode == 2 and "--repeat must be >= 1" in done.stderr


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
@pytest.mark.slow
def test_bench_engine_torch_adapter_passes_gradcheck():
    """The adapter the benchmark times passes every check on a tiny configuration (in a child: the script
    pins BLAS threads through the environment when it is imported)."""
    code = f"""
import runpy, sys
sys.path.insert(0, {str(BENCHMARKS)!r})  # where the script finds its timing module, as when run directly
script = runpy.run_path({str(BENCHMARKS / "bench_engine.py")!r}, run_name="bench_engine")
assert script["load_torch"](False) is not None
import gradcheck
config = gradcheck.Config.conv(batch=2, channels=2, filters=3, size=5, kernel=3, stride=2, pad=1)
report = gradcheck.check("conv", script["TorchConv2d"], config=config, seed=0)
assert report.passed, [(r.name, r.message) for r in report.checks]
print("ok")
"""
    done = run("-c", code)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


@pytest.mark.slow  # a minute or two; .ci/run runs it
def test_bench_detection_runs_and_reports_every_measurement():
    """One seed: the README's figures take --seeds 10 (minutes), and tests/test_mutants.py's seed sweep already
    holds every layer to its verdict on seeds 0..4."""
    done = run(str(BENCHMARKS / "bench_detection.py"), "--seeds", "1", timeout=900)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), done.stdout + done.stderr
    out = done.stdout
    for text in ("detection: ", " processes, ",
                 "default search, seeds 0..0", "exactly the right checks fail:", "wrong layers caught exactly:",
                 "false alarms on right layers:  0 of", "geometry and values mutants", "with the classes",
                 "main job `gradcheck conv --stride 2 --pad 1 --seed 0`:", "(target < 1.5 s)",
                 "default check of a right student layer, median of", "(target < 3.0 s)"):
        assert text in out, f"{text!r} missing from:\n{out}"
    assert "MISS" not in out, out
    assert ("FAIL" in out) == (done.returncode == 1), out


@pytest.mark.skipif(sandbox_problem() is not None, reason=f"no bwrap sandbox here: {sandbox_problem()}")
@pytest.mark.skipif(os.geteuid() != 0, reason="the simulated Gradescope container needs root")
@pytest.mark.slow  # a minute; .ci/run runs it
@pytest.mark.xdist_group("test_grade")  # never beside tests/test_grade.py's class runs, whose time is bounded too
def test_bench_grading_runs_and_reports_every_measurement():
    done = run(str(BENCHMARKS / "bench_grading.py"), "--submissions", "1", "--rounds", "1", "--class-size", "2",
               timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), done.stdout + done.stderr
    out = done.stdout
    for text in ("checking that --sandbox bwrap runs here (once per run):", "--sandbox bwrap:", "--sandbox none:",
                 "--sandbox bwrap adds", "(target <= 0.5 s)",
                 "part 2: a class of 2 correct submissions, --workers 2, --sandbox bwrap:", "(target < 60 s)",
                 "in a simulated Gradescope container, where bwrap cannot run",
                 "checking that --sandbox user runs here (once per run):", "--sandbox user:", "--sandbox user adds",
                 "part 2: a class of 2 correct submissions, --workers 2, --sandbox user:",
                 "part 3: 1 correct submissions, --workers 2, --sandbox bwrap, on ",
                 "part 3: 1 correct submissions, --workers 2, --sandbox user, on ", "(target <= 1.5x)"):
        assert text in out, f"{text!r} missing from:\n{out}"
    assert ("FAIL" in out) == (done.returncode == 1), out
    last = out.rstrip().splitlines()[-1]
    assert last == "every target met" if done.returncode == 0 else last.startswith("missed: "), last


def test_bench_grading_rejects_a_bad_count():
    done = run(str(BENCHMARKS / "bench_grading.py"), "--class-size", "0")
    assert done.returncode == 2 and "--class-size must be >= 1" in done.stderr


@pytest.mark.slow  # seconds; .ci/run runs it
def test_bench_accuracy_runs_and_reports_every_measurement():
    """Five configurations a layer: the README's figures take the default 300 (minutes on 2 cores)."""
    done = run(str(BENCHMARKS / "bench_accuracy.py"), "--configs", "5", timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), done.stdout + done.stderr
    out = done.stdout
    for text in ("float64: step ", "float32: step ", "configurations of conv, maxpool, avgpool",
                 "largest error / tolerance bound", "finite differences", "one-sided disagreement",
                 "float32 layer's own gradient", "relative error in every element is caught"):
        assert text in out, f"{text!r} missing from:\n{out}"
    assert out.rstrip().splitlines()[-1].startswith("PASS: ") == (done.returncode == 0), out


@pytest.mark.slow  # seconds; .ci/run runs it
def test_bench_catalogue_times_a_kind_beside_the_main_job():
    done = run(str(BENCHMARKS / "bench_catalogue.py"), "--kinds", "relu")
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.startswith("main job `gradcheck conv --stride 2 --pad 1 --seed 0`: ")
    assert "default check of `gradcheck relu --impl reference_layers/activations.py:ReluMask`: " in done.stdout
    assert ("PASS" in done.stdout) == (done.returncode == 0)
    assert run(str(BENCHMARKS / "bench_catalogue.py"), "--kinds", "softmax").returncode == 2
