"""Grade many student submissions: each sandboxed, all fuzzed with the same seed, in parallel.

    from gradcheck.grading.grade import grade
    result = grade(["subs/alice", "subs/bob.py"], "conv", "Convolution", seed=0, timeout=30)
    for submission in result.submissions:
        print(submission.name, submission.passed, submission.score, submission.max_score, submission.reason)

Each PATH is a student's ``.py`` file, or a folder holding one (when the
folder has several, the one that defines NAME; when none directly in it
does, the one in its subfolders that does: a package it holds).  Every
submission runs in its own ``gradcheck.grading.sandbox`` child (isolated by
bwrap, or as a user of its own where bwrap cannot run; time, CPU and memory
limits; captured output) and is checked in a grading process
(``gradcheck.grading.worker``), ``workers`` of them at a time, each grading
one submission after another and reporting each grade as a line of JSON: a
grading process that dies, hangs or sends garbage costs only the grade of the
submission it was grading.  Nothing a submission does can stop the run: it
gets ``passed`` False, score 0 and an ``error`` saying why, and the others go
on.

Scoring: one point per check that passes (``gradcheck.checks``: 8 for conv, 6 for max
pooling, 5 for average pooling), or the points ``points`` gives it (a course
file's ``[points]``); a failed or skipped check scores 0 (with ``partial_credit``,
its points times the share of configurations it passed on: ``Settings.earned``).
A submission that could not be loaded scores 0.  One whose child died
(timed out, ran out of memory, crashed, exited) partway keeps the point of
every check that passed on each configuration it completed and finished on
the one where it stopped (the check says on how many); the check that was
running then fails, and so does every other one left unfinished there, with
no partial credit: dying never scores better than failing where it died
would have.  It is not ``passed``, and its ``error`` says why
it stopped.  Grading is strict
(``gradcheck.check(..., strict=True)``): a check failed because the layer
refused a configuration on purpose (its own assert or raise) scores 0 like any
other, and its output says it was a refusal, even when the refusals follow
rules; pin the geometry the assignment asks for (``kernel=3``, ``pad=0``, ...)
and no refusal outside it can occur, or grade with ``divisible=True``
(``--divisible``) when the assignment lets layers refuse inputs the stride
does not divide.
"""
import json
import math
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace

from .. import api
from ..adapters import CONVENTIONS, LAYOUTS
from ..checks import check_names
from ..compare import CheckResult
from ..config import as_ranges, split_ranges
from ..fuzz import DEFAULT_EXAMPLES, default_seed
from ..generic import FunctionReport
from ..kinds import Kind, catalogue, windowed
from . import users
from .sandbox import (DEFAULT_MEMORY, DEFAULT_TIMEOUT, FIX, ROOT, Limits, SandboxUnavailable, sandbox_problem,
                      user_problem)

PINS = ("batch", "channels", "filters", "size", "kernel", "stride", "pad", "dilation")
RESULT_LIMIT = 64 << 20  # bytes: the largest result a grading process may send
CHUNK = 1 << 16
EXIT_GRACE = 5.0  # seconds a grading process that sent its result gets to exit
WATCHDOG_SLACK = 30.0  # seconds the whole run may take beyond its grading processes' deadlines
WORKER = "import sys; sys.path.insert(0, sys.argv[1]); from gradcheck.grading.worker import main; main()"
SANDBOXES = ("bwrap", "user", "auto", "none")  # auto: bwrap where it can run here, else user (and the reports say why)


