"""The gradcheck command line: verdicts, exit codes, one-line errors and the report formats."""
import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from gradcheck.kinds.avgpool import KIND as AVGPOOL
from gradcheck.kinds.conv import KIND as CONV
from gradcheck.cli import main

STUDENT_CONV = '''
import numpy as np

class Conv2d:
    """Loop-style conv whose backward forgets the stride when it routes dout to dx."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        self.x = np.pad(x, ((0, 0), (0, 0), (self.pad, self.pad), (self.pad, self.pad)))
        F, C, KH, KW = self.W.shape
        self.out_h = (self.x.shape[2] - KH) // self.stride + 1
        self.out_w = (self.x.shape[3] - KW) // self.stride + 1
        out = np.zeros((x.shape[0], F, self.out_h, self.out_w))
        for i in range(self.out_h):
            for j in range(self.out_w):
                patch = self.x[:, :, i * self.stride:i * self.stride + KH, j * self.stride:j * self.stride + KW]
                out[:, :, i, j] = np.tensordot(patch, self.W, axes=([1, 2, 3], [1, 2, 3])) + self.b
        return out

    def backward(self, dout):
        F, C, KH, KW = self.W.shape
        dx = np.zeros(self.x.shape)
        self.dW = np.zeros(self.W.shape)
        for i in range(self.out_h):
            for j in range(self.out_w):
                patch = self.x[:, :, i * self.stride:i * self.stride + KH, j * self.stride:j * self.stride + KW]
                self.dW += np.tensordot(dout[:, :, i, j], patch, axes=([0], [0]))
                dx[:, :, i:i + KH, j:j + KW] += np.tensordot(dout[:, :, i, j], self.W, axes=([1], [0]))
        self.db = dout.sum(axis=(0, 2, 3))
        h, w = dx.shape[2:]
        return dx[:, :, self.pad:h - self.pad, self.pad:w - self.pad]
'''


@pytest.fixture
def run(monkeypatch):
    """Invoke the CLI; returns (exit code, stdout, stderr)."""
    monkeypatch.delenv("CI", raising=False)

    def invoke(*args):
        result = CliRunner().invoke(main, list(args))
        return result.exit_code, result.stdout, result.stderr
    return invoke


@pytest.fixture
def student(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "student.py").write_text(STUDENT_CONV)
    return "student.py:Conv2d"


def test_main_job_passes_on_the_reference_layers(run):
    code, out, err = run("conv", "--stride", "2", "--pad", "1", "--seed", "0")
    assert code == 0, out + err
    assert "PASSED" in out
    assert "reproduce: gradcheck conv --stride 2 --pad 1 --examples" in out


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool_reference_layers_pass(run, mode):
    code, out, err = run("pool", "--mode", mode, "--kernel", "2", "--seed", "0")
    assert code == 0, out + err


def test_a_pool_window_kept_within_a_range_runs(run):
    """A range pin reaches the pools' configurations as the items of a dict (it raised AttributeError there)."""
    code, out, err = run("pool", "--mode", "max", "--kernel", "2..3", "--examples", "3", "--seed", "0")
    assert code == 0 and "within: kernel 2..3" in out, out + err


def test_wrong_layer_exits_1_with_counterexample_triggers_map_and_reproduction(run, student):
    code, out, _ = run("conv", "--impl", student, "--seed", "3")
    assert code == 1
    assert "FAILED: 1 of 8 checks" in out
    assert "Finding 1: dX fails" in out
    assert "fails only when stride > 1 (passes with stride 1, all else equal; no failure in a search of" in out
    assert "where dX differs" in out and "X" in out
    assert "reproduce: gradcheck conv --batch 1 --channels 1 --filters 1" in out


@pytest.mark.slow
def test_reproduction_command_reproduces_the_failure(run, student):
    _, out, _ = run("conv", "--impl", student, "--examples", "10", "--seed", "3", "--format", "json")
    report = json.loads(out)
    words = shlex.split(report["reproduce"])
    assert words[0] == "gradcheck"
    code, again, _ = run(*words[1:], "--format", "json")
    assert code == 1
    again = json.loads(again)
    assert again["config"]["examples_run"] == 1  # every dimension pinned: one deterministic check
    assert [c["name"] for c in again["checks"] if not c["passed"]] == ["dX"]
    assert again["counterexample"]["config"] == report["counterexample"]["config"]


