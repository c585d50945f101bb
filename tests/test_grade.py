"""gradcheck grade: hostile submissions graded correctly, in bounded time, with the grader alive."""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcheck import api, report
from gradcheck.checks import CHECKS
from gradcheck.cli import main
from gradcheck.grading.grade import SubmissionResult, grade

HERE = Path(__file__).parent
HOSTILE = HERE / "hostile"
REFERENCE = HERE.parent / "examples" / "reference_style.py"
PINS = dict(batch=1, channels=2, filters=2)
RUN = dict(seed=0, examples=3, timeout=5, memory=512, workers=2, **PINS)
PIN_ARGS = ["--batch", "1", "--channels", "2", "--filters", "2", "--examples", "3", "--seed", "0"]

# submission -> words its one-line reason must hold
EXPECTED = {
    "hang": "timed out: exceeded the time limit of 5 s during forward",
    "memory_bomb": "ran out of memory during forward",
    "exit_at_import": "could not be imported: SystemExit: bye from exit_at_import",
    "hard_exit_at_import": "exited with status 0 during import",
    "exit_in_backward": "exited with status 3 during backward",
    "keyboard_interrupt": "forward: forward raised KeyboardInterrupt",
    "system_exit": "forward: forward raised SystemExit",
    "fake_output": "dX: ",
    "patch_numpy": "dW: ",
    "patch_gradcheck": "forward: ",
    "protocol_writer": "broke the sandbox protocol during forward",
    "lying_array": "dX: ",
    "segfault": "crashed during backward (killed by SIGSEGV)",
    "kill_grader": "the grading process was killed by SIG",
    "wrong_db": "dB: ",
}
FATAL = {"hang", "memory_bomb", "exit_at_import", "hard_exit_at_import", "exit_in_backward", "protocol_writer",
         "segfault", "kill_grader"}


@pytest.fixture(scope="module")
def graded():
    """Every hostile submission and two correct ones, in one run with two workers."""
    paths = [HOSTILE / f"{name}.py" for name in EXPECTED] + [HOSTILE / "chatty.py", REFERENCE]
    started = time.monotonic()
    result = grade(paths, "conv", "Convolution", **RUN)
    return result, time.monotonic() - started, {s.name: s for s in result.submissions}


def test_the_run_completes_in_bounded_time(graded):
    result, elapsed, _ = graded
    assert len(result.submissions) == len(EXPECTED) + 2
    assert elapsed < 60  # one 5 s hang, everything else well under a second each


@pytest.mark.parametrize("name", EXPECTED)
def test_each_hostile_submission_fails_with_a_clear_reason(graded, name):
    submission = graded[2][name]
    assert submission.passed is False
    assert EXPECTED[name] in submission.reason
    assert "\n" not in submission.reason
    if name in FATAL:
        assert submission.error and submission.score == 0
    else:  # an ordinary failure: graded check by check
        assert submission.error is None and submission.score < submission.max_score == len(CHECKS)


def test_correct_submissions_pass_next_to_hostile_ones(graded):
    for name in ("chatty", "reference_style"):
        submission = graded[2][name]
        assert submission.passed and submission.score == submission.max_score == 8 and submission.error is None
    assert graded[0].passed == 2


def test_chatty_output_is_kept_truncated(graded):
    chatty = graded[2]["chatty"]
    assert chatty.stdout.startswith("loading my layer")
    assert chatty.stdout.endswith("more bytes not shown]")
    assert len(chatty.stdout) < 4200 and "debug: forward called" in chatty.stderr


def test_a_dead_submission_says_where_it_died(graded):
    dead = graded[2]["exit_in_backward"]
    assert [c.status for c in dead.checks] == ["fail"] * 8
    message = dead.checks[0].message
    assert message.startswith("not graded: the submission exited with status 3 during backward")
    assert "reproduce: gradcheck conv --batch 1 --channels 2 --filters 2" in message
    assert dead.report is None  # no trigger facts or hints measured on a layer that no longer runs


def test_fake_output_does_not_change_the_verdict(graded):
    fake = graded[2]["fake_output"]
    assert "PASSED" in fake.stdout and fake.score == 7
    assert [c.name for c in fake.checks if c.status == "fail"] == ["dX"]