@dataclass
class SubmissionResult:
    """The grade of one submission.

    ``checks`` are the engine's CheckResults (one per check); ``error`` is
    None, or one line saying why the submission could not be graded fully
    (not loadable, timed out, out of memory, exited, ...).  ``report`` is the
    full ``api.Report`` (findings, counterexamples, hints) when checks ran.
    ``stdout`` / ``stderr`` hold the start of what the submission printed.
    """

    name: str
    path: str
    passed: bool
    score: float
    max_score: int
    checks: list = field(default_factory=list)
    error: str = None
    duration_s: float = 0.0
    report: object = None
    file: str = ""
    stdout: str = ""
    stderr: str = ""
    earned: dict = field(default_factory=dict)  # check name -> the points it earned

    def earned_by(self, name):
        """The points check ``name`` earned (0 for one that never ran)."""
        return self.earned.get(name, 0)

    @property
    def reason(self):
        """One line: the error, else the first failing check and its message; "" when passed."""
        if self.error:
            return self.error
        failed = [check for check in self.checks if check.status == "fail"]
        if failed:
            return f"{failed[0].name}: {failed[0].message}" + (f" (and {len(failed) - 1} more failing)"
                                                               if len(failed) > 1 else "")
        return ""

    def to_dict(self, details=False):
        """The grade as ``--format json`` shows it (``layout``: the layout of the submission's arrays, which the
        checks' indices and shapes are in; null when no check ran); with ``details`` also the path, file,
        captured output and full report: what a grading process sends."""
        layout = None if not isinstance(self.report, api.Report) else \
            dict(self.report.layout.to_dict(), name=self.report.layout.name)
        data = {"name": self.name, "passed": self.passed, "score": self.score, "max_score": self.max_score,
                "checks": [check.to_dict() for check in self.checks], "earned": dict(self.earned),
                "error": self.error, "duration_s": round(self.duration_s, 3), "layout": layout}
        if details:
            data.update(path=self.path, file=self.file, stdout=self.stdout, stderr=self.stderr,
                        report=None if self.report is None else self.report.to_dict())
        return data

    @classmethod
    def from_dict(cls, data):
        """The SubmissionResult that ``to_dict`` described (with or without details)."""
        report = data.get("report")
        return cls(data["name"], data.get("path", ""), data["passed"], data["score"], data["max_score"],
                   [CheckResult.from_dict(check) for check in data["checks"]], data["error"], data["duration_s"],
                   None if report is None else _report_from_dict(report), data.get("file", ""),
                   data.get("stdout", ""), data.get("stderr", ""), data.get("earned", {}))


def counted_where_made(report):
    """The report's checks as a grade counts them: a check that passed wherever it was made, but was not made
    on every configuration searched (the layer failed an earlier check there first: it raised, refused the
    configuration or returned no array), fails: a layer must never gain by failing early where its other
    checks would fail."""
    def counted(check):
        made = report.passes.get(check.name)
        if check.status != "pass" or made is None or made >= report.examples:
            return check
        return CheckResult(check.name, "fail", f"passed on {made} of {report.examples} configurations; not made on "
                                               "the others, where the layer failed an earlier check first (a check "
                                               "counts only if it passes on every configuration)")
    return [counted(check) for check in report.checks]


def _report_from_dict(data):
    """An api.Report (conv, pooling) or a generic.FunctionReport (a catalogue kind: it says what it was against)."""
    return FunctionReport.from_dict(data) if "against" in data else api.Report.from_dict(data)


@dataclass
class GradeResult:
    """Every submission's grade, in the order the paths were given, and the settings they shared."""

    layer: str
    implementation: str
    seed: int
    examples: int
    limits: Limits
    submissions: list
    duration_s: float = 0.0
    sandbox: str = "bwrap"  # "user": each ran as a user of its own; "none": the submissions were not isolated
    sandbox_problem: str = None  # with sandbox "auto": why bwrap could not run here
    points: dict = None  # check name -> what passing it is worth; None: one point each
    partial: bool = False  # a failed check earns its points times the share of configurations it passed on

    @property
    def passed(self):
        return sum(submission.passed for submission in self.submissions)

    def to_dict(self):
        return {"sandbox": self.sandbox, "sandbox_problem": self.sandbox_problem,
                "submissions": [submission.to_dict() for submission in self.submissions]}


@dataclass(frozen=True)
class Job:
    """One submission to grade: its short name, the PATH given, and the .py file to load ("" if none).

    ``folder`` is PATH when it is a folder: all of it is copied into the
    sandbox, so that the file can import its helper modules.
    """

    name: str
    path: str
    file: str
    folder: str = None
    error: str = None


