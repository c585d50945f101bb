"""Gradescope autograder bundles: ``gradcheck autograder`` builds one; in Gradescope, ``run_autograder`` runs ``run``.

A bundle is a zip with, at its root:

``setup.sh``
    Gradescope runs it once, as root, when it builds the autograder's image:
    installs Python 3 and libseccomp (which the sandbox's seccomp filter
    loads) with apt-get, then runs ``setup_venv.sh``.
``setup_venv.sh``
    makes a venv (``$GRADCHECK_VENV``, default ``/opt/gradcheck-venv``, with
    ``$GRADCHECK_PYTHON``, default ``python3``) that only its owner can enter,
    installs the wheel into it, its dependencies pinned by
    ``constraints.txt``, checks (``verify``) that the installed gradcheck is,
    file for file, the one that built the bundle, and says how submissions
    will be isolated here.
``run_autograder``
    Gradescope runs it for every submission: ``python -m
    gradcheck.grading.autograder run`` in the venv (``run``), which writes
    ``results/results.json`` under ``$GRADCHECK_AUTOGRADER_ROOT`` (default
    ``/autograder``) whatever happens.
``gradcheck-VERSION-py3-none-any.whl``
    the running gradcheck, built from its source tree and checked against it.
``constraints.txt``
    ``name==version`` of every package installed where the bundle was built,
    each for the Pythons it supports (``constraints``).
``gradcheck-autograder.json``
    the manifest: gradcheck's version, the ``gradcheck grade`` options with
    the seed frozen, the sandbox choice, and the sha256 of every file of the
    wheel's packages; with per-student seeds, the course secret each
    submission's seed is derived from (``student_seed``).
``course.toml``
    with ``--course``, the course file: ``run`` grades with it, for its
    points and visibility per check.
``README.md``
    what the instructor needs to know.

Inside Gradescope the container is the boundary between students.  Within it,
``run`` (as root, as Gradescope runs it) closes the bundle to other users and
grades with ``gradcheck grade --sandbox auto``: the student's code runs
under bwrap as ``nobody`` where the container lets bwrap run, and otherwise
as an unprivileged user of its own (``users``), which can read none of the
grader's files, the bundle and the results; ``setup_venv.sh`` makes the
grader's venv readable by root only.  The results' output says which
isolation ran, and results.json is written by ``run`` alone, after every
process of the student's code has been killed.
"""
import argparse
import email
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from importlib import metadata

from ..config import pin_args
from ..kinds import windowed
from .grade import PINS, prepare
from .layers import layers_text, prepare_layers
from .sandbox import ROOT, sandbox_problem, user_problem

MANIFEST = "gradcheck-autograder.json"
COURSE = "course.toml"  # the course file, in the bundle
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bundle")
SCRIPTS = ("setup.sh", "setup_venv.sh", "run_autograder")  # executable
PACKAGES = ("gradcheck", "reference_layers")  # what the wheel holds, and what is checked against the source
DEFAULT_ROOT = "/autograder"
BUILD_LEFTOVERS = ("build", "dist", "*.egg-info", "__pycache__", ".git", ".hypothesis", ".pytest_cache")
REQUIRES_PYTHON = re.compile(r"\s*(===|~=|==|!=|<=|>=|<|>)\s*(\S+)\s*")  # one clause of a Requires-Python


class BundleError(Exception):
    """The bundle cannot be built here; the message says why and how to fix it."""


class AutograderFailed(Exception):
    """The submission could not be graded; the message says why.  ``theirs`` when the student's code may be why
    (grading was killed or crashed while it ran), else it is the autograder's problem."""

    def __init__(self, message, theirs=False):
        super().__init__(message)
        self.theirs = theirs


@dataclass
class Bundle:
    """A built bundle: the zip's bytes and what it freezes."""

    data: bytes
    version: str
    arguments: list
    seed_chosen: bool
    per_student: bool = False
    course: str = None  # the course file's path, when the bundle holds one

    def summary(self):
        at = self.arguments.index("--seed")
        course = "" if self.course is None else f"; points and visibility per check from {self.course}"
        if self.per_student:
            return (f"gradcheck {self.version}, {' '.join(self.arguments[:at] + self.arguments[at + 2:])} (each "
                    "submission's seed derived from a secret of this bundle and its students' Gradescope ids)"
                    + course)
        return (f"gradcheck {self.version}, {' '.join(self.arguments)}"
                + (f" (seed {self.arguments[at + 1]} chosen now, frozen into the bundle)" if self.seed_chosen else "")
                + course)


