"""Grade many student submissions: each sandboxed, all fuzzed with the same seed, in parallel.

    from gradcheck.grade import grade
    result = grade(["subs/alice", "subs/bob.py"], "conv", "Convolution", seed=0, timeout=30)
    for submission in result.submissions:
        print(submission.name, submission.passed, submission.score, submission.max_score, submission.reason)

Each PATH is a student's ``.py`` file, or a folder holding one (when the
folder has several, the one that defines NAME).  Every submission runs in its
own ``gradcheck.sandbox`` child (time, CPU and memory limits, captured
output), and is checked by a grading process of its own: a submission that
kills or signals its grading process costs only its own result.  Nothing a
submission does can stop the run: it gets ``passed`` False, score 0 and an
``error`` saying why, and the others go on.

Scoring: one point per check that passes (``gradcheck.checks``: 8 for conv,
5 for the pools); a failed or skipped check scores 0.  A submission that could
not be loaded, or whose child died, timed out or ran out of memory, scores 0.
A check failed because the layer refused a configuration on purpose (its own
assert or ValueError) scores 0 like any other, and its output says it was a
refusal; grade with ``divisible=True`` (``--divisible``) when the assignment
lets layers refuse inputs the stride does not divide.
"""
import multiprocessing
import os
import re
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from . import _child, api
from .adapters import CONVENTIONS, LoadError
from .checks import check_names
from .config import LAYERS
from .fuzz import default_seed
from .compare import CheckResult
from .sandbox import DEFAULT_MEMORY, DEFAULT_TIMEOUT, Limits, SandboxDied, SandboxImplementation

PINS = ("batch", "channels", "filters", "size", "kernel", "stride", "pad", "dilation")
IGNORED_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGTSTP",
                   "SIGTTIN", "SIGTTOU")


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
    score: int
    max_score: int
    checks: list = field(default_factory=list)
    error: str = None
    duration_s: float = 0.0
    report: object = None
    file: str = ""
    stdout: str = ""
    stderr: str = ""

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

    def to_dict(self):
        return {"name": self.name, "passed": self.passed, "score": self.score, "max_score": self.max_score,
                "checks": [check.to_dict() for check in self.checks], "error": self.error,
                "duration_s": round(self.duration_s, 3)}


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

    @property
    def passed(self):
        return sum(submission.passed for submission in self.submissions)

    def to_dict(self):
        return {"submissions": [submission.to_dict() for submission in self.submissions]}


@dataclass(frozen=True)
class _Job:
    name: str
    path: str
    file: str  # the .py file to load, or "" when none was found
    error: str = None


@dataclass(frozen=True)
class _Settings:
    layer: str
    implementation: str
    convention: str
    pins: dict
    examples: int
    seed: int
    method: str
    precision: str
    limits: Limits
    divisible: bool = False
    scratch: str = None  # where the sandboxes make their working directories


def grade(paths, layer, impl, *, convention="auto", batch=None, channels=None, filters=None, size=None,
          kernel=None, stride=None, pad=None, dilation=None, examples=None, seed=None, fast=False, method="auto",
          precision="float64", timeout=DEFAULT_TIMEOUT, memory=DEFAULT_MEMORY, cpu=None, workers=None, progress=None,
          deadline=None, divisible=False):
    """Grade every submission in ``paths`` for ``layer`` ("conv", "maxpool", "avgpool").

    ``impl`` is the NAME each submission defines (a class, a factory or a
    cs231n forward function; see ``gradcheck.adapters``), ``convention`` as
    for ``gradcheck.check``.  The dimension pins, ``examples`` (default 30),
    ``fast``, ``method``, ``precision`` and ``divisible`` are those of ``gradcheck.check``;
    ``seed`` (default: 0 under CI, else random) is the same for every submission.

    Limits per submission: ``timeout`` seconds of wall-clock time for its code
    in total (default 60), ``cpu`` CPU seconds (default: ``timeout``),
    ``memory`` MB of address space (default 2048).  ``workers`` submissions
    are graded at once (default: the number of CPUs).  ``progress(done,
    total, submission)`` is called as each submission's result comes in.
    ``deadline`` bounds the wall-clock time of a submission's whole grading
    (its code and gradcheck's work), a safety net for a grading process that
    a submission stopped (SIGSTOP) or that got stuck; default ``2 * timeout +
    60 + 2 * examples`` seconds.

    Raises ValueError (or TypeError) for bad options or a PATH that does not
    exist; never for what a submission does.
    """
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}, got {layer!r}")
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    if not isinstance(impl, str) or not impl.isidentifier():
        raise ValueError(f"--impl takes the NAME every submission defines (e.g. Convolution), got {impl!r}")
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
    limits = Limits(timeout=timeout, memory=memory, cpu=cpu)
    pins = {name: value for name, value in zip(PINS, (batch, channels, filters, size, kernel, stride, pad,
                                                      dilation)) if value is not None}
    seed = default_seed() if seed is None else seed
    checked = api.plan(layer, None, examples=examples, seed=seed, fast=fast, method=method, precision=precision,
                       divisible=divisible, **pins)  # validates pins, examples, seed, method, precision, divisible
    jobs = [_resolve(path, name, impl) for path, name in zip(paths, _names(paths))]
    if deadline is None:
        deadline = 2 * limits.timeout + 60 + 2 * checked.examples
    started = time.monotonic()
    # One folder for every sandbox's working directory, removed here even when a grading process was killed.
    with tempfile.TemporaryDirectory(prefix="gradcheck-grade-", ignore_cleanup_errors=True) as scratch:
        settings = _Settings(layer, impl, convention, pins, checked.examples, checked.seed, checked.method,
                             precision, limits, checked.divisible, scratch)
        submissions = _run(jobs, settings, min(workers, len(jobs)), progress, deadline)
    return GradeResult(layer, impl, settings.seed, settings.examples, limits, submissions,
                       time.monotonic() - started)


