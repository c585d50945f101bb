"""A class's failures grouped by their diagnosis: what ``gradcheck grade`` shows an instructor below the grades.

    from gradcheck.grading.causes import by_cause
    for cause in by_cause(result):          # result: a grade.GradeResult
        print(cause.label, len(cause.students), cause.students, cause.hints, cause.reproduce)

Two failures share a cause when they are the same kind (a failure, a refusal,
a submission that could not be graded fully), fail the same checks, follow the
same rules ("only when stride > 1") in the same scope, and got the same hints
up to their numbers.  A number that differs between the students of a group
(a batch size, a row of the padding) is printed as "…", so every sentence of a
group is true of each of its students.  A student whose layer fails in two
ways is in two groups.
"""
import os
import re
import shlex
from dataclasses import dataclass, field

from ..fuzz import REFUSAL

NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?")
VARIES = "…"
ERROR = "error"


@dataclass
class Cause:
    """One diagnosis and the students whose submissions it describes (by name, in the order graded).

    ``kind`` is "failure", "refusal" or "error" (could not be graded fully);
    ``checks`` the checks it fails; ``label`` one line ("dX fails only when
    stride > 1"); ``hints`` the group's hints; ``reproduce`` a command that
    shows it on its first student's submission (from that student's folder, unisolated: it runs their code).
    """

    kind: str
    checks: list
    label: str
    students: list = field(default_factory=list)
    hints: list = field(default_factory=list)
    reproduce: str = ""

    def to_dict(self):
        return {"kind": self.kind, "checks": list(self.checks), "label": self.label, "students": list(self.students),
                "hints": list(self.hints), "reproduce": self.reproduce}


def by_cause(result):
    """The class's causes of failure, the most common first (then by label)."""
    groups = {}
    for submission in result.submissions:
        for key, texts, make in _diagnoses(submission):
            group = groups.setdefault(key, [make, []])
            group[1].append((submission, texts))
    causes = [_merged(make, members) for make, members in groups.values()]
    return sorted(causes, key=lambda cause: (-len(cause.students), cause.label))


def _diagnoses(submission):
    """(key, texts, make) for each cause of the submission's failure: ``texts`` are what differ only in numbers
    between students of the same key, ``make(texts)`` the Cause those texts read as."""
    diagnosed, report = set(), submission.report
    if submission.error:
        stopped = report.stopped.reproduce if report is not None and report.stopped is not None else ""
        yield (ERROR, _template(submission.error)), [submission.error], \
            lambda texts: Cause(ERROR, [], f"could not be graded fully ({texts[0]})",
                                reproduce=_from_folder(submission, stopped))
    findings = report.findings if report is not None else []
    for finding in findings:
        diagnosed.update(finding.names)
        texts = list(finding.hints)
        key = (finding.kind, tuple(finding.names), tuple(finding.scope), tuple(finding.rules),
               tuple(_template(text) for text in texts))
        yield key, texts, _finding_cause(finding, submission)
    if submission.error:
        return  # the checks it left unfinished fail because of the error, which has its group
    alike = {}  # checks failing without a finding, by their message (several fail alike where none was made)
    for check in submission.checks:
        if check.status == "fail" and check.name not in diagnosed:
            alike.setdefault(_template(check.message), []).append(check)
    for template, checks in alike.items():
        names = [check.name for check in checks]
        yield ("failure", tuple(names), template), [checks[0].message], \
            lambda texts, names=names: Cause("failure", names, f"{' and '.join(names)} "
                                                               f"fail{'s' if len(names) == 1 else ''}: {texts[0]}")


def _finding_cause(finding, submission):
    names = " and ".join(finding.names)
    scope = f"with {' and '.join(finding.scope)}, " if finding.scope else ""
    rules = f" only when {' and '.join(finding.rules)}" if finding.rules else ""
    if finding.kind == REFUSAL:
        label = f"{names}: the layer refuses {scope}configurations{rules or ' it should accept'}"
    else:
        label = f"{names} {scope}fail{'s' if len(finding.names) == 1 else ''}{rules}"
    return lambda texts: Cause(finding.kind, list(finding.names), label, hints=texts,
                               reproduce=_from_folder(submission, finding.reproduce))


def _from_folder(submission, command):
    """``command``, a reproduction command naming the submission's files as its student does, run from its folder
    (from here when that is where the grader runs)."""
    if not command:
        return ""
    folder = submission.path if os.path.isdir(submission.path) else os.path.dirname(submission.path) or "."
    if os.path.abspath(folder) == os.getcwd():
        return command
    return f"cd {shlex.quote(folder)} && {command}"


def _template(text):
    return NUMBER.sub("#", text)


def _merged(make, members):
    """The Cause of a group: its texts with every number that differs between the members as VARIES."""
    first = members[0][1]
    texts = [_merge([texts[index] for _, texts in members]) for index in range(len(first))]
    cause = make(texts)
    cause.students = list(dict.fromkeys(submission.name for submission, _ in members))
    return cause


def _merge(texts):
    """One text whose numbers are those all ``texts`` share (the texts differ in numbers only)."""
    numbers = [NUMBER.findall(text) for text in texts]
    pieces = NUMBER.split(texts[0])
    merged = [pieces[0]]
    for index, piece in enumerate(pieces[1:]):
        values = {found[index] for found in numbers}
        merged += [values.pop() if len(values) == 1 else VARIES, piece]
    return "".join(merged)

