"""Every command and Python block in README.md is run here, so the documentation cannot drift.

In ```console blocks, a line starting with "$ " is a command; the lines after
it, up to the next command, are its exact output (when there are any); a
trailing "# exit N" says which exit code it must end with (default 0).  The
Contributing section's install and test commands are what .ci/run runs, so
they are checked against it instead of being run again from inside the test
run.  ```sh blocks (a student's install from a course's wheel) are not run.
Benchmarks take minutes (they are marked slow) and may exit 1 when a timing
target is missed on a busy machine; without torch they only print their own
times; they must still run to the end.  ```python blocks are run as scripts.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
RUN_BY_CI = ('pip install -e ".[test]"', "pytest", "pytest -m slow")
EXIT = re.compile(r"\s+# exit (\d+)$")


def blocks(language, text=README):
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def section(title):
    """The README's section ``## title``, up to the next one."""
    return re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.MULTILINE | re.DOTALL).group(1)


def commands(text=README):
    """(command, expected exit code, expected output or None) for every console block of ``text``."""
    found = []
    for block in blocks("console", text):
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            line, _, output = chunk.partition("\n")
            match = EXIT.search(line)
            command = EXIT.sub("", line)
            found.append((command, int(match.group(1)) if match else 0, output.rstrip() or None))
    return found


def test_the_readme_shows_commands_and_code():
    assert len(commands()) >= 20 and len(blocks("python")) >= 3


def test_the_readme_starts_with_what_a_student_does():
    first = re.search(r"^## (.*)$", README, re.MULTILINE).group(1)
    assert first == "Check your layer" and "pip install gradcheck-" in section(first)
    assert "pytest" not in section(first) and "-e " not in section(first)


def test_contributing_is_what_ci_runs():
    contributing = [command for command, _, _ in commands(section("Contributing"))]
    assert contributing == ['pip install -e ".[test]"', "gradcheck conv --stride 2 --pad 1", "pytest", "pytest -m slow"]
    for command in RUN_BY_CI:
        assert re.search(rf"^{re.escape(command)}(\s+#.*)?$", CI_RUN, re.MULTILINE), f".ci/run does not run {command}"


@pytest.fixture
def workdir(tmp_path):
    """A scratch folder that sees the repository's examples, benchmarks and tests, so outputs land here."""
    for name in ("examples", "benchmarks", "tests"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


def environment():
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    env.pop("CI", None)  # the README's runs give their seeds explicitly
    return env


SLOW = ("python benchmarks/", "gradcheck grade ", "gradcheck autograder ", "pytest examples ")
# Run with smaller arguments by tests/test_bench_scripts.py (seconds, where these take minutes on 2 cores and the
# detection sweep repeats tests/test_mutants.py's): their figures come from a run by hand, as the README says.
SMOKE_TESTED = ("python benchmarks/bench_detection.py --seeds 10", "python benchmarks/bench_accuracy.py",
                "python benchmarks/bench_grading.py", "python benchmarks/bench_engine.py",
                "python benchmarks/bench_catalogue.py")


def cases():
    """The README's commands but those .ci/run runs itself and those SMOKE_TESTED.  The benchmarks (minutes), the
    grading commands (sandboxes, a time-out), the plugin's run of examples/ (a plain pytest runs tests/ only: this
    command is how the slow suite runs examples/test_examples.py) and the conv and pooling checks (one to five
    seconds each; tests/test_cli.py and tests/test_loading.py check such layers in the fast suite) are marked slow:
    the fast suite runs the other commands (the catalogue's, gradcheck fn and net, --help)."""
    return [pytest.param(command, code, output, id=command,
                         marks=[pytest.mark.slow] if _slow(command) else [])
            for command, code, output in commands() if command not in RUN_BY_CI + SMOKE_TESTED]


def _slow(command):
    checks = "gradcheck conv " in command or "gradcheck pool " in command
    return command.startswith(SLOW) or (checks and "--help" not in command)


@pytest.mark.parametrize("command,code,output", cases())
def test_command(workdir, command, code, output):
    result = subprocess.run(command, shell=True, cwd=workdir, env=environment(), capture_output=True, text=True,
                            timeout=900)
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown, shown
    if command.startswith("python benchmarks/"):
        assert result.returncode in (0, 1), shown  # 1: a timing target missed on this machine
        assert "PASS" in shown or "FAIL" in shown or "needs torch" in shown  # a verdict, or why there is none
        return
    assert result.returncode == code, shown
    if output is not None:
        assert without_roundoff("\n".join(line.rstrip() for line in shown.rstrip().splitlines())) == \
            without_roundoff(output)


ROUNDOFF = re.compile(r"\b\d\.\d\de-(0[6-9]|[1-9]\d)\b")  # an error below 1e-5 as reports print it (2.33e-10)


def without_roundoff(text):
    """``text`` with each error below 1e-5 made one word: the rounding of a right layer's sums differs with the
    machine's BLAS and SIMD (2.91e-10 where the README was made, 2.33e-10 on an AVX2-only AMD EPYC), its
    failures do not."""
    return ROUNDOFF.sub("(roundoff)", text)


@pytest.mark.parametrize("number", range(len(blocks("python"))))
def test_python_block(workdir, number):
    result = subprocess.run([sys.executable, "-c", blocks("python")[number]], cwd=workdir, env=environment(),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
