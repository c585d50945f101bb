"""Gradescope autograder bundles: ``gradcheck autograder`` builds one; in Gradescope, ``run_autograder`` runs ``run``.

A bundle is a zip with, at its root:

``setup.sh``
    Gradescope runs it once, as root, when it builds the autograder's image:
    installs Python 3 with apt-get, then runs ``setup_venv.sh``.
``setup_venv.sh``
    needs no root: makes a venv (``$GRADCHECK_VENV``, default
    ``/opt/gradcheck-venv``, with ``$GRADCHECK_PYTHON``, default ``python3``),
    installs the wheel into it, its dependencies pinned by
    ``constraints.txt``, and checks (``verify``) that the installed gradcheck
    is, file for file, the one that built the bundle.
``run_autograder``
    Gradescope runs it for every submission: ``python -m
    gradcheck.grading.autograder run`` in the venv (``run``), which writes
    ``results/results.json`` under ``$GRADCHECK_AUTOGRADER_ROOT`` (default
    ``/autograder``) whatever happens.
``gradcheck-VERSION-py3-none-any.whl``
    the running gradcheck, built from its source tree and checked against it.
``constraints.txt``
    ``name==version`` of every package installed where the bundle was built.
``gradcheck-autograder.json``
    the manifest: gradcheck's version, the ``gradcheck grade`` options with
    the seed frozen, the sandbox choice, and the sha256 of every file of the
    wheel's packages.
``README.md``
    what the instructor needs to know.

Inside Gradescope the container is the boundary between students.  Within it,
``run`` grades the submission as the unprivileged user ``nobody`` (when it
runs as root, as Gradescope runs it), under bwrap where the container lets
bwrap run (``gradcheck grade --sandbox auto``) and otherwise without, and
the results' output says which.
"""
import argparse
import email
import hashlib
import io
import json
import os
import pwd
import shutil
import string
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from importlib import metadata

from ..config import pin_args
from .grade import prepare
from .sandbox import ROOT

MANIFEST = "gradcheck-autograder.json"
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bundle")
SCRIPTS = ("setup.sh", "setup_venv.sh", "run_autograder")  # executable
PACKAGES = ("gradcheck", "reference_layers")  # what the wheel holds, and what is checked against the source
GRADING_USER = "nobody"  # who grades the submission when run_autograder runs as root
DEFAULT_ROOT = "/autograder"


class BundleError(Exception):
    """The bundle cannot be built here; the message says why and how to fix it."""


class AutograderFailed(Exception):
    """The submission could not be graded (an autograder problem, not the student's); the message says why."""


@dataclass
class Bundle:
    """A built bundle: the zip's bytes and what it freezes."""

    data: bytes
    version: str
    arguments: list
    seed_chosen: bool

    def summary(self):
        seed = self.arguments[self.arguments.index("--seed") + 1]
        return (f"gradcheck {self.version}, {' '.join(self.arguments)}"
                + (f" (seed {seed} chosen now, frozen into the bundle)" if self.seed_chosen else ""))


def build(*, layer, impl, sandbox="auto", hide_hints=False, seed=None, **options):
    """The bundle that grades every submission with these options (those of ``grade.prepare``).

    Raises ValueError (or TypeError) for bad options, BundleError when the
    running gradcheck cannot be packed (not installed from a source tree, or
    its wheel does not build or differs from it).
    """
    if sandbox not in ("auto", "none"):
        raise ValueError(f"sandbox must be auto or none, got {sandbox!r}")
    settings = prepare(layer, impl, seed=seed, sandbox=sandbox, **options)
    arguments = ["--layer", layer, "--impl", impl, "--convention", settings.convention, *pin_args(settings.pins),
                 "--examples", str(settings.examples), "--seed", str(settings.seed), "--method", settings.method,
                 "--precision", settings.precision, "--timeout", f"{settings.limits.timeout:g}",
                 "--memory", str(settings.limits.memory)] + (["--divisible"] if settings.divisible else []) + \
        (["--hide-hints-until-due"] if hide_hints else [])
    version = metadata.version("gradcheck")
    with tempfile.TemporaryDirectory(prefix="gradcheck-wheel-") as folder:
        wheel = _build_wheel(folder)
        files = _check_wheel(wheel, version)
        manifest = {"gradcheck": version, "wheel": os.path.basename(wheel), "python": _python(),
                    "arguments": arguments, "sandbox": sandbox, "files": files}
        data = _zip(wheel, manifest, _constraints())
    return Bundle(data, version, arguments, seed is None)


def _source_tree():
    """The source tree the running gradcheck was installed from (editable), or BundleError."""
    if not any(os.path.isfile(os.path.join(ROOT, name)) for name in ("pyproject.toml", "setup.py")):
        raise BundleError(f"gradcheck autograder packs the running gradcheck as a wheel built from its source "
                          f"tree, but it runs from {ROOT}, which is not one; install gradcheck from its source "
                          f"(pip install -e /path/to/gradcheck) and run it again")
    return ROOT