def build(layers, *, sandbox="auto", hide_hints=False, show_one=False, seed=None, per_student=False, course=None,
          **options):
    """The bundle that grades every submission for ``layers`` ({layer: NAME}: one, or several layers
    graded together as ``grading.layers`` does) with these options (those of ``grade.prepare``); with
    ``per_student``, each submission with a seed of its own (``student_seed``); with a ``course``
    (``course.Course``), its points and visibility per check (the file goes into the bundle as COURSE).

    Raises ValueError (or TypeError) for bad options, BundleError when the
    running gradcheck cannot be packed (not installed from a source tree, or
    its wheel does not build or differs from it).
    """
    if sandbox not in ("auto", "none"):
        raise ValueError(f"sandbox must be auto or none, got {sandbox!r}")
    if per_student and seed is not None:
        raise ValueError("--per-student-seeds derives every submission's seed from the students' ids: drop --seed")
    if course is not None:
        course.for_layer(",".join(layers))
    points = course and course.points
    if len(layers) == 1:
        (layer, impl), = layers.items()
        settings = prepare(layer, impl, seed=seed, sandbox=sandbox, points=points, **options)
        graded = ["--layer", layer, "--impl", impl, "--convention", settings.convention, "--layout",
                  settings.layout, *pin_args(settings.dimensions)]
    else:
        chosen = prepare_layers(layers, points=points, seed=seed, sandbox=sandbox,
                                geometry=course and course.geometry, **options)
        settings = next((chosen[kind] for kind in windowed() if kind in chosen), next(iter(chosen.values())))
        graded = ["--layers", layers_text(layers)]
        if settings.layer in windowed():  # conv's and pooling's options, theirs alone; their own tables: the course's
            graded += ["--convention", settings.convention, "--layout", settings.layout,
                       *pin_args({name: options[name] for name in PINS if options.get(name) is not None})]
    arguments = graded + [
        "--examples", str(settings.examples), "--seed", str(settings.seed), "--method", settings.method,
        "--precision", settings.precision, "--timeout", f"{settings.limits.timeout:g}",
        "--memory", str(settings.limits.memory)] + (["--divisible"] if settings.divisible else []) + \
        (["--backward", settings.backward] if settings.backward else []) + \
        (["--partial-credit"] if settings.partial else []) + \
        (["--hide-hints-until-due"] if hide_hints else []) + (["--show-one-failure"] if show_one else [])
    version = metadata.version("gradcheck")
    with tempfile.TemporaryDirectory(prefix="gradcheck-wheel-") as folder:
        wheel = _build_wheel(folder)
        files = _check_wheel(wheel, version)
        manifest = {"gradcheck": version, "wheel": os.path.basename(wheel), "python": _python(),
                    "arguments": arguments, "sandbox": sandbox, "files": files}
        if per_student:
            manifest["secret"] = secrets.token_hex(32)
        if course is not None:
            manifest["course"] = COURSE
        data = _zip(wheel, manifest, _constraints(), course and course.text)
    return Bundle(data, version, arguments, seed is None, per_student, course and course.path)