def grade_one(job, settings):
    """Grade one resolved submission in this process (its code runs in a sandbox child)."""
    started = time.monotonic()
    max_score = len(check_names(settings.layer))
    result = SubmissionResult(job.name, job.path, False, 0, max_score, file=job.file)
    if job.error:
        result.error = job.error
        return result
    spec = f"{job.file}:{settings.implementation}"
    sandbox = SandboxImplementation(spec, settings.layer, settings.convention, settings.limits, stop_on_death=True,
                                    scratch=settings.scratch)
    try:
        try:
            sandbox.start()
        except LoadError as error:
            result.error = one_line(f"could not load {settings.implementation}: {error}")
            return result
        try:
            plan = api.plan(settings.layer, sandbox, examples=settings.examples, seed=settings.seed,
                            method=settings.method, precision=settings.precision, divisible=settings.divisible,
                            **settings.pins)
        except (ValueError, TypeError) as error:
            result.error = one_line(f"cannot be graded with these options: {error}")
            return result
        try:
            report = plan.run()
        except SandboxDied as died:
            result.error = one_line(died.reason)
            result.checks = _not_graded(settings.layer, died, plan)
            return result
    finally:
        sandbox.close()
        result.stdout, result.stderr = sandbox.stdout, sandbox.stderr
        result.duration_s = time.monotonic() - started
    result.report = report
    result.checks = list(report.checks)
    result.score = sum(check.status == "pass" for check in report.checks)
    result.passed = report.passed
    if sandbox.fatal:
        result.error = one_line(sandbox.fatal)
        result.passed, result.score = False, 0
    return result


def _not_graded(layer, died, plan):
    """Every check failed with the reason the submission stopped, where it stopped, and how to get there."""
    where = ""
    if died.config is not None:
        command = plan.command(died.config.cli_args(), plan.seed)
        where = f"; it was being checked at {died.config.describe()} (reproduce: {command})"
    error = {"stage": "sandbox", "type": died.kind, "message": died.reason, "location": ""}
    return [CheckResult(name, "fail", f"not graded: the submission {died.reason}{where}", error=dict(error))
            for name in check_names(layer)]