def test_a_stopped_grading_process_is_killed_at_the_deadline(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    started = time.monotonic()
    result = grade([HOSTILE / "stop_grader.py", HOSTILE / "kill_grader.py", REFERENCE], "conv", "Convolution",
                   seed=0, examples=3, workers=3, deadline=4, **PINS)
    stopped, killed, correct = result.submissions
    assert not stopped.passed and "grading did not finish within 4 s" in stopped.error
    assert not killed.passed and "the grading process was killed by SIG" in killed.error
    assert correct.passed
    assert time.monotonic() - started < 15
    assert list(tmp_path.iterdir()) == []  # no working directory left behind, even by killed grading processes


# -- what travels from a grading process ----------------------------------------

def test_reports_round_trip_through_json():
    checked = api.check("conv", f"{HERE.parent / 'examples' / 'wrong_conv.py'}:Conv2d", seed=0, examples=5)
    data = json.loads(report.to_json(checked))
    again = api.Report.from_dict(data)
    assert json.loads(report.to_json(again)) == data
    assert again.counterexample.config == checked.counterexample.config
    assert again.counterexample.checks[0].worst_index == checked.counterexample.checks[0].worst_index
    assert report.failure_text(again) == report.failure_text(checked)


def test_submission_results_round_trip_through_json(graded):
    for submission in graded[2].values():
        data = json.loads(json.dumps(submission.to_dict(details=True)))
        again = SubmissionResult.from_dict(data)
        assert json.loads(json.dumps(again.to_dict(details=True))) == data
        assert again.reason == submission.reason and again.stdout == submission.stdout
    assert graded[2]["wrong_db"].report.counterexample.reproduce.startswith("gradcheck conv")


# -- finding the file ---------------------------------------------------------

CORRECT = REFERENCE.read_text()


def test_folders_files_and_names(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "layers.py").write_text(CORRECT)
    (tmp_path / "bob").mkdir()  # several files: the one that defines Convolution, importing a helper
    (tmp_path / "bob" / "helpers.py").write_text(CORRECT.split("class Convolution")[0])
    (tmp_path / "bob" / "main.py").write_text("from helpers import im2col, col2im\nimport numpy as np\n\n"
                                              "class Convolution" + CORRECT.split("class Convolution")[1])
    (tmp_path / "bob" / "notes.py").write_text("# nothing here\n")
    (tmp_path / "carol").mkdir()  # nothing defines it
    (tmp_path / "carol" / "a.py").write_text("x = 1\n")
    (tmp_path / "carol" / "b.py").write_text("y = 2\n")
    (tmp_path / "dave").mkdir()  # no Python at all
    (tmp_path / "dave" / "README.txt").write_text("hi\n")
    (tmp_path / "erin.txt").write_text("not python\n")
    (tmp_path / "nested").mkdir()  # only in a subfolder
    (tmp_path / "nested" / "src").mkdir()
    (tmp_path / "nested" / "src" / "conv.py").write_text(CORRECT)
    paths = [tmp_path / name for name in ("alice", "bob", "carol", "dave", "erin.txt", "nested")]
    result = grade(paths, "conv", "Convolution", seed=0, examples=2, workers=2, **PINS)
    by_name = {s.name: s for s in result.submissions}
    assert [s.name for s in result.submissions] == ["alice", "bob", "carol", "dave", "erin", "nested"]
    assert by_name["alice"].passed and by_name["alice"].file.endswith("layers.py")
    assert by_name["bob"].passed and by_name["bob"].file.endswith("main.py")
    assert "no .py file in" in by_name["carol"].error and "defines Convolution" in by_name["carol"].error
    assert "no .py file in" in by_name["dave"].error
    assert "is not a .py file" in by_name["erin"].error
    assert by_name["nested"].passed


def test_clashing_names_fall_back_to_paths(tmp_path):
    for who in ("a", "b"):
        (tmp_path / who).mkdir()
        (tmp_path / who / "layers.py").write_text(CORRECT)
    result = grade([tmp_path / "a" / "layers.py", tmp_path / "b" / "layers.py"], "conv", "Convolution",
                   seed=0, examples=1, workers=1, **PINS)
    assert [s.name for s in result.submissions] == [str(tmp_path / "a" / "layers.py"),
                                                   str(tmp_path / "b" / "layers.py")]


def test_same_seed_same_grades(tmp_path):
    paths = [HOSTILE / "wrong_db.py", REFERENCE]
    first = grade(paths, "conv", "Convolution", seed=5, examples=3, workers=2, **PINS)
    second = grade(paths, "conv", "Convolution", seed=5, examples=3, workers=1, **PINS)
    strip = [{k: v for k, v in s.to_dict().items() if k != "duration_s"} for s in first.submissions]
    assert strip == [{k: v for k, v in s.to_dict().items() if k != "duration_s"} for s in second.submissions]


@pytest.mark.parametrize("options,message", [
    (dict(layer="dense"), "layer must be one of"),
    (dict(impl="file.py:Convolution"), "--impl takes the NAME"),
    (dict(paths=["missing.py"]), "no such file or folder: missing.py"),
    (dict(workers=0), "workers must be"),
    (dict(timeout=0), "timeout must be > 0"),
    (dict(kernel=5, size=2, pad=0), "can never fit"),
])
def test_bad_options_raise_value_error(options, message):
    arguments = dict(paths=[REFERENCE], layer="conv", impl="Convolution")
    arguments.update(options)
    with pytest.raises(ValueError, match=message):
        grade(arguments.pop("paths"), arguments.pop("layer"), arguments.pop("impl"), **arguments)


# -- the command line -----------------------------------------------------------

@pytest.fixture
def cli():
    def invoke(*args):
        result = CliRunner().invoke(main, ["grade", *map(str, args)])
        return result.exit_code, result.stdout, result.stderr
    return invoke


MIXED = [REFERENCE, HOSTILE / "wrong_db.py", HOSTILE / "exit_at_import.py"]


def test_cli_json_has_the_documented_fields_and_exits_0(cli):
    code, out, err = cli(*MIXED, "--layer", "conv", "--impl", "Convolution", *PIN_ARGS, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"submissions"}
    rows = data["submissions"]
    assert [row["name"] for row in rows] == ["reference_style", "wrong_db", "exit_at_import"]
    for row in rows:
        assert set(row) == {"name", "passed", "score", "max_score", "checks", "error", "duration_s"}
    assert rows[0]["passed"] is True and rows[0]["score"] == rows[0]["max_score"] == 8 and rows[0]["error"] is None
    assert [c["name"] for c in rows[1]["checks"]] == list(CHECKS)
    assert rows[1]["passed"] is False and rows[1]["score"] == 7
    assert rows[2]["error"].startswith("could not load Convolution") and rows[2]["checks"] == []


def test_cli_csv_one_row_per_submission(cli):
    code, out, _ = cli(*MIXED, "--layer", "conv", "--impl", "Convolution", *PIN_ARGS, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["name", "passed", "score", "max_score", "duration_s", "error", *CHECKS]
    assert [(r["name"], r["passed"], r["score"]) for r in rows] == [
        ("reference_style", "true", "8"), ("wrong_db", "false", "7"), ("exit_at_import", "false", "0")]
    assert rows[1]["dB"] == "fail" and rows[1]["dX"] == "pass"
    assert "SystemExit" in rows[2]["error"] and rows[2]["forward"] == ""


def test_cli_gradescope_results_json(cli):
    code, out, _ = cli(HOSTILE / "wrong_db.py", "--layer", "conv", "--impl", "Convolution", *PIN_ARGS,
                       "--format", "gradescope")
    assert code == 0
    results = json.loads(out)
    assert results["score"] == 7.0 and isinstance(results["execution_time"], int)
    tests = results["tests"]
    assert len(tests) == 8 and all(set(t) >= {"name", "score", "max_score", "status", "output"} for t in tests)
    assert sum(t["score"] for t in tests) == results["score"]
    failed = [t for t in tests if t["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["name"].startswith("dB")
    assert "smallest failing configuration" in failed[0]["output"]
    assert "reproduce: gradcheck conv" in failed[0]["output"]


def test_cli_gradescope_for_a_submission_that_hangs(cli):
    code, out, _ = cli(HOSTILE / "hang.py", "--layer", "conv", "--impl", "Convolution", *PIN_ARGS,
                       "--timeout", "1", "--format", "gradescope")
    assert code == 0
    results = json.loads(out)
    assert results["score"] == 0 and all(t["status"] == "failed" for t in results["tests"])
    assert "timed out: exceeded the time limit of 1 s" in results["output"]


def test_cli_gradescope_wants_one_path(cli):
    code, out, err = cli(*MIXED, "--layer", "conv", "--impl", "Convolution", "--format", "gradescope")
    assert code == 2 and "exactly one submission" in err and out == ""


def test_cli_junit_one_suite_per_submission(cli):
    code, out, _ = cli(*MIXED, "--layer", "conv", "--impl", "Convolution", *PIN_ARGS, "--format", "junit")
    assert code == 0
    suites = ET.fromstring(out.encode()).findall("testsuite")
    assert [s.get("name") for s in suites] == ["reference_style", "wrong_db", "exit_at_import"]
    assert [c.get("name") for c in suites[0].findall("testcase")] == list(CHECKS)
    assert suites[1].get("failures") == "1"
    assert suites[2].get("errors") == "1" and suites[2].find("testcase[@name='submission']/error") is not None


def test_cli_text_table_and_summary(cli):
    code, out, _ = cli(*MIXED, "--layer", "conv", "--impl", "Convolution", *PIN_ARGS)
    assert code == 0
    assert "reference_style" in out and "PASSED" in out and "FAILED" in out and "ERROR" in out
    assert "1 of 3 passed" in out


@pytest.mark.parametrize("args,message", [
    (["missing.py", "--layer", "conv", "--impl", "Convolution"], "does not exist"),
    ([REFERENCE, "--layer", "dense", "--impl", "Convolution"], "Invalid value for '--layer'"),
    ([REFERENCE, "--layer", "conv"], "Missing option '--impl'"),
    ([REFERENCE, "--layer", "maxpool", "--impl", "Pooling", "--filters", "2"], "pools have no filters"),
    ([REFERENCE, "--layer", "conv", "--impl", "Convolution", "--timeout", "0"], "--timeout"),
])
def test_cli_bad_usage_exits_2_with_one_line(cli, args, message):
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_cli_process_stdout_is_only_the_report(tmp_path):
    """The real command: stdout parses as JSON even with submissions that print and die."""
    command = [sys.executable, "-c", "from gradcheck.cli import main; main()", "grade",
               str(HOSTILE / "fake_output.py"), str(HOSTILE / "exit_in_backward.py"), "--layer", "conv",
               "--impl", "Convolution", *PIN_ARGS, "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(HERE.parent)})
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["submissions"]
    assert [row["passed"] for row in rows] == [False, False]
