"""A grading process: grades one submission, whose code runs in a sandboxed child, and reports in JSON.

``grade`` starts one per submission as::

    python -I -c "<put ROOT on sys.path; from gradcheck.grading.worker import main; main()>" ROOT MESSAGE

where MESSAGE is the JSON of the job and the settings of the run.  It writes
exactly one JSON object, ``SubmissionResult.to_dict(details=True)``, to its
standard output and exits; anything else printed in it goes to standard error.
"""
import json
import os
import signal
import sys
import time

from .. import api
from ..adapters import LoadError
from ..checks import check_names
from ..compare import CheckResult
from ..report import json_number
from .child import die_with_parent
from .grade import Job, Settings, SubmissionResult, failed, one_line
from .sandbox import SandboxDied, SandboxImplementation

IGNORED_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGTSTP",
                   "SIGTTIN", "SIGTTOU")


def main(argv=None):
    """Grade the job in MESSAGE; write its result as JSON on the standard output."""
    argv = sys.argv[1:] if argv is None else argv
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # nothing printed here (e.g. by Hypothesis) may end up in the result
    die_with_parent()  # Linux: SIGKILL when the grader goes (the sandbox follows)
    # Deaf to what a submission that is not isolated (--sandbox none) may send its parent: only SIGKILL and
    # SIGSTOP stop a grading process, at the cost of one grade.
    for name in IGNORED_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    message = json.loads(argv[1])
    job, settings = Job(**message["job"]), Settings.from_dict(message["settings"])
    started = time.monotonic()
    try:
        result = grade_one(job, settings)
    except BaseException as error:  # noqa: BLE001 - a bug must cost one submission, not the run
        result = failed(job, settings, one_line(f"internal error: {type(error).__name__}: {error}"), started)
    with channel:
        json.dump(result.to_dict(details=True), channel, default=json_number)


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
                                    scratch=settings.scratch, sandbox=settings.sandbox, folder=job.folder)
    try:
        try:
            sandbox.start()
        except LoadError as error:
            result.error = one_line(f"could not load {settings.implementation}: {error}")
            return result
        try:
            plan = api.plan(settings.layer, sandbox, examples=settings.examples, seed=settings.seed,
                            fast=settings.fast, **settings.pins)
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