@dataclass(frozen=True)
class Settings:
    """What every submission of a run is graded with; travels to the grading processes as JSON."""

    layer: str
    implementation: str
    convention: str
    pins: dict
    examples: int
    seed: int
    method: str
    precision: str
    limits: Limits
    sandbox: str
    divisible: bool = False
    scratch: str = None  # where the sandboxes make their working directories
    layout: str = "auto"
    backward: str = None  # the NAME of the backward of a forward function NAME, when not found by its name
    uid: int = None  # with sandbox "user": the uid of a grading process's slot
    points: dict = None  # check name -> what passing it is worth, every check of the layer
    partial: bool = False  # partial credit: see ``earned``
    bounds: dict = field(default_factory=dict)  # dimension -> (lowest, highest) the search keeps to

    @property
    def dimensions(self):
        """The pins, and the bounds as ranges: the dimensions as ``gradcheck.check`` takes them."""
        return {**self.pins, **as_ranges(self.bounds)}

    @property
    def max_score(self):
        return sum(self.points.values())

    def earned(self, report):
        """Check name -> the points it earned in ``report``: all of them when it passed, else 0; with ``partial``,
        a failed check earns them times the share of the searched configurations it passed on (``report.passes``
        of ``report.examples``; a check that failed only where the search went on to explain another failure at
        most (N - 1) / N), but not in a run that stopped early (timed out, died): stopping never scores better
        than failing would have."""
        shared = self.partial and report.stopped is None and report.examples > 0

        def earned(check):
            worth = self.points[check.name]
            if check.status == "pass":
                return worth
            if not shared:
                return 0
            return round(worth * min(report.passes.get(check.name, 0), report.examples - 1) / report.examples, 2)
        return {check.name: earned(check) for check in report.checks}

    @classmethod
    def from_dict(cls, data):
        pins = {name: tuple(value) if isinstance(value, list) else value for name, value in data["pins"].items()}
        bounds = {name: tuple(span) for name, span in data.get("bounds", {}).items()}
        return cls(**dict(data, pins=pins, bounds=bounds, limits=Limits(**data["limits"])))