def student_seed(secret, metadata):
    """The seed of a submission: HMAC-SHA256 of its students' Gradescope user ids (``metadata``, Gradescope's
    submission_metadata.json), keyed by the bundle's ``secret``, as a 32-bit number.  The same students get the
    same seed on every resubmission; without the secret (which only root can read in the container) no one can
    compute anyone's."""
    users = metadata.get("users") if isinstance(metadata, dict) else None
    ids = sorted(str(user["id"]) for user in users or () if isinstance(user, dict) and "id" in user)
    if not ids:
        raise AutograderFailed("submission_metadata.json names no student (users[].id): per-student seeds need it")
    digest = hmac.new(bytes.fromhex(secret), ",".join(ids).encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big")


def _source_tree():
    """The source tree the running gradcheck was installed from (editable), or BundleError."""
    if not any(os.path.isfile(os.path.join(ROOT, name)) for name in ("pyproject.toml", "setup.py")):
        raise BundleError(f"gradcheck autograder packs the running gradcheck as a wheel built from its source "
                          f"tree, but it runs from {ROOT}, which is not one; install gradcheck from its source "
                          f"(pip install -e /path/to/gradcheck) and run it again")
    return ROOT


def _build_wheel(folder):
    """A wheel of the running gradcheck, built by pip in ``folder`` from a copy of its source tree (setuptools
    writes build/ into the tree it builds, and packs what an earlier build left there); its path."""
    source = os.path.join(folder, "source")
    shutil.copytree(_source_tree(), source, ignore=shutil.ignore_patterns(*BUILD_LEFTOVERS))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", folder,
                           source], capture_output=True, text=True)
    wheels = [name for name in os.listdir(folder) if name.endswith(".whl")]
    if done.returncode != 0 or len(wheels) != 1:
        said = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise BundleError(f"pip could not build a wheel of gradcheck from {ROOT}: "
                          f"{said[-1].strip() if said else f'exit status {done.returncode}'}")
    return os.path.join(folder, wheels[0])


def _check_wheel(wheel, version):
    """{path: sha256} of the wheel's package files, each checked byte for byte against the running source, and
    the wheel's version against the running version; BundleError on any difference."""
    with zipfile.ZipFile(wheel) as archive:
        names = [name for name in archive.namelist() if name.split("/")[0] in PACKAGES and not name.endswith("/")]
        metadata_file = next((name for name in archive.namelist() if name.endswith(".dist-info/METADATA")), None)
        wheel_version = metadata_file and email.message_from_bytes(archive.read(metadata_file))["Version"]
        if wheel_version != version:
            raise BundleError(f"the wheel built from {ROOT} is gradcheck {wheel_version}, but {version} is running; "
                              "reinstall gradcheck from that source tree (pip install -e) and run it again")
        files = {name: hashlib.sha256(archive.read(name)).hexdigest() for name in names}
    running = package_files(ROOT)
    if set(running) - set(files):
        raise BundleError(f"the wheel built from {ROOT} lacks {sorted(set(running) - set(files))[0]}; check the "
                          "package data in its setup.cfg")
    for name, digest in files.items():
        if running.get(name) != digest:
            raise BundleError(f"the wheel built from {ROOT} differs from the running gradcheck in {name}; "
                              "reinstall gradcheck from that source tree (pip install -e) and run it again")
    return files


def package_files(root):
    """{path relative to ``root``: sha256} of the files of gradcheck's packages under ``root`` (no bytecode)."""
    found = {}
    for package in PACKAGES:
        for folder, subfolders, names in os.walk(os.path.join(root, package)):
            subfolders[:] = [name for name in subfolders if name != "__pycache__"]
            for name in names:
                path = os.path.join(folder, name)
                with open(path, "rb") as stream:
                    found[os.path.relpath(path, root).replace(os.sep, "/")] = hashlib.sha256(stream.read()).hexdigest()
    return found


def _constraints():
    """``name==version`` of every distribution installed here but gradcheck, each for the Pythons its release
    supports (its Requires-Python, as an environment marker): pip applies those it installs, where they apply, and
    chooses the others itself, so that the bundle sets up on every Python gradcheck supports."""
    pins = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name and name.lower() != "gradcheck":
            marker = _marker(distribution.metadata["Requires-Python"])
            pins.setdefault(name.lower(), f"{name}=={distribution.version}" + (f"; {marker}" if marker else ""))
    return "".join(f"{pin}\n" for _, pin in sorted(pins.items()))


def _marker(requires_python):
    """The environment marker that holds on the Pythons a Requires-Python (">=3.11", ">=3.8, !=3.9.0") allows:
    "" for any Python, and the builder's own minor version when it cannot be read."""
    clauses = [REQUIRES_PYTHON.fullmatch(clause) for clause in (requires_python or "").split(",") if clause.strip()]
    if not all(clauses):
        return f'python_version == "{_python()}"'
    return " and ".join(f'python_full_version {clause[1]} "{clause[2]}"' for clause in clauses)


