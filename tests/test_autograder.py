"""gradcheck autograder: the Gradescope bundle is built from the running gradcheck, installs it, and grades
submissions in a layout like Gradescope's, under the real sandbox and without it; GitHub Classroom's workflow
is valid, grades the template's file into the points its reporter sends, and runs in a fresh repository."""
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcheck.kinds.conv import KIND as CONV
from gradcheck.cli import main
from gradcheck.grading import autograder, course
from gradcheck.grading.sandbox import ROOT, sandbox_problem

REPOSITORY = Path(__file__).resolve().parents[1]
CLASS = REPOSITORY / "examples" / "class"
CLASSROOM = REPOSITORY / "examples" / "github-classroom"
OPTIONS = ["--layer", "conv", "--impl", "Conv2d", "--examples", "10", "--timeout", "20"]
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}  # Gradescope's
RESULT_KEYS = {"score", "execution_time", "output", "visibility", "stdout_visibility", "extra_data", "tests",
               "leaderboard", "output_format"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
             "visibility", "extra_data"}


def gradcheck(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-c", "from gradcheck.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A bundle built by the real command, with its seed frozen and hints held back until the due date."""
    folder = tmp_path_factory.mktemp("bundle")
    done = gradcheck("autograder", *OPTIONS, "--seed", "0", "--hide-hints-until-due", "--output",
                     folder / "autograder.zip")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return folder / "autograder.zip", done.stdout


# -- building ----------------------------------------------------------------------

@pytest.mark.slow
def test_the_bundle_holds_gradescopes_two_scripts_at_its_root_and_this_very_gradcheck(bundle):
    path, said = bundle
    version = metadata.version("gradcheck")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read(autograder.MANIFEST))
        modes = {info.filename: info.external_attr >> 16 & 0o777 for info in archive.infolist()}
        wheel = archive.read(manifest["wheel"])
        constraints = archive.read("constraints.txt").decode().splitlines()
        scripts = {name: archive.read(name).decode() for name in autograder.SCRIPTS}
    assert sorted(names) == sorted([*autograder.SCRIPTS, "README.md", "constraints.txt", autograder.MANIFEST,
                                    f"gradcheck-{version}-py3-none-any.whl"])
    assert all(modes[name] == 0o755 for name in autograder.SCRIPTS) and modes["README.md"] == 0o644
    assert manifest["gradcheck"] == version and manifest["sandbox"] == "auto"
    assert manifest["arguments"][manifest["arguments"].index("--seed") + 1] == "0"
    assert manifest["arguments"][manifest["arguments"].index("--layout") + 1] == "auto"  # each submission probed
    assert manifest["arguments"][-1] == "--hide-hints-until-due"
    assert manifest["files"] == autograder.package_files(ROOT)  # the running source, file for file
    with zipfile.ZipFile(__import__("io").BytesIO(wheel)) as built:
        assert {name: hashlib.sha256(built.read(name)).hexdigest() for name in manifest["files"]} == manifest["files"]
    numpy = metadata.metadata("numpy")  # pinned for the Pythons its release supports
    assert f'numpy=={numpy["Version"]}; {autograder._marker(numpy["Requires-Python"])}' in constraints
    assert not any(line.lower().startswith("gradcheck==") for line in constraints)
    assert "apt-get install -y python3 python3-pip python3-venv libseccomp2" in scripts["setup.sh"]
    assert "%%" not in "".join(scripts.values())  # every placeholder filled
    assert said.startswith(f"wrote {path}: gradcheck {version}, --layer conv --impl Conv2d") and "chosen" not in said


@pytest.mark.parametrize("requires,marker", [
    (">=3.11", 'python_full_version >= "3.11"'),
    (">=3.8, !=3.9.0", 'python_full_version >= "3.8" and python_full_version != "3.9.0"'),
    ("~=3.10", 'python_full_version ~= "3.10"'),
    (None, ""),
    ("3.11", f'python_version == "{sys.version_info[0]}.{sys.version_info[1]}"'),  # unreadable: the builder's
])
def test_a_pin_applies_on_the_pythons_its_release_supports(requires, marker):
    assert autograder._marker(requires) == marker


@pytest.mark.slow
def test_building_leaves_the_checkout_alone_and_ignores_what_an_earlier_build_left(tmp_path):
    """setuptools builds in build/ of the tree it builds, and packs what it finds there."""
    stale = Path(ROOT) / "build" / "lib" / "gradcheck" / "stale_module_of_an_earlier_build.py"
    made = [folder for folder in reversed(stale.parents) if not folder.exists()]
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("# left by an earlier build\n")
    before = {path: path.stat().st_mtime_ns for path in Path(ROOT, "build").rglob("*")}
    try:
        done = gradcheck("autograder", *OPTIONS, "--seed", "0", "--output", tmp_path / "a.zip")
        assert done.returncode == 0, done.stderr
        assert {path: path.stat().st_mtime_ns for path in Path(ROOT, "build").rglob("*")} == before  # untouched
    finally:
        stale.unlink()
        for folder in reversed(made):
            folder.rmdir()
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        wheel = json.loads(archive.read(autograder.MANIFEST))["wheel"]
        with zipfile.ZipFile(__import__("io").BytesIO(archive.read(wheel))) as built:
            assert not any("stale_module" in name for name in built.namelist())


@pytest.mark.slow
def test_without_a_seed_one_is_chosen_printed_and_frozen(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    done = gradcheck("autograder", *OPTIONS, "--output", tmp_path / "a.zip", env=env)
    assert done.returncode == 0, done.stderr
    seed = re.search(r"\(seed (\d+) chosen now, frozen into the bundle\)", done.stdout).group(1)
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        arguments = json.loads(archive.read(autograder.MANIFEST))["arguments"]
    assert arguments[arguments.index("--seed") + 1] == seed


def test_per_student_seeds_differ_between_students_and_not_between_their_resubmissions():
    secret, other = "ab" * 32, "cd" * 32
    pair = {"users": [{"id": 7, "email": "b@x"}, {"id": 3, "email": "a@x"}]}
    seeds = {autograder.student_seed(secret, {"users": [{"id": n}]}) for n in range(200)}
    assert len(seeds) == 200 and all(0 <= seed < 2 ** 32 for seed in seeds)
    assert autograder.student_seed(secret, pair) == autograder.student_seed(secret, {"users": pair["users"][::-1]})
    assert autograder.student_seed(secret, pair) != autograder.student_seed(other, pair)
    with pytest.raises(autograder.AutograderFailed, match="names no student"):
        autograder.student_seed(secret, {"users": []})


@pytest.mark.slow
def test_per_student_seeds_keep_a_secret_in_the_bundle_and_take_no_seed(tmp_path):
    done = gradcheck("autograder", *OPTIONS, "--per-student-seeds", "--partial-credit", "--hide-hints-until-due",
                     "--show-one-failure", "--output", tmp_path / "a.zip")
    assert done.returncode == 0, done.stderr
    assert "--seed" not in done.stdout and "each submission's seed derived from a secret" in done.stdout
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        manifest = json.loads(archive.read(autograder.MANIFEST))
        assert len(bytes.fromhex(manifest["secret"])) == 32
        assert {"--partial-credit", "--hide-hints-until-due", "--show-one-failure"} <= set(manifest["arguments"])
        instructions = archive.read("README.md").decode()
    assert "--seed SEED" in instructions and "so no two students share hidden configurations" in instructions


@pytest.mark.parametrize("args,message", [
    (["--layer", "conv", "--impl", "Conv2d", "--per-student-seeds", "--seed", "1"], "drop --seed"),
    (["--layer", "conv", "--impl", "file.py:Conv2d"], "--impl takes the NAME"),
    (["--layer", "conv", "--impl", "Conv2d", "--timeout", "0"], "Invalid value for '--timeout'"),
    (["--layer", "maxpool", "--impl", "Pool", "--filters", "2"], "pools have no filters"),
    (["--layer", "conv", "--impl", "Conv2d", "--sandbox", "bwrap"], "Invalid value for '--sandbox'"),
    (["--layer", "conv", "--impl", "Conv2d", "--layout", "chw"], "Invalid value for '--layout'"),
    (["--layer", "conv", "--impl", "Conv2d", "--output", "missing/a.zip"], "the folder"),
])
def test_bad_options_exit_2_with_one_line_and_write_nothing(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["autograder", *args])
    assert result.exit_code == 2 and result.stdout == "" and result.stderr.count("\n") == 1
    assert message in result.stderr and list(tmp_path.iterdir()) == []


def test_a_gradcheck_not_installed_from_source_is_refused_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(autograder, "ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["autograder", "--layer", "conv", "--impl", "Conv2d"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "is not one; install gradcheck from its source (pip install -e" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # builds a bundle
def test_run_autograder_writes_results_even_when_gradcheck_cannot_run(bundle, tmp_path):
    root = lay_out(bundle[0], tmp_path / "autograder", CLASS / "alice.py")
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], capture_output=True, text=True,
                          env=dict(os.environ, GRADCHECK_AUTOGRADER_ROOT=str(root),
                                   GRADCHECK_VENV=str(tmp_path / "no-venv")), timeout=60)
    results = json.loads((root / "results" / "results.json").read_text())
    assert done.returncode == 0 and results["score"] == 0.0 and results["tests"] == []
    assert results["output"].startswith("The autograder failed")


def lay_out(bundle, root, submission):
    """Gradescope's folders: source/ (the bundle, unpacked), submission/ (the student's file), results/."""
    (root / "submission").mkdir(parents=True)
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    for name in autograder.SCRIPTS:
        os.chmod(root / "source" / name, 0o755)
    shutil.copyfile(submission, root / "submission" / "layers.py")
    return root


# -- in a layout like Gradescope's, end to end ------------------------------------------

@pytest.fixture(scope="module")
def installed(bundle):
    """The bundle unpacked in a world-readable folder, and its venv made by setup_venv.sh (the part of setup.sh
    that needs no root) from the system's Python, as Gradescope's image has it: readable by the grading user."""
    python = shutil.which("python3", path="/usr/bin:/usr/local/bin")
    if python is None:
        pytest.skip("no system python3 to make the bundle's venv with")
    base = Path(tempfile.mkdtemp(prefix="gradcheck-gradescope-"))
    os.chmod(base, 0o755)
    source = lay_out(bundle[0], base / "image", CLASS / "alice.py") / "source"
    venv = base / "venv"
    done = subprocess.run(["bash", str(source / "setup_venv.sh")], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, GRADCHECK_PYTHON=python, GRADCHECK_VENV=str(venv)))
    assert done.returncode == 0, done.stderr
    assert "the same file for file as the one that built the bundle" in done.stdout
    yield base, source, venv
    shutil.rmtree(base)


def run_autograder(installed, submission, name, edit=None, wrap=()):
    """Gradescope's folders for ``submission`` (a file, as layers.py, or a folder) under the installed bundle,
    run_autograder run on them; the results.json it wrote."""
    base, source, venv = installed
    root = base / name
    shutil.copytree(source, root / "source")
    if submission.is_dir():
        shutil.copytree(submission, root / "submission")
    else:
        (root / "submission").mkdir(parents=True)
        shutil.copyfile(submission, root / "submission" / "layers.py")
    if edit:
        edit(root)
    done = subprocess.run([*wrap, "bash", str(root / "source" / "run_autograder")], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, GRADCHECK_AUTOGRADER_ROOT=str(root),
                                                GRADCHECK_VENV=str(venv)))
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def check_spec(results):
    """results.json as Gradescope's spec has it: the score is the tests' total; the scored tests are the
    checks, always visible; the tests holding hints, and the last one, saying the run's seed, are worth nothing
    and shown after the due date (the bundle hides hints).  (scored tests, hint tests)"""
    assert set(results) <= RESULT_KEYS and all(set(test) <= TEST_KEYS for test in results["tests"])
    assert results["score"] == sum(test["score"] for test in results["tests"])
    assert all(test["visibility"] in VISIBILITIES and isinstance(test["number"], str) for test in results["tests"])
    scored = [test for test in results["tests"] if test["max_score"] > 0]
    assert [test["name"].split(":")[0] for test in scored] == list(CONV.checks)
    assert {test["visibility"] for test in scored} == {"visible"} and sum(t["max_score"] for t in scored) == 8
    hidden = [test for test in results["tests"] if test["max_score"] == 0]
    assert all(test["visibility"] == "after_due_date" and test["score"] == 0 for test in hidden)
    assert hidden[-1]["name"] == "How this was graded" and "drawn with seed" in hidden[-1]["output"]
    return scored, hidden[:-1]


@pytest.mark.slow
def test_a_right_submission_gets_full_marks_graded_as_nobody_in_the_sandbox(installed):
    results = run_autograder(installed, CLASS / "alice.py", "alice")
    scored, hints = check_spec(results)
    assert results["score"] == 8.0 and hints == []
    first = results["output"].splitlines()[0]
    if os.geteuid() == 0 and sandbox_problem() is None:
        assert first == "Graded under the bubblewrap sandbox, as an unprivileged user (nobody), in a Gradescope " \
                        "container of its own."
    else:  # where bwrap cannot run, or not as root: what it says depends on the machine, but it says it
        assert first in {autograder._isolation(sandbox, os.geteuid() == 0) for sandbox in ("bwrap", "none")}
    assert "score 8 of 8" in results["output"] and "seed" not in results["output"]  # hidden with the hints


@pytest.mark.slow
def test_a_wrong_submission_loses_the_check_and_sees_hints_only_after_the_due_date(installed):
    results = run_autograder(installed, CLASS / "bob.py", "bob")
    scored, hints = check_spec(results)
    assert results["score"] == 7.0 and [test["score"] for test in scored] == [1, 1, 1, 0, 1, 1, 1, 1]
    (hint,) = hints
    assert hint["number"] == "4.1" and "batch" in hint["output"]
    assert hint["output"].splitlines()[-1].endswith("--impl layers.py:Conv2d --seed 0")  # as the student knows it
    assert "reproduce" not in results["output"].lower() and "score 7 of 8" in results["output"]


def with_students(secret, *ids):
    """An edit for run_autograder: a bundle with per-student seeds (``secret``), a submission of students ``ids``."""
    def edit(root):
        manifest = json.loads((root / "source" / autograder.MANIFEST).read_text())
        (root / "source" / autograder.MANIFEST).write_text(json.dumps(dict(manifest, secret=secret)))
        (root / "submission_metadata.json").write_text(json.dumps({"id": 1, "users": [{"id": i} for i in ids]}))
    return edit


@pytest.mark.slow
def test_each_student_is_graded_on_a_seed_of_their_own_said_only_after_the_due_date(installed):
    secret = "5e" * 32
    seen = {}
    for name, ids in (("bob1", [101]), ("bob2", [202, 303])):
        results = run_autograder(installed, CLASS / "bob.py", name, edit=with_students(secret, *ids))
        seed = autograder.student_seed(secret, {"users": [{"id": i} for i in ids]})
        visible = [results["output"]] + [t["output"] for t in results["tests"] if t["visibility"] == "visible"]
        assert not any("seed" in text for text in visible), visible
        (graded,) = [t for t in results["tests"] if t["name"] == "How this was graded"]
        assert graded["visibility"] == "after_due_date" and f"drawn with seed {seed}." in graded["output"]
        seen[name] = seed
    assert seen["bob1"] != seen["bob2"]
    missing = run_autograder(installed, CLASS / "bob.py", "nobody", edit=lambda root: with_students(secret)(root)
                             or (root / "submission_metadata.json").unlink())
    assert missing["score"] == 0 and "there is no submission_metadata.json" in missing["output"]


@pytest.mark.slow
def test_one_failing_configuration_can_be_shown_before_the_due_date_without_the_students_seed(installed):
    """A bundle with --show-one-failure and per-student seeds: the top-level output shows where dB fails and a
    command that checks that configuration alone; nothing visible holds the student's own seed."""
    secret = "5e" * 32

    def edit(root):
        with_students(secret, 404)(root)
        manifest = json.loads((root / "source" / autograder.MANIFEST).read_text())
        manifest["arguments"].append("--show-one-failure")
        (root / "source" / autograder.MANIFEST).write_text(json.dumps(manifest))

    results = run_autograder(installed, CLASS / "bob.py", "bob3", edit=edit)
    seed = autograder.student_seed(secret, {"users": [{"id": 404}]})
    assert "One place where dB fails (where else, why and the hints: after the due date): smallest failing " \
           "configuration: " in results["output"]
    command = results["output"].split("Reproduce it on your machine: ")[1].splitlines()[0]
    assert command.startswith("gradcheck conv --batch ") and "--impl layers.py:Conv2d --seed " in command
    visible = [results["output"]] + [t["output"] for t in results["tests"] if t["visibility"] == "visible"]
    assert not any(str(seed) in text for text in visible), visible