def grade(paths, layer, impl, *, workers=None, progress=None, deadline=None, **options):
    """Grade every submission in ``paths`` for ``layer`` ("conv", "maxpool", "avgpool").

    ``impl`` and the ``options`` are those of ``prepare``.  ``workers``
    submissions are graded at once (default: the number of CPUs).
    ``progress(done, total, submission)`` is called as each submission's
    result comes in.  ``deadline`` bounds the wall-clock time of a
    submission's whole grading (its code and gradcheck's work): the grading
    process still grading it then is killed and the submission gets an error;
    default ``2 * timeout + 60 + 2 * examples`` seconds.  A watchdog bounds
    the whole run by the deadlines of as many rounds of submissions as the
    workers need, plus ``WATCHDOG_SLACK``.

    Raises ValueError (or TypeError) for bad options or a PATH that does not
    exist, SandboxUnavailable when the isolation asked for cannot run here
    (see ``isolation``); never for what a submission does.
    """
    chosen = prepare(layer, impl, **options)
    paths = [os.fspath(path) for path in paths]
    if not paths:
        raise ValueError("give at least one submission PATH")
    for path in paths:
        if not os.path.exists(path):
            raise ValueError(f"no such file or folder: {path}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    if deadline is not None and not deadline > 0:
        raise ValueError(f"deadline must be > 0 seconds, got {deadline!r}")
    jobs = [_resolve(path, name, impl) for path, name in zip(paths, _names(paths))]
    if deadline is None:
        deadline = 2 * chosen.limits.timeout + 60 + 2 * chosen.examples
    # One folder for every sandbox's working directory, removed here even when a grading process was killed.
    with tempfile.TemporaryDirectory(prefix="gradcheck-grade-", ignore_cleanup_errors=True) as scratch:
        sandbox, problem = isolation(chosen.sandbox, paths, scratch)
        chosen = replace(chosen, sandbox=sandbox, scratch=scratch)
        started = time.monotonic()
        uids = users.free_uids(workers) if sandbox == "user" else []
        submissions = _Run(jobs, chosen, min(workers, len(jobs)), progress, deadline, uids).results()
    return GradeResult(layer, impl, chosen.seed, chosen.examples, chosen.limits, submissions,
                       time.monotonic() - started, chosen.sandbox, problem, chosen.points, chosen.partial)


def isolation(sandbox, paths, scratch):
    """(the isolation to grade ``paths`` with, why bwrap could not run or None) for ``sandbox`` as asked:
    "auto" is bwrap where it runs here, else "user" where that runs (a root grader); SandboxUnavailable, saying
    why and what to do, when what was asked for cannot run.  ``scratch`` is where the sandboxes will be made."""
    if sandbox == "none":
        return "none", None
    problem = None if sandbox == "user" else sandbox_problem()
    if problem is None and sandbox != "user":
        return "bwrap", None
    if sandbox == "bwrap":
        raise SandboxUnavailable(f"{problem}. {FIX}")
    os.chmod(scratch, 0o711)  # the submissions' users cross it to their own folders, and list nothing
    fallback = user_problem(paths, scratch)
    if fallback is None:
        return "user", problem
    raise SandboxUnavailable(("" if problem is None else f"{problem}, and ") + f"{fallback}; or pass --sandbox none "
                             "to grade without isolation")


def prepare(layer, impl, *, convention="auto", layout="auto", batch=None, channels=None, filters=None, size=None,
             kernel=None, stride=None, pad=None, dilation=None, examples=None, seed=None, fast=False, method="auto",
             precision="float64", timeout=DEFAULT_TIMEOUT, memory=DEFAULT_MEMORY, cpu=None, sandbox="bwrap",
             divisible=False, backward=None, points=None, partial_credit=False):
    """The validated Settings every submission of a run is graded with; ValueError (or TypeError) if any is bad.

    ``impl`` is the NAME each submission defines (a class, a factory or a
    cs231n forward function; see ``gradcheck.adapters``), ``convention`` and
    ``layout`` as for ``gradcheck.check`` (each submission's layout is
    decided by a probe in its grading process, never by its own code);
    ``backward`` the NAME of a forward function's backward in the submission
    when it is not found by its name.  The dimension pins and ranges
    (``stride=range(1, 3)``), ``examples`` (default 30), ``fast``, ``method``, ``precision`` and ``divisible`` are
    those of ``gradcheck.check``; ``seed`` (default: 0 under CI, else random)
    is the same for every submission.  The geometry graded is the one asked
    for here, whatever a submission's signature offers (a layer without a
    stride argument fails the configurations with stride > 1: see
    ``check``'s ``convention_pins``), with dilation 1 unless pinned.  Limits
    per submission: ``timeout`` seconds of wall-clock time for its code in
    total (default 60), ``cpu`` CPU seconds (default: ``timeout``),
    ``memory`` MB of address space (default 2048).  ``sandbox`` "bwrap" runs
    every submission isolated (see ``gradcheck.grading``), "user" as an
    unprivileged user of its own, "auto" as bwrap where it can run here and
    else as such a user; "none" as plain child processes, with the same
    limits but not isolated (``GradeResult.sandbox`` says so).  ``points``
    maps check names to what passing each is worth (a whole number >= 0;
    a check left out: 1); with ``partial_credit``, a failed check earns them
    times the share of configurations it passed on (``Settings.earned``).
    """
    if isinstance(catalogue().get(layer), Kind):
        conv_only = {"--convention": convention != "auto", "--layout": layout != "auto", "--fast": fast,
                     "--method": method != "auto", "--precision": precision != "float64", "--divisible": divisible,
                     "--partial-credit": partial_credit,
                     **{f"--{name}": value is not None for name, value in zip(PINS, (batch, channels, filters, size,
                                                                                    kernel, stride, pad, dilation))}}
        return _kind_settings(catalogue()[layer], impl, backward, [name for name, given in conv_only.items() if given],
                              examples, seed, Limits(timeout=timeout, memory=memory, cpu=cpu), sandbox, points)
    if layer not in windowed():
        raise ValueError(f"layer must be one of {', '.join(windowed())} or a kind of `gradcheck list`, got {layer!r}")
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    _require_names(impl, backward)
    if sandbox not in SANDBOXES:
        raise ValueError(f"sandbox must be one of {', '.join(SANDBOXES)}, got {sandbox!r}")
    limits = Limits(timeout=timeout, memory=memory, cpu=cpu)
    if layer == "conv" and dilation is None:
        dilation = 1  # what assignments ask for; every other dimension the instructor leaves free is fuzzed
    dimensions = {name: value for name, value in zip(PINS, (batch, channels, filters, size, kernel, stride, pad,
                                                            dilation)) if value is not None}
    seed = default_seed() if seed is None else seed
    # validates pins, examples, seed, method, precision and divisible
    checked = api.plan(layer, None, examples=examples, seed=seed, fast=fast, method=method, precision=precision,
                       divisible=divisible, **dimensions)
    pins, bounds = split_ranges(dimensions)
    return Settings(layer, impl, convention, pins, checked.examples, checked.seed, checked.method, precision, limits,
                    sandbox, checked.divisible, layout=layout, backward=backward, points=_points(layer, points or {}),
                    partial=bool(partial_credit), bounds=bounds)


def _kind_settings(kind, impl, backward, conv_only, examples, seed, limits, sandbox, points):
    """``prepare`` for a catalogue kind: its search and its reference decide what is graded."""
    if conv_only:
        raise ValueError(f"{', '.join(conv_only)} {'is' if len(conv_only) == 1 else 'are'} for conv and pooling "
                         f"layers; {kind.name} is graded on the shapes its kind draws (gradcheck {kind.name} --help)")
    _require_names(impl, backward)
    examples = DEFAULT_EXAMPLES if examples is None else examples
    if not isinstance(examples, int) or isinstance(examples, bool) or examples < 1:
        raise ValueError(f"examples must be an int >= 1, got {examples!r}")
    if sandbox not in SANDBOXES:
        raise ValueError(f"sandbox must be one of {', '.join(SANDBOXES)}, got {sandbox!r}")
    return Settings(kind.name, impl, "auto", {}, examples, default_seed() if seed is None else seed, "auto",
                    "float64", limits, sandbox, backward=backward, points=_points(kind.name, points or {}))


def _points(layer, given):
    """Every check of ``layer`` -> its points: those ``given``, 1 for the others."""
    checks = check_names(layer)
    for name, value in given.items():
        if name not in checks:
            raise ValueError(f"points: {layer} has no check {name!r}; choose from {', '.join(checks)}")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"points: {name} must be a whole number of points >= 0, got {value!r}")
    points = {name: given.get(name, 1) for name in checks}
    if not any(points.values()):
        raise ValueError("points: every check is worth 0, so no submission could score; give some check a point")
    return points


