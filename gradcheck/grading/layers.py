"""Several layers of each submission graded together: ``gradcheck grade --layers conv,maxpool,affine,relu,...``.

Each kind is graded by a run of its own (``grade.grade``: a sandboxed child
per submission and kind, with the run's limits), every run with the same
seed, and the runs are joined per submission.  In the joined grade, kind K's
check C is named "K.C" ("affine.dx"): so are its points and visibility in a
course file ("affine.dx" = 2, or ``[points.affine]`` with ``dx = 2``), its
column, test and cause.  A kind whose child died, or whose layer could not be
loaded, scores 0 on its own checks and says why; the other kinds keep theirs.
Conv and the pools are such kinds too, graded on their own engine, with the
geometry and the options that are theirs (``_options_for``).
"""
from dataclasses import dataclass, replace

from .. import generic
from ..checks import check_names, kind_check
from ..fuzz import default_seed
from ..kinds import catalogue, windowed
from .grade import PINS, GradeResult, SubmissionResult, grade, prepare


CONV_ONLY = ("filters", "dilation")
# what conv and pooling are graded with and a catalogue kind refuses (grade.prepare)
CONV_OPTIONS = ("convention", "layout", "fast", "method", "precision", "divisible", "partial_credit", *PINS)


def parse_layers(text):
    """``"conv,maxpool,affine,relu=Relu"`` -> {kind: the NAME each submission defines for it}: a kind alone is
    named as cs231n names its forward (``conv_forward_naive``, ``affine_forward``, ``spatial_groupnorm_forward``;
    a loss by its own name, ``softmax_loss``).  ValueError saying what is wrong."""
    layers = {}
    for item in text.split(","):
        kind, _, name = (part.strip() for part in item.partition("="))
        if kind not in catalogue():
            raise ValueError(f"--layers: {kind!r} is not a kind of `gradcheck list` (write KIND or KIND=NAME, "
                             "separated by commas: conv,affine,relu=Relu)")
        if kind in layers:
            raise ValueError(f"--layers names {kind} twice")
        if not name and not catalogue()[kind].cs231n_name:
            raise ValueError(f"--layers: cs231n has no {kind} to name it after: write {kind}=NAME")
        layers[kind] = name or catalogue()[kind].cs231n_name
    return layers


def layers_text(layers):
    """The ``--layers`` text of ``layers`` ({kind: NAME}), every name written out."""
    return ",".join(f"{kind}={name}" for kind, name in layers.items())


def prepare_layers(layers, *, points=None, geometry=None, **options):
    """{kind: the grade.Settings it is graded with} for ``layers`` ({kind: NAME}), every kind validated and given
    the same seed; ``points`` maps the joined names ("affine.dx") to what passing each is worth, ``geometry`` a
    conv or pooling layer to its own pins (a course file's [geometry.KIND]).  The options are ``grade.prepare``'s
    but ``backward`` (each kind's backward is found by its name): conv's and pooling's go to them alone."""
    if not layers:
        raise ValueError("--layers needs at least one kind")
    if options.get("backward") is not None:
        raise ValueError("--backward names one backward; with --layers each kind's backward is found by its name")
    options["seed"] = default_seed() if options.get("seed") is None else options["seed"]
    shares = _points_per_kind(layers, points or {})
    return {kind: prepare(kind, name, points=shares[kind], **_options_for(kind, layers, options, geometry or {}))
            for kind, name in layers.items()}


def _options_for(kind, layers, options, geometry):
    """The options a kind of ``layers`` is graded with: among conv and pooling layers, the geometry and the
    options of theirs are theirs alone (a pool's: but filters and dilation), a layer's own ``geometry`` over
    them; with none among them, every kind is given every option, and a kind of the catalogue refuses theirs by
    name."""
    if not set(layers) & set(windowed()):
        return options
    if kind not in windowed():
        return {name: value for name, value in options.items() if name not in CONV_OPTIONS}
    shared = {name: value for name, value in options.items() if windowed()[kind].weights or name not in CONV_ONLY}
    return {**shared, **geometry.get(kind, {})}


def grade_layers(paths, layers, *, workers=None, progress=None, deadline=None, points=None, geometry=None,
                 **options):
    """Grade every submission in ``paths`` for each kind of ``layers`` ({kind: NAME}); one GradeResult whose
    layer is the kinds joined by commas and whose checks are named "kind.check" (of one kind alone, the grade of
    ``grade.grade``, its checks named as usual).

    ``points``, ``geometry`` and the options are ``prepare_layers``'; ``workers``,
    ``progress`` and ``deadline`` are ``grade.grade``'s, for each kind's run.
    Every kind is validated before any is graded.
    """
    geometry = geometry or {}
    if len(layers) == 1:
        (kind, name), = layers.items()
        return grade(paths, kind, name, workers=workers, progress=progress, deadline=deadline, points=points,
                     **{**options, **geometry.get(kind, {})})
    chosen = prepare_layers(layers, points=points, geometry=geometry, **options)
    options["seed"] = next(iter(chosen.values())).seed
    results = {kind: grade(paths, kind, name, workers=workers, deadline=deadline, points=chosen[kind].points,
                           progress=progress and _counting_on(progress, done, len(layers)),
                           **_options_for(kind, layers, options, geometry))
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
    """One submission's reports on several kinds ({kind: a catalogue kind's generic.FunctionReport, conv's or a
    pool's api.Report, or None where its child died}), read as one report whose checks and findings are named
    "kind.check"."""

    reports: dict

    @property
    def stopped(self):
        """Where a conv or pooling run stopped partway (a catalogue kind's never does: its child's death leaves
        it no report), or None."""
        return next((report.stopped for _, report in self._living if getattr(report, "stopped", None)), None)

    @property
    def _living(self):
        return [(kind, report) for kind, report in self.reports.items() if report is not None]

    @property
    def checks(self):
        return [_named(kind, check) for kind, report in self._living for check in report.checks]

    @property
    def findings(self):
        return [_named_finding(kind, finding) for kind, report in self._living for finding in report.findings]

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


def _named_finding(kind, finding):
    """``finding`` with its checks named "kind.check": a catalogue kind's (generic.Finding), or conv's or a
    pooling layer's (fuzz.Finding)."""
    if isinstance(finding, generic.Finding):
        return replace(finding, names=[kind_check(kind, name) for name in finding.names],
                       results=[_named(kind, result) for result in finding.results])
    return replace(finding, checks=[_named(kind, check) for check in finding.checks],
                   also_failing=[kind_check(kind, name) for name in finding.also_failing])
