"""Several catalogue layers of each submission graded together: ``gradcheck grade --layers affine,relu,...``.

Each kind is graded by a run of its own (``grade.grade``: a sandboxed child
per submission and kind, with the run's limits), every run with the same
seed, and the runs are joined per submission.  In the joined grade, kind K's
check C is named "K.C" ("affine.dx"): so are its points and visibility in a
course file ("affine.dx" = 2, or ``[points.affine]`` with ``dx = 2``), its
column, test and cause.  A kind whose child died, or whose layer could not be
loaded, scores 0 on its own checks and says why; the other kinds keep theirs.
"""
from dataclasses import dataclass, replace

from ..checks import check_names, kind_check
from ..fuzz import default_seed
from ..kinds import catalogue
from .grade import GradeResult, SubmissionResult, grade, prepare


def parse_layers(text):
    """``"affine,relu=Relu"`` -> {kind: the NAME each submission defines for it}: a kind alone is named as cs231n
    names its forward (``affine_forward``, ``spatial_groupnorm_forward``; a loss by its own name,
    ``softmax_loss``).  ValueError saying what is wrong."""
    layers = {}
    for item in text.split(","):
        kind, _, name = (part.strip() for part in item.partition("="))
        if kind not in catalogue():
            raise ValueError(f"--layers: {kind!r} is not a kind of `gradcheck list` (write KIND or KIND=NAME, "
                             "separated by commas: affine,relu=Relu)")
        if kind in layers:
            raise ValueError(f"--layers names {kind} twice")
        layers[kind] = name or catalogue()[kind].form.cs231n_name
    return layers


def layers_text(layers):
    """The ``--layers`` text of ``layers`` ({kind: NAME}), every name written out."""
    return ",".join(f"{kind}={name}" for kind, name in layers.items())


def prepare_layers(layers, *, points=None, **options):
    """{kind: the grade.Settings it is graded with} for ``layers`` ({kind: NAME}), every kind validated and given
    the same seed; ``points`` maps the joined names ("affine.dx") to what passing each is worth.  The options
    are ``grade.prepare``'s but ``backward`` (each kind's backward is found by its name)."""
    if not layers:
        raise ValueError("--layers needs at least one kind")
    if options.get("backward") is not None:
        raise ValueError("--backward names one backward; with --layers each kind's backward is found by its name")
    options["seed"] = default_seed() if options.get("seed") is None else options["seed"]
    shares = _points_per_kind(layers, points or {})
    return {kind: prepare(kind, name, points=shares[kind], **options) for kind, name in layers.items()}


def grade_layers(paths, layers, *, workers=None, progress=None, deadline=None, points=None, **options):
    """Grade every submission in ``paths`` for each kind of ``layers`` ({kind: NAME}); one GradeResult whose
    layer is the kinds joined by commas and whose checks are named "kind.check" (of one kind alone, the grade of
    ``grade.grade``, its checks named as usual).

    ``points`` and the options are ``prepare_layers``'; ``workers``,
    ``progress`` and ``deadline`` are ``grade.grade``'s, for each kind's run.
    Every kind is validated before any is graded.
    """
    if len(layers) == 1:
        (kind, name), = layers.items()
        return grade(paths, kind, name, workers=workers, progress=progress, deadline=deadline, points=points,
                     **options)
    chosen = prepare_layers(layers, points=points, **options)
    options["seed"] = next(iter(chosen.values())).seed
    results = {kind: grade(paths, kind, name, workers=workers, deadline=deadline, points=chosen[kind].points,
                           progress=progress and _counting_on(progress, done, len(layers)), **options)
               for done, (kind, name) in enumerate(layers.items())}
    return _joined(layers, results)


def _points_per_kind(layers, points):
    """{kind: {check: points}} of the joined names' ``points``; ValueError naming a check no kind has."""
    checks = check_names(",".join(layers))
    for name in points:
        if name not in checks:
            raise ValueError(f"points: {','.join(layers)} has no check {name!r}; choose from {', '.join(checks)}")
    return {kind: {check: points[kind_check(kind, check)] for check in check_names(kind)
                   if kind_check(kind, check) in points} for kind in layers}


def _counting_on(progress, done, runs):
    """``progress`` of the whole grade, told by the run of one kind (after ``done`` runs of ``runs``)."""
    return lambda finished, total, submission: progress(done * total + finished, runs * total, submission)


def _joined(layers, results):
    first = next(iter(results.values()))
    submissions = [_joined_submission({kind: result.submissions[index] for kind, result in results.items()})
                   for index in range(len(first.submissions))]
    points = {kind_check(kind, name): value for kind, result in results.items()
              for name, value in result.points.items()}
    return GradeResult(",".join(layers), ",".join(layers.values()), first.seed, first.examples, first.limits,
                       submissions, sum(result.duration_s for result in results.values()), first.sandbox,
                       first.sandbox_problem, points)


def _joined_submission(grades):
    """One submission's grade from its grade for each kind ({kind: SubmissionResult})."""
    first = next(iter(grades.values()))
    errors = [f"{kind}: {grade.error}" for kind, grade in grades.items() if grade.error]
    report = LayersReport({kind: grade.report for kind, grade in grades.items()})
    return SubmissionResult(
        first.name, first.path, all(grade.passed for grade in grades.values()),
        round(sum(grade.score for grade in grades.values()), 2), sum(grade.max_score for grade in grades.values()),
        report.checks, "; ".join(errors) or None, sum(grade.duration_s for grade in grades.values()), report,
        first.file, _printed(grades, "stdout"), _printed(grades, "stderr"),
        {kind_check(kind, name): value for kind, grade in grades.items() for name, value in grade.earned.items()})


def _printed(grades, stream):
    """What the layers printed on ``stream``, each kind's under its name."""
    return "".join(f"[{kind}]\n{getattr(grade, stream)}" for kind, grade in grades.items() if getattr(grade, stream))


@dataclass
class LayersReport:
    """One submission's reports on several kinds ({kind: generic.FunctionReport, or None where its child
    died}), read as one report whose checks and findings are named "kind.check"."""

    reports: dict

    stopped = None  # a kind's run never stops partway: its child's death leaves it no report

    @property
    def _living(self):
        return [(kind, report) for kind, report in self.reports.items() if report is not None]

    @property
    def checks(self):
        return [_named(kind, check) for kind, report in self._living for check in report.checks]

    @property
    def findings(self):
        return [replace(finding, names=[kind_check(kind, name) for name in finding.names],
                        results=[_named(kind, result) for result in finding.results])
                for kind, report in self._living for finding in report.findings]

    @property
    def notes(self):
        return [f"{kind}: {note}" for kind, report in self._living for note in report.notes]

    @property
    def counterexample(self):
        findings = self.findings
        return findings[0] if findings else None

    @property
    def reproduce(self):
        """The command of each kind's whole search, one after another."""
        return "; ".join(report.reproduce for _, report in self._living)


def _named(kind, check):
    return replace(check, name=kind_check(kind, check.name))