PYTHON_310 = sorted(Path("/root/.pyenv/versions").glob("3.10.*/bin/python3.10"))
CONTAINER = Path(__file__).parent / "container.sh"
HOSTILE = Path(__file__).parent / "hostile"
IN_CONTAINER = """
set -euo pipefail
root=/tmp/autograder
mkdir -p "$root/source" "$root/submission" "$root/results"
cd "$root/source" && "$PYTHON" -m zipfile -e /tmp/in/autograder.zip . && chmod 755 setup.sh setup_venv.sh run_autograder
GRADCHECK_PYTHON="$PYTHON" GRADCHECK_VENV=/tmp/opt/gradcheck-venv bash setup_venv.sh > /tmp/out/setup.log 2>&1
for name in "$@"; do
    rm -rf "$root/submission" "$root/results/results.json" && cp -r "/tmp/in/$name" "$root/submission"
    GRADCHECK_VENV=/tmp/opt/gradcheck-venv GRADCHECK_AUTOGRADER_ROOT="$root" bash "$root/source/run_autograder"
    sleep 2  # what the submission left behind gets time to act
    cp "$root/results/results.json" "/tmp/out/$name.json"
done
"""


def submission_of(folder, name, layers, *hostile):
    """A submission folder: layers.py (``layers``), and the hostile files named with the helpers they import."""
    (folder / name / "_layers").mkdir(parents=True)
    (folder / name / "layers.py").write_text(layers)
    for helper, path in (("_layers.py", "__init__.py"), ("wrong_db.py", "wrong_db.py"), ("_attacks.py", "attacks.py")):
        shutil.copyfile(HOSTILE / helper, folder / name / "_layers" / path)
    for attack in hostile:
        shutil.copyfile(HOSTILE / f"{attack}.py", folder / name / f"{attack}.py")


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or not PYTHON_310, reason="needs root and pyenv's Python 3.10")
def test_a_bundle_built_here_sets_up_and_grades_on_python_3_10_in_a_gradescope_container_without_bwrap(
        bundle, tmp_path):
    """The issue's simulation of Gradescope: setup_venv.sh and run_autograder as root, in a container
    (container.sh) where bwrap cannot mount a procfs, with the image's Python 3.10, for a bundle built here
    (Python 3.11).  Every submission is isolated as a user of its own; a wrong one that forges results or imports
    the reference layers (from the bundle's wheel) gets what its mistake deserves, and a loop, nothing."""
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    shutil.copyfile(bundle[0], inputs / "autograder.zip")
    alice, bob = (CLASS / name for name in ("alice.py", "bob.py"))
    submission_of(inputs, "right", alice.read_text())
    submission_of(inputs, "wrong", bob.read_text())
    submission_of(inputs, "looping", alice.read_text() + "\n\n_Right = Conv2d\n\n\nclass Conv2d(_Right):\n"
                  "    def forward(self, x):\n        while True:\n            pass\n")
    for attack in ("forge_results", "import_reference", "escape_after_run"):
        submission_of(inputs, attack, f"from {attack} import Convolution\n\nConv2d = Convolution\n", attack)
    names = ["right", "wrong", "looping", "forge_results", "import_reference", "escape_after_run"]
    done = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "bash", str(CONTAINER),
                           "--bind", str(inputs), "/tmp/in", "--bind", str(out), "/tmp/out", "--",
                           "bash", "-c", IN_CONTAINER, "container", *names],
                          capture_output=True, text=True, timeout=1500, env=dict(os.environ, PYTHON=str(PYTHON_310[0])))
    setup = (out / "setup.log").read_text() if (out / "setup.log").exists() else ""
    assert done.returncode == 0, done.stderr + setup
    assert "the same file for file as the one that built the bundle" in setup
    assert "submissions will be graded each as an unprivileged user of its own (bwrap cannot run here: " in setup
    results = {name: json.loads((out / f"{name}.json").read_text()) for name in names}
    for name, data in results.items():
        check_spec(data)
        lines = data["output"].splitlines()
        assert lines[0] == "Graded as an unprivileged user of its own, in a Gradescope container of its own.", name
        assert lines[2].startswith("Isolated without the bwrap sandbox (bwrap cannot run here: its sandbox exited "
                                   "with status 1: bwrap: Can't mount proc on /newroot/proc: Operation not permitted)")
        assert data["extra_data"]["sandbox"] == "user" and "/tmp/" not in json.dumps(data), name
    assert results["right"]["score"] == 8.0 and results["wrong"]["score"] == 7.0
    assert results["looping"]["score"] == 0.0 and "timed out: exceeded the time limit of 20 s during forward" in \
        results["looping"]["output"]
    for attack in ("forge_results", "import_reference", "escape_after_run"):
        tests = {test["name"].split(":")[0]: test["score"] for test in results[attack]["tests"]}
        assert results[attack]["score"] == 7.0 and tests["dB"] == 0.0, attack  # wrong_db's mistake, no more