@pytest.mark.slow
def test_json_report_has_the_documented_fields(run, student):
    _, out, _ = run("conv", "--impl", student, "--examples", "10", "--seed", "3", "--format", "json")
    report = json.loads(out)
    assert {"passed", "layer", "config", "checks", "counterexample", "triggers", "hints", "reproduce"} <= set(report)
    assert report["passed"] is False and report["layer"] == "conv"
    assert [c["name"] for c in report["checks"]] == list(CONV.checks)
    dx = next(c for c in report["checks"] if c["name"] == "dX")
    assert {"name", "passed", "max_abs_error", "max_rel_error", "mismatched", "worst_index"} <= set(dx)
    assert dx["mismatched"] >= 1 and len(dx["worst_index"]) == 4
    assert report["counterexample"]["config"]["stride"] == [2, 2]
    assert any("stride > 1" in fact for fact in report["triggers"])


@pytest.mark.slow
def test_divisible_draws_only_inputs_the_stride_divides_and_is_in_every_reproduction(run, student):
    _, out, _ = run("conv", "--impl", student, "--examples", "10", "--seed", "3", "--divisible", "--format", "json")
    report = json.loads(out)
    assert report["config"]["divisible"] is True
    assert all("--divisible" in finding["reproduce"] for finding in report["findings"])
    config = report["counterexample"]["config"]
    extent = [d * (k - 1) + 1 for d, k in zip(config["dilation"], config["kernel"])]
    assert all((n + 2 * p - e) % s == 0 for n, p, e, s in zip(config["size"], config["pad"], extent, config["stride"]))