def _require_names(impl, backward):
    if not isinstance(impl, str) or not impl.isidentifier():
        raise ValueError(f"--impl takes the NAME every submission defines (e.g. Convolution), got {impl!r}")
    if backward is not None and (not isinstance(backward, str) or not backward.isidentifier()):
        raise ValueError(f"--backward takes the NAME of the backward every submission defines (e.g. "
                         f"conv_backward), got {backward!r}")


def one_line(text, limit=500):
    """The first paragraph of ``text`` on one line, at most ``limit`` characters."""
    text = " ".join(str(text).split("\n\n")[0].split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def failed(job, settings, error, started):
    """The grade of a submission that could not be graded: score 0 and ``error``."""
    return SubmissionResult(job.name, job.path, False, 0, settings.max_score, error=error,
                            duration_s=time.monotonic() - started, file=job.file)


# -- finding the file --------------------------------------------------------

def _resolve(path, name, impl):
    """A Job for PATH: the file itself, or the .py file in the folder that defines ``impl``: among the files
    directly in it (when it holds only one, that one: it may import ``impl``), else among those of its
    subfolders (a package it holds).  Errors name the student's files as the student knows them, never by the
    grader's path."""
    if os.path.isfile(path):
        if not path.endswith(".py"):
            return Job(name, path, "", error=f"{os.path.basename(path)} is not a .py file")
        return Job(name, path, path)
    files = _python_files(path)
    if not files:
        return Job(name, path, "", error="the submission holds no .py file")
    if len(files) == 1:
        return Job(name, path, files[0], path)
    defining = [file for file in files if _defines(file, impl)] or \
        [file for file in _python_files(path, deep=True) if file not in files and _defines(file, impl)]
    if len(defining) == 1:
        return Job(name, path, defining[0], path)
    shown = ", ".join(os.path.relpath(file, path) for file in (defining or files)[:5])
    if not defining:
        return Job(name, path, "", error=f"no .py file of the submission defines {impl} (looked in {shown}"
                                          f"{', ...' if len(files) > 5 else ''})")
    return Job(name, path, "", error=f"several files of the submission define {impl}: {shown}; submit one")


def _python_files(folder, deep=False):
    """The .py files directly in ``folder``; if there are none, or ``deep``, those in its subfolders too."""
    found = sorted(os.path.join(folder, entry) for entry in os.listdir(folder)
                   if entry.endswith(".py") and os.path.isfile(os.path.join(folder, entry)))
    if found and not deep:
        return found
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        found += sorted(os.path.join(root, f) for f in files if f.endswith(".py"))
    return found


def _defines(file, impl):
    try:
        with open(file, encoding="utf-8", errors="replace") as stream:
            text = stream.read(1 << 20)
    except OSError:
        return False
    return re.search(rf"^[ \t]*(?:def|class)[ \t]+{impl}\b|^{impl}[ \t]*=", text, re.MULTILINE) is not None


def _names(paths):
    """Short names: the file's stem or the folder's name; the path itself where two would clash."""
    short = [os.path.splitext(os.path.basename(os.path.normpath(path)))[0] if os.path.isfile(path)
             else os.path.basename(os.path.abspath(path)) for path in paths]
    return [name if short.count(name) == 1 else os.path.normpath(path) for name, path in zip(short, paths)]


# -- running the grading processes -------------------------------------------

class _Run:
    """Grade every job in ``workers`` grading processes; results in job order.

    A grading process grades one job at a time and then takes the next.  A
    job still being graded ``deadline`` seconds after it was handed over costs
    its process, which is killed (its sandbox dies with it): the job gets an
    error and a new process takes the next one.  So does a process that dies,
    or sends anything but the result of its job.  The watchdog bounds the
    whole run: past ``watchdog`` seconds every process is killed, and every
    job not graded by then gets an error.  With sandbox "user", each process
    takes one of ``uids`` (one per worker) that no living process holds: the
    uid of its slot, which its submissions run as.
    """

    def __init__(self, jobs, settings, workers, progress, deadline, uids=()):
        self.jobs, self.settings, self.workers, self.progress = jobs, settings, workers, progress
        self.uids = uids
        self.deadline = deadline
        self.watchdog = deadline * math.ceil(len(jobs) / workers) + WATCHDOG_SLACK
        self.grades = [None] * len(jobs)

    def results(self):
        stop = time.monotonic() + self.watchdog
        pending = list(enumerate(self.jobs))
        busy, idle = {}, []  # busy: the fd a process reports on -> the process
        with selectors.DefaultSelector() as selector:
            try:
                while (pending or busy) and time.monotonic() < stop:
                    while pending and len(busy) < self.workers:
                        process = idle.pop() if idle else self._start([*busy.values(), *idle])
                        process.give(*pending.pop(0))
                        busy[process.fd] = process
                        selector.register(process.fd, selectors.EVENT_READ)
                    ready = selector.select(self._wait(busy.values(), stop))
                    ended = [busy[key.fd] for key, _ in ready if busy[key.fd].read()]
                    late = [process for process in busy.values()
                            if process not in ended and process.age() > self.deadline]
                    for process in ended + late:
                        selector.unregister(process.fd)
                        del busy[process.fd]
                        self._record(process.index, process.result(
                            None if process in ended else f"grading did not finish within {self.deadline:g} s "
                                                          "(was gradcheck's grading process stopped?)"))
                        if process.alive():
                            idle.append(process)
            finally:
                for process in idle:
                    process.finish()
                for process in busy.values():
                    process.kill()
        error = f"not graded: the whole run exceeded the watchdog's deadline of {self.watchdog:g} s"
        for process in busy.values():
            self._record(process.index, process.result(error))
        for index, job in pending:
            self._record(index, failed(job, self.settings, error, time.monotonic()))
        return self.grades

    def _start(self, living):
        """A new grading process, with the uid of a slot that none of the ``living`` holds."""
        taken = {process.settings.uid for process in living}
        uid = next((uid for uid in self.uids if uid not in taken), None)
        return _GradingProcess(replace(self.settings, uid=uid))

    def _wait(self, busy, stop):
        """Seconds until the next deadline (a job's or the whole run's), at most one."""
        return max(0.0, min([1.0, stop - time.monotonic()] + [self.deadline - process.age() for process in busy]))

    def _record(self, index, result):
        self.grades[index] = result
        if self.progress is not None:
            self.progress(sum(grade is not None for grade in self.grades), len(self.jobs), result)


class _GradingProcess:
    """A grading process (``gradcheck.grading.worker``), and the job it grades.

    The settings go in as JSON on its command line, each job as a line of
    JSON on its stdin, and the result comes back as a line of JSON on its
    stdout: ``{"index": ..., "result": SubmissionResult.to_dict(details=True)}``.
    Anything it prints goes to its stderr.  It runs in a session of its own, so
    that killing it kills its process group.
    """

    def __init__(self, settings):
        self.settings = settings
        self.process = subprocess.Popen([sys.executable, "-I", "-c", WORKER, ROOT, json.dumps(asdict(settings))],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        self.fd = self.process.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.index = self.job = None
        self.started = time.monotonic()
        self.received = bytearray()

    def give(self, index, job):
        """Hand over a job (a process that died meanwhile is found out when its channel ends)."""
        self.index, self.job, self.started, self.received = index, job, time.monotonic(), bytearray()
        try:
            self.process.stdin.write(json.dumps({"index": index, "job": asdict(job)}).encode() + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass

    def age(self):
        """Seconds since the current job was handed over."""
        return time.monotonic() - self.started

    def read(self):
        """Take what has arrived; True once a line has (the result), the channel ended, or too much came."""
        try:
            chunk = os.read(self.fd, CHUNK)
        except BlockingIOError:
            return False
        self.received += chunk
        return not chunk or b"\n" in chunk or len(self.received) > RESULT_LIMIT

    def alive(self):
        return self.process.poll() is None

    def result(self, error=None):
        """The job's grade: the one the process sent, or one with ``error`` or why none came.

        Unless it sent exactly the result of its job, the process is killed.
        """
        if error is None:
            error = self._problem()
        if error is None:
            try:
                message = json.loads(self.received)
                if message["index"] != self.index:
                    raise ValueError(f"it answers job {message['index']!r}, not job {self.index}")
                return SubmissionResult.from_dict(message["result"])
            except Exception as exc:  # noqa: BLE001 - a malformed result must cost one submission, not the run
                error = f"internal error: the grading process sent a malformed result ({type(exc).__name__}: {exc})"
        self.kill()
        return failed(self.job, self.settings, one_line(error), self.started)

    def _problem(self):
        """None when the process sent one line (its answer); else why the job has no result."""
        if len(self.received) > RESULT_LIMIT:
            return f"internal error: the grading process sent more than {RESULT_LIMIT} bytes"
        if not self.received.endswith(b"\n"):
            try:
                self.process.wait(EXIT_GRACE)
            except subprocess.TimeoutExpired:
                pass
            code = self.process.returncode
            how = f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0 and \
                -code in signal.valid_signals() else f"exited with status {code}"
            return (f"the grading process {how} before reporting (did the submission signal or kill gradcheck's "
                    "processes?)")
        if self.received.count(b"\n") > 1:
            return "internal error: the grading process sent more than the result of its job"
        return None

    def finish(self):
        """End an idle process: its stdin closes, it exits (or is killed after EXIT_GRACE)."""
        self.process.stdin.close()
        try:
            self.process.wait(EXIT_GRACE)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def kill(self):
        """Kill the process (and its group) unless it has exited; reap it."""
        if self.process.returncode is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except BrokenPipeError:
                pass