@pytest.mark.slow
@pytest.mark.skipif(not PYTHON_310, reason="needs pyenv's Python 3.10")
def test_a_setup_that_fails_says_why(bundle, tmp_path):
    """A pin that no release for the Python at hand meets (numpy 2.4 needs 3.11), as a bundle used to pin it,
    fails the setup, which shows pip's reason instead of hiding it."""
    source = lay_out(bundle[0], tmp_path / "autograder", CLASS / "alice.py") / "source"
    numpy = metadata.version("numpy")
    constraints = source / "constraints.txt"
    constraints.write_text(re.sub(r"^numpy==.*$", f"numpy=={numpy}", constraints.read_text(), flags=re.MULTILINE))
    done = subprocess.run(["bash", str(source / "setup_venv.sh")], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, GRADCHECK_PYTHON=str(PYTHON_310[0]), GRADCHECK_VENV=str(tmp_path / "v")))
    said = done.stdout + done.stderr  # pip's reason, which --quiet would hide, is on its stdout
    assert done.returncode != 0 and "ResolutionImpossible" in said
    assert "The conflict is caused by" in said and f"The user requested (constraint) numpy=={numpy}" in said


@pytest.mark.slow
def test_when_grading_fails_the_results_say_so_with_score_0(installed):
    def break_the_options(root):
        manifest = root / "source" / autograder.MANIFEST
        data = json.loads(manifest.read_text())
        data["arguments"] += ["--examples", "0"]
        manifest.write_text(json.dumps(data))

    results = run_autograder(installed, CLASS / "alice.py", "broken", break_the_options)
    assert results["score"] == 0.0 and results["tests"] == []
    assert results["output"].startswith("The autograder could not grade this submission: gradcheck grade exited "
                                        "with status 2 (gradcheck: error: Invalid value for '--examples'")
    assert results["output"].endswith("This is not a problem with your code: tell your instructor.")