@pytest.mark.slow
def test_a_range_keeps_the_search_within_it_and_the_report_says_so(run, student):
    """--stride 2..3: every configuration and finding has a stride of 2 or 3, so the stride bug is found but
    never said to need "stride > 1" (stride 1 is outside); the header and the run's reproduce line keep it."""
    code, out, _ = run("conv", "--impl", student, "--stride", "2..3", "--pad", "0..1", "--seed", "3",
                       "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["config"]["bounds"] == {"stride": [2, 3], "pad": [0, 1]}
    assert report["findings"] and all(2 <= s <= 3 for finding in report["findings"]
                                      for s in finding["config"]["stride"])
    assert not any("stride" in fact for finding in report["findings"] for fact in finding["triggers"])
    code, text, _ = run("conv", "--stride", "2..3", "--kernel", "1..2", "--seed", "0")  # the reference layers pass
    assert code == 0 and "\nwithin: kernel 1..2, stride 2..3\n" in text
    assert "none with these pins and bounds: odd kernel > 1;" in " ".join(text.split())
    assert "reproduce: gradcheck conv --kernel 1..2 --stride 2..3 --examples 30 --seed 0" in text


def test_the_options_of_this_issue_are_in_the_help(run):
    _, out, _ = run("conv", "--help")
    assert "--divisible" in out and "auto|reference|function|args|dive" in out.replace("\n", "").replace(" ", "")


@pytest.mark.slow
def test_same_seed_repeats_exactly(run, student):
    first = run("conv", "--impl", student, "--examples", "10", "--seed", "11", "--format", "json")
    second = run("conv", "--impl", student, "--examples", "10", "--seed", "11", "--format", "json")
    assert first == second


@pytest.mark.slow
def test_junit_has_one_testcase_per_check(run, student):
    _, out, _ = run("conv", "--impl", student, "--examples", "10", "--seed", "3", "--format", "junit")
    suite = ET.fromstring(out.encode()).find("testsuite")
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == list(CONV.checks)
    assert suite.get("failures") == "1"
    failed = [case for case in cases if case.find("failure") is not None]
    assert [case.get("name") for case in failed] == ["dX"]
    assert "reproduce: gradcheck conv" in failed[0].find("failure").text


def test_pool_junit_lists_the_pool_checks(run):
    _, out, _ = run("pool", "--mode", "avg", "--kernel", "2", "--seed", "0", "--format", "junit",
                    "--examples", "3")
    names = {case.get("name").split(".")[-1] for case in ET.fromstring(out.encode()).iter("testcase")}
    assert names == set(AVGPOOL.checks)


def test_output_option_writes_the_report_to_a_file(run, tmp_path):
    target = tmp_path / "report.json"
    code, out, _ = run("conv", "--stride", "2", "--seed", "0", "--examples", "3", "--format", "json",
                       "--output", str(target))
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["passed"] is True


BAD_INPUT = {
    "unknown option value": (["pool", "--mode", "mean"], "Invalid value for '--mode'"),
    "negative stride": (["conv", "--stride", "-1"], "Invalid value for '--stride': must be >= 1"),
    "malformed pair": (["conv", "--kernel", "3y2"], "is not an int, an HxW pair such as 3x2 or a range"),
    "kernel that can never fit": (["conv", "--kernel", "5", "--size", "2", "--pad", "0"], "can never fit"),
    "pool pad over half the pool": (["pool", "--mode", "max", "--kernel", "2", "--pad", "2"],
                                    "pad must be at most half the pool size"),
    "missing file": (["conv", "--impl", "missing.py:Conv2d"], "no such file: missing.py"),
    "impl without NAME": (["conv", "--impl", "student.py"], "--impl must be FILE:NAME"),
    "NAME missing from the file": (["conv", "--impl", "student.py:Conv"], "defines no 'Conv'; it defines: Conv2d"),
    "unknown option": (["conv", "--bogus"], "No such option"),
    "a per-axis pin for a layer that takes ints": (["conv", "--impl", "student.py:Conv2d", "--stride", "2x1"],
                                                   "takes stride as one int for both axes"),
    "pins no configuration satisfies": (["conv", "--kernel", "7x1", "--dilation", "2", "--size", "4", "--pad", "1"],
                                        "can never fit"),
    "output into a missing folder": (["conv", "--output", "missing/report.json"],
                                     "missing does not exist; create it or write elsewhere"),
    "unknown precision": (["conv", "--precision", "float16"], "Invalid value for '--precision'"),
    "fast with another method": (["conv", "--fast", "--method", "dense"], "fast means method 'projection'"),
    "a range lowest last": (["conv", "--stride", "3..1"], "'3..1' holds no value: give the lowest first"),
    "a range below the least": (["conv", "--stride", "0..2"], "Invalid value for '--stride': must be >= 1"),
    "a pair range": (["conv", "--batch", "1..2x3"], "is not an int or a range such as 1..2"),
    "a pin outside the convention's range": (["conv", "--impl", "student.py:Conv2d", "--dilation", "2..3"],
                                             "Conv2d (reference convention) cannot take dilation 2..3"),
    "bounds no configuration satisfies": (["conv", "--kernel", "5", "--size", "1..2", "--pad", "0"],
                                          "and size must lie within 1..2"),
}


@pytest.mark.parametrize("args,message", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_line_on_stderr_with_exit_2(run, student, args, message):
    code, out, err = run(*args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("gradcheck: error: ")
    assert message in err
    assert "Traceback" not in err


def test_file_that_does_not_import_shows_the_students_own_line(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.py").write_text(textwrap.dedent("""\
        import numpy as np
        SCALE = np.sqrt(2) / undefined_name
        class Conv2d: pass
    """))
    code, out, err = run("conv", "--impl", "broken.py:Conv2d")
    assert code == 2 and err.count("\n") == 1
    assert "NameError: name 'undefined_name' is not defined" in err
    assert "broken.py:2: SCALE = np.sqrt(2) / undefined_name" in err


def test_syntax_error_shows_the_line(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "typo.py").write_text("class Conv2d:\n    def forward(self, x)\n        return x\n")
    code, _, err = run("conv", "--impl", "typo.py:Conv2d")
    assert code == 2 and "SyntaxError" in err and "typo.py:2: def forward(self, x)" in err


def test_layer_that_raises_fails_with_exit_1_not_a_traceback(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "raises.py").write_text(STUDENT_CONV.replace("self.db = dout.sum(axis=(0, 2, 3))",
                                                             "self.db = dout.sum(axis=(0, 5))"))
    code, out, err = run("conv", "--impl", "raises.py:Conv2d", "--seed", "0")
    assert code == 1 and "Traceback" not in out + err
    assert "backward raised AxisError" in out


@pytest.mark.parametrize("statement,shown", [
    ("raise ValueError('[/bold] [red]oops')", "ValueError: [/bold] [red]oops"),
    ("sys.exit(0)", "forward raised SystemExit"),
])
def test_what_user_code_raises_fails_the_check_and_is_printed_as_is(run, tmp_path, monkeypatch, statement, shown):
    monkeypatch.chdir(tmp_path)
    source = "import sys\n" + STUDENT_CONV.replace("    def forward(self, x):\n",
                                                    f"    def forward(self, x):\n        {statement}\n")
    (tmp_path / "odd.py").write_text(source)
    code, out, err = run("conv", "--impl", "odd.py:Conv2d", "--seed", "0", "--examples", "3")
    assert code == 1 and "Traceback" not in out + err
    assert shown in out


def test_no_command_prints_help_and_exits_2(run):
    code, _, err = run()
    assert code == 2 and "Commands:" in err


@pytest.mark.slow  # searches through the CLI
def test_pins_that_some_configuration_satisfies_run(run):
    """A 4-wide input with a 3-wide kernel and no padding leaves no room for dilation 2: it is drawn to fit."""
    code, out, err = run("conv", "--size", "4", "--kernel", "3", "--pad", "0", "--seed", "0", "--format", "json")
    assert code == 0, out + err
    covered = json.loads(out)["config"]["covered"]
    assert covered["dilation"] == [[1, 1], [1, 1]] and covered["size"] == [[4, 4], [4, 4]]


@pytest.mark.slow  # searches through the CLI
def test_a_per_axis_pin_runs_for_a_layer_that_says_it_takes_pairs(run):
    code, out, err = run("conv", "--stride", "2x1", "--seed", "0", "--examples", "5", "--format", "json")
    assert code == 0, out + err
    assert json.loads(out)["config"]["covered"]["stride"] == [[2, 2], [1, 1]]


@pytest.mark.slow
def test_the_header_states_the_ranges_covered_precision_and_methods(run):
    code, out, _ = run("conv", "--seed", "0", "--examples", "10", "--precision", "float32")
    assert code == 0
    header = out.split("\n\n")[0]
    assert "seed 0, float32" in header
    assert "covered: batch " in header and "kernel " in header and "outputs " in header
    assert "finite differences: dX by " in header and "forward evaluations" in header
    assert not any(line.endswith(" ") for line in out.splitlines())


def test_methods_can_be_chosen_and_are_reported(run):
    code, out, _ = run("conv", "--seed", "0", "--examples", "3", "--method", "projection", "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["config"]["method"] == "projection"
    assert set(report["methods"]) == {"dX", "dW", "dB"}
    assert all(set(by_method) == {"projection"} for by_method in report["methods"].values())
    assert "--method projection" in report["reproduce"]


def test_python_m_gradcheck_is_the_command_line():
    done = subprocess.run([sys.executable, "-m", "gradcheck", "conv", "--stride", "-1"], capture_output=True,
                          text=True)
    assert done.returncode == 2 and done.stderr.startswith("gradcheck: error: Invalid value for '--stride'")


LOOPING_CONV = '''
from reference_layers import Conv2dIm2col


class Conv2d(Conv2dIm2col):
    """Right, but its backward loops forever whenever the stride is 2."""

    def __init__(self, W, b, stride=1, pad=0):
        super().__init__(W, b, stride, pad)
        self.loops = stride in (2, (2, 2))

    def backward(self, dout):
        while self.loops:
            pass
        return super().backward(dout)
'''


def gradcheck_command(*args, cwd):
    return subprocess.run([sys.executable, "-m", "gradcheck", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


@pytest.mark.slow
def test_a_looping_layer_stops_at_the_timeout_saying_where_and_so_does_its_reproduce_command(tmp_path):
    (tmp_path / "looping.py").write_text(LOOPING_CONV)
    done = gradcheck_command("conv", "--impl", "looping.py:Conv2d", "--seed", "0", "--timeout", "2", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    stopped = lines.index("Stopped: the time limit of 2 s (--timeout) was reached")
    assert lines[stopped + 1].startswith("  while dX was being checked on x (") and "stride 2" in lines[stopped + 1]
    reproduce = shlex.split(lines[-1].removeprefix("  reproduce: "))
    assert reproduce[:2] == ["gradcheck", "conv"] and reproduce[reproduce.index("--stride") + 1] == "2"
    again = gradcheck_command(*reproduce[1:], "--timeout", "1", cwd=tmp_path)
    assert again.returncode == 1 and "Stopped: the time limit of 1 s (--timeout) was reached" in again.stdout


def test_a_layer_that_loops_at_import_stops_at_the_timeout_with_one_line(tmp_path):
    (tmp_path / "hangs.py").write_text("while True:\n    pass\n")
    done = gradcheck_command("pool", "--mode", "max", "--impl", "hangs.py:Pool", "--timeout", "1", cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == "", done.stdout + done.stderr
    assert done.stderr == ("gradcheck: error: the time limit of 1 s (--timeout) was reached while hangs.py:Pool was "
                           "imported (or probed): does it run at import, or loop?\n")


@pytest.mark.slow
def test_a_check_and_a_grade_leave_nothing_in_the_folder_they_run_in(tmp_path):
    """Hypothesis writes a cache of the constants it reads in user code; gradcheck sends it to
    $XDG_CACHE_HOME/gradcheck/hypothesis, not to a .hypothesis folder in the student's assignment."""
    folder, cache = tmp_path / "assignment", tmp_path / "cache"
    folder.mkdir()
    shutil.copy(os.path.join(os.path.dirname(__file__), os.pardir, "examples", "dlfs_layers.py"),
                folder / "layers.py")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    for args in (["affine", "--impl", "layers.py:Affine"], ["grade", "--layer", "affine", "--impl", "Affine",
                                                           "--sandbox", "none", "layers.py"]):
        done = subprocess.run([sys.executable, "-m", "gradcheck", *args], capture_output=True, text=True,
                              cwd=folder, env=env, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert sorted(path.name for path in folder.iterdir()) == ["layers.py"], args
    assert (cache / "gradcheck" / "hypothesis").is_dir()