def _python():
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _zip(wheel, manifest, constraints, course=None):
    """The bundle's bytes: scripts (executable) and README from TEMPLATES, the wheel, constraints, manifest and the
    ``course`` file's text, if any."""
    seeds = ("with the seed (SEED) of each submission its own, derived from its students' Gradescope ids and a "
             "secret of this bundle (in gradcheck-autograder.json: keep the zip private), so no two students share "
             "hidden configurations" if "secret" in manifest else
             "with the seed frozen, so every student meets the same configurations")
    arguments = list(manifest["arguments"])
    if "secret" in manifest:
        arguments[arguments.index("--seed") + 1] = "SEED"
    if course is not None:
        arguments += ["--course", COURSE]
    values = dict(version=manifest["gradcheck"], wheel=manifest["wheel"], python=manifest["python"], seeds=seeds,
                  command=" ".join(["gradcheck", "grade", "SUBMISSION", *arguments, "--sandbox",
                                    manifest["sandbox"], "--format", "gradescope"]))
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in (*SCRIPTS, "README.md"):
            with open(os.path.join(TEMPLATES, name), encoding="utf-8") as template:
                _add(archive, name, _Template(template.read()).substitute(values).encode(),
                     0o755 if name in SCRIPTS else 0o644)
        with open(wheel, "rb") as built:
            _add(archive, manifest["wheel"], built.read())
        _add(archive, "constraints.txt", constraints.encode())
        _add(archive, MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
        if course is not None:
            _add(archive, COURSE, course.encode())
    return stream.getvalue()


class _Template(string.Template):
    """The bundle's templates say %%{name}: $ is the shell's."""

    delimiter = "%%"


def _add(archive, name, data, mode=0o644):
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


# -- in Gradescope's container ------------------------------------------------

def verify(manifest_path):
    """Check that the installed gradcheck is the one that built the bundle, file for file (exit status 1 if
    not), and say how submissions will be isolated here."""
    with open(manifest_path, encoding="utf-8") as stream:
        manifest = json.load(stream)
    installed = package_files(ROOT)
    wrong = sorted(name for name, digest in manifest["files"].items() if installed.get(name) != digest)
    if metadata.version("gradcheck") != manifest["gradcheck"] or wrong:
        print(f"gradcheck autograder: the installed gradcheck {metadata.version('gradcheck')} is not the one that "
              f"built this bundle ({manifest['gradcheck']}; differs in {', '.join(wrong[:3]) or 'its version'})",
              file=sys.stderr)
        return 1
    print(f"gradcheck {manifest['gradcheck']} installed, the same file for file as the one that built the bundle")
    if manifest["sandbox"] == "auto":
        print(_isolation_here())
    return 0


def _isolation_here():
    """How ``gradcheck grade --sandbox auto`` would isolate submissions here, or why it could not."""
    problem = sandbox_problem()
    if problem is None:
        return "submissions will be graded under the bubblewrap sandbox"
    fallback = user_problem()
    if fallback is None:
        return f"submissions will be graded each as an unprivileged user of its own ({problem})"
    return f"warning: submissions cannot be isolated here: {problem}, and {fallback}"


def run(root):
    """Grade ``root``/submission with the options of ``root``/source's manifest into ``root``/results/results.json.

    Results are always written, last, by this process alone: when the
    submission cannot be graded, they say so with score 0, and whether it is
    a problem of the autograder's or may be the student's code's.
    """
    started = time.monotonic()
    try:
        with open(os.path.join(root, "source", MANIFEST), encoding="utf-8") as stream:
            manifest = json.load(stream)
        results = _grade(manifest, root)
    except (AutograderFailed, OSError, ValueError, KeyError) as error:
        theirs = isinstance(error, AutograderFailed) and error.theirs
        results = {"score": 0.0, "execution_time": int(round(time.monotonic() - started)), "tests": [],
                   "output": f"The autograder could not grade this submission: {error}. "
                             + ("If your code does not, tell your instructor." if theirs else
                                "This is not a problem with your code: tell your instructor.")}
    folder = os.path.join(root, "results")
    os.makedirs(folder, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False, suffix=".tmp") as stream:
        json.dump(results, stream, indent=2)
    os.chmod(stream.name, 0o644)
    os.replace(stream.name, os.path.join(folder, "results.json"))
    return results


def _grade(manifest, root):
    """``gradcheck grade`` of a copy of ``root``/submission with the frozen options; the results, with the
    isolation statement first in their output.

    As root (Gradescope runs it so) the bundle is first closed to other
    users: its wheel holds the reference layers.  The copy and the work
    folder are open to no one but root, except that the submission's user
    may cross the work folder to its sandbox (made in work/tmp).
    """
    submission = os.path.join(root, "submission")
    if not os.path.isdir(submission):
        raise AutograderFailed("there is no submission folder")
    as_root = os.geteuid() == 0
    if as_root:
        os.chmod(os.path.join(root, "source"), 0o700)
    with tempfile.TemporaryDirectory(prefix="gradcheck-autograder-") as work:
        copy, scratch, output = (os.path.join(work, name) for name in ("submission", "tmp", "results.json"))
        shutil.copytree(submission, copy, symlinks=True)
        os.mkdir(scratch)
        for folder, mode in ((work, 0o711), (copy, 0o700), (scratch, 0o711)):
            os.chmod(folder, mode)
        command = [os.path.join(os.path.dirname(sys.executable), "gradcheck"), "grade", copy,
                   *_arguments(manifest, root), "--sandbox", manifest["sandbox"], "--format", "gradescope",
                   "--output", output]
        environment = {"PATH": os.defpath, "HOME": work, "TMPDIR": scratch, "LANG": "C.UTF-8"}
        done = subprocess.run(command, cwd=work, env=environment, capture_output=True, text=True)
        said = [line.strip().replace(work + os.sep, "") for line in done.stderr.splitlines() if line.strip()]
        if done.returncode < 0:
            raise AutograderFailed(f"gradcheck was killed by {signal.Signals(-done.returncode).name} while your code "
                                   "was being graded (code that takes more memory than the container has can "
                                   "cause that)", theirs=True)
        if done.returncode != 0 or not os.path.isfile(output):
            raise AutograderFailed(f"gradcheck grade exited with status {done.returncode}"
                                   + (f" ({said[-1]})" if said else ""))
        with open(output, encoding="utf-8") as stream:
            results = json.load(stream)
    results["output"] = _isolation(results["extra_data"]["sandbox"], as_root) + "\n" + results["output"]
    return results


def _arguments(manifest, root):
    """The frozen ``gradcheck grade`` options, the seed this submission's own when the bundle has a secret, and
    the course file when the bundle holds one."""
    arguments = list(manifest["arguments"])
    if "course" in manifest:
        arguments += ["--course", os.path.join(root, "source", manifest["course"])]
    if "secret" in manifest:
        try:
            with open(os.path.join(root, "submission_metadata.json"), encoding="utf-8") as stream:
                metadata = json.load(stream)
        except FileNotFoundError:
            raise AutograderFailed("there is no submission_metadata.json: per-student seeds need Gradescope's") from None
        arguments[arguments.index("--seed") + 1] = str(student_seed(manifest["secret"], metadata))
    return arguments


def _isolation(sandbox, as_root):
    """What isolated the submission, said first in the results' output."""
    if sandbox == "bwrap":
        return (f"Graded under the bubblewrap sandbox{', as an unprivileged user (nobody)' if as_root else ''}, in a "
                "Gradescope container of its own.")
    if sandbox == "user":
        return "Graded as an unprivileged user of its own, in a Gradescope container of its own."
    return ("Not isolated beyond Gradescope's container: your code ran as the autograder's own user, in a container "
            "of its own which holds only this submission and the autograder.")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gradcheck.grading.autograder",
                                     description="The Gradescope side of a gradcheck autograder bundle.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="grade the submission; write results/results.json").add_argument(
        "root", nargs="?", default=os.environ.get("GRADCHECK_AUTOGRADER_ROOT", DEFAULT_ROOT))
    commands.add_parser("verify", help="check the installed gradcheck against the manifest").add_argument("manifest")
    arguments = parser.parse_args(argv)
    if arguments.command == "verify":
        return verify(arguments.manifest)
    run(arguments.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