@pytest.mark.slow
def test_setup_refuses_a_gradcheck_that_is_not_the_one_that_built_the_bundle(installed):
    base, source, venv = installed
    copy = base / "tampered"
    shutil.copytree(venv, copy, symlinks=True)
    site = next(copy.glob("lib/python3*/site-packages"))
    with open(site / "reference_layers" / "conv.py", "a") as stream:
        stream.write("# edited after the bundle was built\n")
    done = subprocess.run([str(copy / "bin" / "python"), "-I", "-m", "gradcheck.grading.autograder", "verify",
                           str(source / autograder.MANIFEST)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "differs in reference_layers/conv.py" in done.stderr


# -- GitHub Classroom ----------------------------------------------------------------

WORKFLOW = CLASSROOM / ".github" / "workflows" / "classroom.yml"


def workflow():
    """The workflow's one job, as GitHub reads it."""
    from ruamel.yaml import YAML

    (job,) = YAML(typ="safe").load(WORKFLOW.read_text())["jobs"].values()
    return job


def test_the_classroom_workflow_is_valid_and_what_classroom_expects():
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    job = workflow()
    assert job["if"] == "github.actor != 'github-classroom[bot]'"  # the bot's first commit is not graded
    reporter = job["steps"][-1]
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    for runner in reporter["with"]["runners"].split(","):  # the reporter reads RUNNER_RESULTS for each runner
        assert reporter["env"][f"{runner.upper()}_RESULTS"] == f"${{{{ steps.{runner}.outputs.result }}}}"
        assert any(step.get("id") == runner for step in job["steps"])


def run_steps(repository, steps, path):
    """The workflow's ``run:`` steps in ``repository`` as a runner runs them (bash -e, GITHUB_OUTPUT); each step's
    outputs by its id."""
    outputs = {}
    for step in steps:
        written = repository / ".github_output"
        written.write_text("")
        done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repository, capture_output=True, text=True,
                              timeout=600, env=dict(os.environ, PATH=path, GITHUB_OUTPUT=str(written)))
        assert done.returncode == 0, f"{step['run']}\n{done.stdout}\n{done.stderr}"
        outputs[step.get("id")] = dict(line.split("=", 1) for line in written.read_text().splitlines())
    return outputs


def reporter_points(job, outputs):
    """What Classroom's grading reporter makes of the runners' outputs: (points, max points, statuses, tests)."""
    runners = job["steps"][-1]["with"]["runners"].split(",")
    results = [json.loads(base64.b64decode(outputs[runner]["result"])) for runner in runners]
    points = sum(test["score"] for result in results for test in result["tests"])
    return points, sum(result["max_score"] for result in results), [r["status"] for r in results], \
        [test for result in results for test in result["tests"]]


def classroom_points():
    """Each check's points, as the template's course file sets them (a check it leaves out: 1)."""
    return dict(dict.fromkeys(CONV.checks, 1), **course.load(CLASSROOM / "course.toml").points)


def grade_as_classroom(repository, student):
    """The workflow's grading step, as it is written, on ``student`` as the repository's layers.py, with this
    gradcheck: what the reporter reads ((points, max points, statuses, tests): see reporter_points)."""
    job = workflow()
    shutil.copyfile(student, repository / "layers.py")
    grading = [step for step in job["steps"] if "gradcheck grade" in step.get("run", "")]
    outputs = run_steps(repository, grading, os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    return reporter_points(job, outputs)


@pytest.mark.parametrize("student,points", [(CLASSROOM / "layers.py", 2), (CLASS / "alice.py", 13)],
                         ids=["template", "finished"])
@pytest.mark.slow
def test_the_classroom_workflow_gives_the_course_files_points_per_check(tmp_path, student, points):
    shutil.copytree(CLASSROOM, tmp_path / "repository")
    got, most, statuses, tests = grade_as_classroom(tmp_path / "repository", student)
    assert (got, most) == (points, sum(classroom_points().values())) and statuses == ["pass" if got == most else "fail"]
    assert [test["score"] for test in tests] == [classroom_points()[name] * (test["status"] == "pass")
                                                for name, test in zip(CONV.checks, tests)]
    if points < most:  # the template's backward is not written yet: forward and weights-live pass, dX says why
        assert [test["name"].split(":")[0] for test in tests if test["status"] == "pass"] == ["forward", "weights-live"]
        (dx,) = [test for test in tests if test["name"].startswith("dX")]
        assert dx["status"] == "fail" and "NotImplementedError" in dx["message"]


@pytest.mark.slow
def test_the_classroom_workflow_runs_in_a_fresh_repository(tmp_path):
    """Every ``run:`` step in order, in a copy of the template holding the course's wheel, with a Python of its
    own (a fresh venv: the install step installs the wheel and its dependencies), on a finished layers.py."""
    repository = tmp_path / "repository"
    shutil.copytree(CLASSROOM, repository)
    shutil.copyfile(CLASS / "alice.py", repository / "layers.py")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(repository / "wheels"),
                            str(REPOSITORY)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    job = workflow()
    steps = [step for step in job["steps"] if "run" in step]
    outputs = run_steps(repository, steps, os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"]))
    most = sum(classroom_points().values())
    assert reporter_points(job, outputs)[:3] == (most, most, ["pass"])


# -- a course, end to end --------------------------------------------------------------------------------------

COURSE = """
layer = "conv"
impl = "Conv2d"

[geometry]
stride = "1..2"

[points]
forward = 2
dX = 4
dW = 4
dB = 2

[visibility]
dW = "after_due_date"
"""
# student -> (their code: a file of examples/class, or a hostile submission computing wrong_db's mistake unless its
# attack works, the checks they fail)
STUDENTS = {"alice": ("alice.py", []), "bob": ("bob.py", ["dB"]), "erin": ("erin.py", ["dB"]),
            "dave": ("dave.py", ["dX"]), "forger": ("forge_results", ["dB"])}


def with_course(text, secret, student_id):
    """An edit for run_autograder: the bundle as ``gradcheck autograder --course --per-student-seeds`` makes it
    (test_course.py checks that it does), for a submission of student ``student_id``."""
    def edit(root):
        (root / "source" / autograder.COURSE).write_text(text)
        manifest = json.loads((root / "source" / autograder.MANIFEST).read_text())
        (root / "source" / autograder.MANIFEST).write_text(json.dumps(dict(manifest, course=autograder.COURSE)))
        with_students(secret, student_id)(root)
    return edit


@pytest.fixture(scope="module")
def the_class(tmp_path_factory):
    """Each student's submission: a file, or a folder holding layers.py and the hostile helpers."""
    folder = tmp_path_factory.mktemp("class")
    paths = {}
    for name, (code, _) in STUDENTS.items():
        if code.endswith(".py"):
            paths[name] = CLASS / code
        else:
            submission_of(folder, name, f"from {code} import Convolution\n\nConv2d = Convolution\n", code)
            paths[name] = folder / name
    return paths


def visible_before_the_due_date(results):
    return [results["output"]] + [test["output"] for test in results["tests"] if test["visibility"] == "visible"]


@pytest.mark.slow
def test_a_course_graded_through_gradescope_with_its_points_and_visibility(installed, the_class):
    """Each student of a small class through the bundle (hints held back, per-student seeds, the course file's
    points and visibility): scores, and what they see before and after the due date."""
    points = dict(forward=2, dX=4, dW=4, dB=2, **dict.fromkeys(CONV.checks[4:], 1))
    secret = "c0" * 32
    seeds = set()
    for number, (name, (_, failing)) in enumerate(STUDENTS.items()):
        results = run_autograder(installed, the_class[name], f"course-{name}", edit=with_course(COURSE, secret, number))
        tests = {test["name"].split(":")[0]: test for test in results["tests"] if "." not in test["number"]}
        assert results["score"] == sum(points.values()) - sum(points[check] for check in failing), name
        assert [(tests[check]["max_score"], tests[check]["score"] > 0) for check in CONV.checks] == [
            (points[check], check not in failing) for check in CONV.checks], name
        assert tests["dW"]["visibility"] == "after_due_date"
        shown = sum(points.values()) - points["dW"]
        assert f"score {shown - sum(points[c] for c in failing)} of {shown} on the checks shown now (the score of " \
               "dW, worth 4 more, is not shown now)" in results["output"]
        for text in visible_before_the_due_date(results):  # no seed, no configuration, no command that finds one
            forbidden = ("seed", "gradcheck conv --", "--impl", "--size", "--stride", "N=")
            assert not any(word in text for word in forbidden), text
        seed = autograder.student_seed(secret, {"users": [{"id": number}]})
        assert f"drawn with seed {seed}." in tests["How this was graded"]["output"]
        for check in failing:  # after the due date: where it fails, the command that shows it
            (details,) = [test for test in results["tests"] if test["name"].startswith(f"{check}: where it fails")]
            assert details["visibility"] == "after_due_date" and "smallest failing configuration" in details["output"]
            assert "gradcheck conv --batch " in details["output"] and "--impl layers.py:Conv2d" in details["output"]
        seeds.add(seed)
    assert len(seeds) == len(STUDENTS)


@pytest.mark.slow
def test_a_course_graded_through_classroom_with_its_points(tmp_path):
    """The template's workflow steps on each student's file (hostile code aside: in Classroom the student owns the
    repository, its workflow and the machine it runs on), with the template's course file."""
    points = classroom_points()
    for name, (code, failing) in STUDENTS.items():
        if not code.endswith(".py"):
            continue
        shutil.copytree(CLASSROOM, tmp_path / name)
        got, most, statuses, tests = grade_as_classroom(tmp_path / name, CLASS / code)
        assert (got, most) == (sum(points.values()) - sum(points[c] for c in failing), sum(points.values())), name
        assert statuses == ["fail" if failing else "pass"]


@pytest.mark.slow
def test_a_course_graded_at_once_exits_1_below_full_marks_and_groups_the_class_by_cause(tmp_path, the_class):
    (tmp_path / "course.toml").write_text("seed = 0\nexamples = 10\n" + COURSE)
    done = gradcheck("grade", *the_class.values(), "--course", tmp_path / "course.toml", "--format", "json",
                     "--fail-under", "full", "--output", tmp_path / "class.json")
    failing = [name for name, (_, checks) in STUDENTS.items() if checks]
    assert done.returncode == 1 and done.stderr == (f"gradcheck: {len(failing)} of {len(STUDENTS)} submissions "
                                                    f"scored below full marks (--fail-under full): "
                                                    f"{', '.join(failing)}\n")
    data = json.loads((tmp_path / "class.json").read_text())
    assert [(s["name"], s["score"], s["max_score"]) for s in data["submissions"]] == [
        ("alice", 16, 16), ("bob", 14, 16), ("erin", 14, 16), ("dave", 12, 16), ("forger", 14, 16)]
    groups = {cause["label"]: cause["students"] for cause in data["causes"]}
    assert groups["dB fails only when batch > 1"] == ["bob", "erin"]
    assert groups["dX fails only when stride > 1"] == ["dave"]
    assert len(groups) == 3 and [cause["students"] for cause in data["causes"]][0] == ["bob", "erin"]