def _build_wheel(folder):
    """A wheel of the running gradcheck, built by pip from its source tree into ``folder``; its path."""
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", folder,
                           _source_tree()], capture_output=True, text=True)
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
    """``name==version`` of every distribution installed here but gradcheck: pip applies those it installs."""
    pins = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name and name.lower() != "gradcheck":
            pins.setdefault(name.lower(), f"{name}=={distribution.version}")
    return "".join(f"{pin}\n" for _, pin in sorted(pins.items()))


def _python():
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _zip(wheel, manifest, constraints):
    """The bundle's bytes: scripts (executable) and README from TEMPLATES, the wheel, constraints, manifest."""
    values = dict(version=manifest["gradcheck"], wheel=manifest["wheel"], python=manifest["python"],
                  command=" ".join(["gradcheck", "grade", "SUBMISSION", *manifest["arguments"], "--sandbox",
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
    """Check that the installed gradcheck is the one that built the bundle, file for file; exit status 1 if not."""
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
    return 0


def run(root):
    """Grade ``root``/submission with the options of ``root``/source's manifest into ``root``/results/results.json.

    Results are always written: when the submission cannot be graded (a
    problem of the autograder's, not the student's), they say so with score 0.
    """
    started = time.monotonic()
    try:
        with open(os.path.join(root, "source", MANIFEST), encoding="utf-8") as stream:
            manifest = json.load(stream)
        results = _grade(manifest, os.path.join(root, "submission"))
    except (AutograderFailed, OSError, ValueError, KeyError) as error:
        results = {"score": 0.0, "execution_time": int(round(time.monotonic() - started)), "tests": [],
                   "output": f"The autograder failed, so this submission was not graded: {error}. This is not a "
                             "problem with your code: tell your instructor."}
    folder = os.path.join(root, "results")
    os.makedirs(folder, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False, suffix=".tmp") as stream:
        json.dump(results, stream, indent=2)
    os.chmod(stream.name, 0o644)
    os.replace(stream.name, os.path.join(folder, "results.json"))
    return results


def _grade(manifest, submission):
    """``gradcheck grade`` of a copy of ``submission`` with the frozen options, as GRADING_USER when root; the
    results, with the isolation statement first in their output."""
    if not os.path.isdir(submission):
        raise AutograderFailed(f"there is no submission folder {submission}")
    user = pwd.getpwnam(GRADING_USER) if os.geteuid() == 0 else None
    with tempfile.TemporaryDirectory(prefix="gradcheck-autograder-") as work:
        shutil.copytree(submission, os.path.join(work, "submission"), symlinks=True)
        os.mkdir(os.path.join(work, "tmp"))
        output = os.path.join(work, "results.json")
        if user is not None:  # the grading user owns the copy and the work folder, and nothing else
            for folder, subfolders, names in os.walk(work):
                for name in [folder, *(os.path.join(folder, entry) for entry in subfolders + names)]:
                    os.chown(name, user.pw_uid, user.pw_gid, follow_symlinks=False)
        command = [os.path.join(os.path.dirname(sys.executable), "gradcheck"), "grade",
                   os.path.join(work, "submission"), *manifest["arguments"], "--sandbox", manifest["sandbox"],
                   "--format", "gradescope", "--output", output]
        environment = {"PATH": os.defpath, "HOME": work, "TMPDIR": os.path.join(work, "tmp"), "LANG": "C.UTF-8"}
        done = subprocess.run(command, cwd=work, env=environment, capture_output=True, text=True,
                              **({} if user is None else dict(user=user.pw_uid, group=user.pw_gid, extra_groups=[])))
        said = [line for line in done.stderr.splitlines() if line.strip()]
        if done.returncode != 0 or not os.path.isfile(output):
            raise AutograderFailed(f"gradcheck grade exited with status {done.returncode}"
                                   + (f" ({said[-1].strip()})" if said else ""))
        with open(output, encoding="utf-8") as stream:
            results = json.load(stream)
    results["output"] = _isolation(results["extra_data"]["sandbox"], user) + "\n" + results["output"]
    return results


def _isolation(sandbox, user):
    """What isolated the submission, said first in the results' output."""
    who = f"an unprivileged user ({GRADING_USER})" if user else "the autograder's own user (it did not run as root)"
    if sandbox == "bwrap":
        return f"Graded under the bubblewrap sandbox, as {who}, in a Gradescope container of its own."
    return (f"Not isolated beyond Gradescope's container: your code ran as {who} in a container of its own, "
            "which holds only this submission and the autograder.")


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
