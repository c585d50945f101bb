"""A grading process: grades submissions one at a time, each in a sandboxed child, and reports in JSON.

``grade`` starts a few as::

    python -I -c "<put ROOT on sys.path; from gradcheck.grading.worker import main; main()>" ROOT SETTINGS

where SETTINGS is the JSON of the run's settings.  Each job comes as a line
of JSON on its standard input, ``{"index": ..., "job": ...}``; for each it
writes one line of JSON to its standard output, ``{"index": ..., "result":
SubmissionResult.to_dict(details=True)}``, and it exits at the end of its
input.  Anything else printed in it goes to standard error.
"""
import json
import os
import signal
import sys
import time

from .. import api
from ..adapters import LoadError
from ..kinds import Kind, catalogue, check_pair
from ..report import json_number
from ..strategies import hypothesis_files_in_cache
from .child import die_with_parent
from .grade import Job, Settings, SubmissionResult, counted_where_made, failed, one_line
from .sandbox import SandboxDied, SandboxImplementation

IGNORED_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGTSTP",
                   "SIGTTIN", "SIGTTOU")


def main(argv=None):
    """Grade the jobs that come on the standard input; write each result as a line of JSON on the standard output."""
    argv = sys.argv[1:] if argv is None else argv
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # nothing printed here (e.g. by Hypothesis) may end up in the results
    die_with_parent()  # Linux: SIGKILL when the grader goes (the sandbox follows)
    # Deaf to what a submission that is not isolated (--sandbox none) may send its parent: only SIGKILL and
    # SIGSTOP stop a grading process, at the cost of one grade.
    for name in IGNORED_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    settings = Settings.from_dict(json.loads(argv[1]))
    hypothesis_files_in_cache()
    for line in sys.stdin:
        message = json.loads(line)
        result = grade_safely(Job(**message["job"]), settings)
        channel.write(json.dumps({"index": message["index"], "result": result.to_dict(details=True)},
                                 default=json_number) + "\n")
        channel.flush()


def grade_safely(job, settings):
    """``grade_one``, with a bug in gradcheck costing this submission's grade, not the run."""
    started = time.monotonic()
    try:
        return grade_one(job, settings)
    except Exception as error:  # noqa: BLE001 - a bug must cost one submission, not the run
        return failed(job, settings, one_line(f"internal error: {type(error).__name__}: {error}"), started)


def grade_one(job, settings):
    """Grade one resolved submission in this process (its code runs in a sandbox child).

    A submission whose child dies (times out, runs out of memory, crashes,
    exits) keeps the points of the checks it finished where it stopped (see
    ``fuzz.Stop``); one of a catalogue kind keeps none.
    """
    started = time.monotonic()
    result = SubmissionResult(job.name, job.path, False, 0, settings.max_score, file=job.file)
    if job.error:
        result.error = job.error
        return result
    kind = catalogue()[settings.layer]
    kind = kind if isinstance(kind, Kind) else None  # conv's and the pools' run on the windowed engine
    sandbox = SandboxImplementation(f"{job.file}:{settings.implementation}", settings.layer, settings.convention,
                                    settings.limits, stop_on_death=True, scratch=settings.scratch,
                                    sandbox=settings.sandbox, folder=job.folder, shown=student_path(job),
                                    backward=settings.backward, uid=settings.uid, form=kind and kind.form)
    try:
        try:
            sandbox.start()
        except LoadError as error:
            result.error = one_line(" ".join([f"could not load {settings.implementation}: {error}",
                                              *(f"({note})" for note in sandbox.left_out)]))
            return result
        try:
            run = _kind_run(kind, sandbox, job, settings) if kind else _run(sandbox, settings)
        except (ValueError, TypeError) as error:
            result.error = one_line(f"cannot be graded with these options: {error}")
            return result
        report = run()
    finally:
        sandbox.close()
        result.stdout, result.stderr = sandbox.stdout, sandbox.stderr
        result.duration_s = time.monotonic() - started
    if report is not None:
        report.notes.extend(sandbox.left_out)
        report.checks = counted_where_made(report)
        result.report = report
        result.checks = list(report.checks)
        result.earned = settings.earned(report)
        result.score = round(sum(result.earned.values()), 2)
        result.passed = report.passed and not sandbox.fatal
    if sandbox.fatal:
        result.error = one_line(sandbox.fatal)
    return result


def _run(sandbox, settings):
    """run() -> the conv or pooling layer's api.Report (a run the child's death stopped says where)."""
    plan = api.plan(settings.layer, sandbox, examples=settings.examples, seed=settings.seed, method=settings.method,
                    precision=settings.precision, divisible=settings.divisible, layout=settings.layout,
                    backward=settings.backward, strict=True, convention_pins=False, stop_on=(SandboxDied,),
                    **settings.dimensions)
    return lambda: plan.run(stop_on=(SandboxDied,))


def _kind_run(kind, sandbox, job, settings):
    """run() -> the catalogue layer's generic.FunctionReport, or None when the child died: no check keeps points."""
    words = (kind.name, "--impl", f"{student_path(job)}:{settings.implementation}",
             *(("--backward", settings.backward) if settings.backward else ()))

    def run():
        try:
            return check_pair(kind, sandbox.pair(), sandbox.modes, words=words, examples=settings.examples,
                              seed=settings.seed)
        except SandboxDied:
            return None
    return run


def student_path(job):
    """The submission's file as its author knows it: its path in the submission's folder (for a submission
    given as a file, its name; for a folder that is a package, from the folder holding it, where its imports
    work), what reproduction commands show instead of the grader's path."""
    folder = job.folder or os.path.dirname(os.path.abspath(job.file))
    if job.folder and os.path.isfile(os.path.join(job.folder, "__init__.py")):
        folder = os.path.dirname(os.path.abspath(job.folder))
    return os.path.relpath(os.path.abspath(job.file), os.path.abspath(folder))