def one_line(text, limit=500):
    """The first paragraph of ``text`` on one line, at most ``limit`` characters."""
    text = " ".join(str(text).split("\n\n")[0].split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# -- finding the file --------------------------------------------------------

def _resolve(path, name, impl):
    """A _Job for PATH: the file itself, or the .py file in the folder that defines ``impl``."""
    if os.path.isfile(path):
        if not path.endswith(".py"):
            return _Job(name, path, "", f"{path} is not a .py file")
        return _Job(name, path, path)
    files = _python_files(path)
    if not files:
        return _Job(name, path, "", f"no .py file in {path}")
    if len(files) == 1:
        return _Job(name, path, files[0])
    defining = [file for file in files if _defines(file, impl)]
    if len(defining) == 1:
        return _Job(name, path, defining[0])
    shown = ", ".join(os.path.relpath(file, path) for file in (defining or files)[:5])
    if not defining:
        return _Job(name, path, "", f"no .py file in {path} defines {impl} (looked in {shown}"
                                    f"{', ...' if len(files) > 5 else ''})")
    return _Job(name, path, "", f"several files in {path} define {impl}: {shown}; submit one")


def _python_files(folder):
    """The .py files directly in ``folder``; if there are none, those in its subfolders."""
    found = sorted(os.path.join(folder, entry) for entry in os.listdir(folder)
                   if entry.endswith(".py") and os.path.isfile(os.path.join(folder, entry)))
    if found:
        return found
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

def _run(jobs, settings, workers, progress, deadline):
    """Grade every job in a process of its own, ``workers`` at a time; results in job order.

    A grading process still running ``deadline`` seconds after it started is
    killed (with its sandbox child) and its submission gets an error.
    """
    context = _context()
    results = [None] * len(jobs)
    pending = list(enumerate(jobs))
    running = {}  # receiving connection -> (index, process, start time)
    done = 0
    try:
        while pending or running:
            while pending and len(running) < workers:
                index, job = pending.pop(0)
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(target=_grading_process, args=(sender, job, settings),
                                          name=f"gradcheck-grade-{index}", daemon=True)
                process.start()
                sender.close()
                running[receiver] = (index, process, time.monotonic())
            ready = wait(list(running), timeout=1.0)
            now = time.monotonic()
            overdue = [receiver for receiver, (_, _, started) in running.items()
                       if receiver not in ready and now - started > deadline]
            for receiver in [*ready, *overdue]:
                index, process, started = running.pop(receiver)
                if receiver in ready:
                    results[index] = _collect(receiver, process, jobs[index], settings, started)
                else:
                    process.kill()
                    process.join()
                    receiver.close()
                    results[index] = _failed(jobs[index], settings, f"grading did not finish within {deadline:g} s "
                                                                    "(was gradcheck's grading process stopped?)",
                                             started)
                done += 1
                if progress is not None:
                    progress(done, len(jobs), results[index])
    finally:
        for receiver, (_, process, _) in running.items():
            process.kill()
            process.join()
            receiver.close()
    return results


def _context():
    """fork while this process has one thread (fast, and nothing to re-import); else a fork server.

    Forking a process that runs other threads can copy a lock some thread
    holds; the fork server starts clean, but (like spawn) re-imports a
    ``__main__`` script, which must then guard its top level with
    ``if __name__ == "__main__":``.
    """
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["gradcheck.grade"])
    return context


def _collect(receiver, process, job, settings, started):
    try:
        result = receiver.recv()
    except (EOFError, OSError):
        result = None
    except Exception as error:  # noqa: BLE001 - a result that would not unpickle
        result = _failed(job, settings, f"internal error: the result could not be read: {error}", started)
    finally:
        receiver.close()
    process.join()
    if result is None:
        code = process.exitcode
        how = f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0 and \
            -code in signal.valid_signals() else f"exited with status {code}"
        result = _failed(job, settings, f"the grading process {how} before reporting (did the submission "
                                        "signal or kill gradcheck's processes?)", started)
    return result


def _failed(job, settings, error, started):
    return SubmissionResult(job.name, job.path, False, 0, len(check_names(settings.layer)), error=error,
                            duration_s=time.monotonic() - started, file=job.file)


def _grading_process(sender, job, settings):
    """The body of a grading process: its own session, deaf to signals a submission might send it."""
    try:
        os.setsid()  # a submission signalling its parent's process group reaches only this process
    except OSError:
        pass
    os.dup2(2, 1)  # nothing printed here (e.g. by Hypothesis) may end up in the report on stdout
    _child._die_with_parent()  # Linux: SIGKILL when the grader goes (its sandbox child follows)
    for name in IGNORED_SIGNALS:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    started = time.monotonic()
    result = None
    try:
        result = grade_one(job, settings)
    except BaseException as error:  # noqa: BLE001 - a bug must cost one submission, not the run
        result = _failed(job, settings, one_line(f"internal error: {type(error).__name__}: {error}"), started)
    try:
        sender.send(result)
    except Exception as error:  # noqa: BLE001 - e.g. a result that would not pickle: send the verdict alone
        result.report = None
        try:
            sender.send(result)
        except Exception:  # noqa: BLE001
            sender.send(_failed(job, settings, one_line(f"internal error: the result could not be sent: "
                                                        f"{error}"), started))
    sender.close()
