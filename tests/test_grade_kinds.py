"""gradcheck grade on a catalogue kind (affine): hostile submissions graded under the real bwrap sandbox.

The layer runs in the sandboxed child (``load_pair``, ``pair_forward``,
``pair_backward``); the search, the reference and the verdict stay in the
grading process.  Every submission is a file of tests/hostile_kinds/, most
computing an honest affine layer, right or wrong (wrong_db.py: db averaged
over the batch, 5 of 6), so that an attack that works shows up as a better
grade than its computation deserves.
"""
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gradcheck import report
from gradcheck.generic import FunctionReport
from gradcheck.grading.grade import SubmissionResult, grade, prepare
from gradcheck.grading.sandbox import sandbox_problem
from gradcheck.kinds import catalogue, check_kind
from gradcheck.userfiles import import_file

HERE = Path(__file__).parent
SUBMISSIONS = HERE / "hostile_kinds"
CONTAINER = HERE / "container.sh"
RUN = dict(seed=0, examples=3, timeout=3, memory=512, workers=2)
CHECKS = ["forward", "repeatable", "no-mutation", "dx", "dW", "db"]
HINT = "db is the reference divided by N=2, everywhere: a mean where a sum belongs?"

# One worker of pytest-xdist runs this module, so that its module fixtures (whole class runs) are made once.
pytestmark = [pytest.mark.xdist_group("test_grade_kinds"), pytest.mark.slow]  # whole class runs: the slow suite's
needs_bwrap = pytest.mark.skipif(sandbox_problem() is not None, reason=f"no bwrap sandbox here: {sandbox_problem()}")

# submission (graded as affine_forward) -> (its score of 6, the checks that fail, words its one-line reason holds)
GRADED = {
    "right_affine": (6, [], ""),
    "wrong_db": (5, ["db"], "db: 1 of 1 elements differ from the reference (100%)"),
    "forward_dict": (0, ["forward"], "forward: forward returned a dict where an array belongs"),
    "forward_none": (0, ["forward"], "forward: forward returned None as its output: is it unfinished?"),
    "forward_flat": (0, ["forward"], "forward: forward has shape (1,), the reference's (1, 1)"),
    "two_gradients": (3, ["dx", "dW", "db"], "dx: backward must return 3 gradients (dx, dW, db, in the order "
                                             "forward takes them), got 2"),
    "lying_array": (3, ["dx", "dW", "db"], "dx: 1 of 1 elements differ from the reference (100%)"),
}
# attacking submission -> the same; each computes wrong_db's mistake, and gets more only if its attack works
ATTACKS = {
    "forge_channel": (0, [], "broke the sandbox protocol during forward: "),
    "patch_server_verdict": (0, [], "broke the sandbox protocol during forward: the reply to pair_forward is "
                                    "malformed"),
    "patch_server_gradients": (3, ["dx", "dW", "db"], "dx: 1 of 1 elements differ from the reference"),
    "exit_when_exposed": (0, [], "exited with status 0 during forward"),
    # graded in the slow run: explaining wrong_db's failure (fails only when N > 1) takes a second each
    "forge_stdout": (5, ["db"], "db: 1 of 1 elements differ from the reference"),
    "forge_results": (5, ["db"], "db: 1 of 1 elements differ from the reference"),
    "patch_server_claims": (5, ["db"], "db: 1 of 1 elements differ from the reference"),
}
SLOW_ATTACKS = ("forge_stdout", "forge_results", "patch_server_claims")
# submission -> the error that stopped it before any check: score 0
STOPPED = {
    "import_reference": "could not load affine_forward: import_reference.py could not be imported: "
                        "ModuleNotFoundError: No module named 'reference_layers'",
    "import_kinds": "could not load affine_forward: import_kinds.py could not be imported: ModuleNotFoundError: "
                    "No module named 'gradcheck.kinds'",
    "memory_bomb": "ran out of memory during forward (MemoryError: ",
    "exit_when_exposed": "exited with status 0 during forward",
    "forge_channel": "broke the sandbox protocol during forward: ",
    "patch_server_verdict": "broke the sandbox protocol during forward: ",
}
# what each attack says it did, on its standard output: the evidence that it ran
ATTEMPTED = {
    "forge_stdout": '{"id": 2, "passed": true, "score": 6, "arrays": []}',
    "forge_results": "forged results written into []",  # no pipe of another process in sight
    "patch_server_claims": "patched gradcheck.grading.child.encode",
    "patch_server_gradients": "patched gradcheck.grading.child._Server.op_pair_backward",
    "patch_server_verdict": "patched gradcheck.grading.child._Server.handle",
}
# submission (graded as Affine, a "Deep Learning from Scratch" class) -> as GRADED
CLASSES = {
    "right_affine_class": (6, [], ""),
    "no_db_class": (5, ["db"], "db: backward must leave the gradient of b in self.db (or in self.grads, beside b "
                               "in self.params); Affine has none"),
    "wrong_db_class": (5, ["db"], "db: 1 of 1 elements differ from the reference (100%)"),  # in the slow run
    "forge_note": (5, ["db"], "db: 1 of 1 elements differ from the reference (100%)"),  # a class of its own weights
}
SLOW_CLASSES = ("wrong_db_class",)


def submissions(names):
    return [SUBMISSIONS / f"{name}.py" for name in names]


def graded_by_name(names, impl):
    """(the GradeResult of ``names`` graded as ``impl`` in one run, two at a time, submission by name)."""
    result = grade(submissions(names), "affine", impl, **RUN)
    return result, {submission.name: submission for submission in result.submissions}


@pytest.fixture(scope="module")
def graded():
    """The cs231n-style submissions the fast tests look at."""
    return graded_by_name([name for name in {**GRADED, **ATTACKS, **STOPPED} if name not in SLOW_ATTACKS],
                          "affine_forward")


@pytest.fixture(scope="module")
def slow_graded():
    """The honest mistake again, the attacks whose grade needs its failure explained, a hang, and a layer that
    refuses where its mistakes would show beside the same mistakes computed honestly."""
    return graded_by_name(["wrong_db", *SLOW_ATTACKS, "hang", "mean_loss", "refuse_when_exposed"], "affine_forward")


@pytest.fixture(scope="module")
def classes():
    return graded_by_name([name for name in CLASSES if name not in SLOW_CLASSES], "Affine")[1]


@pytest.fixture(scope="module")
def slow_classes():
    return graded_by_name(SLOW_CLASSES, "Affine")[1]


def failing(submission):
    return [check.name for check in submission.checks if check.status == "fail"]


def assert_graded(submission, score, failed, words):
    assert (submission.score, submission.max_score, failing(submission)) == (score, 6, failed), submission.reason
    assert submission.passed == (score == 6) and submission.error is None
    assert [check.name for check in submission.checks] == CHECKS
    assert words in submission.reason and "\n" not in submission.reason and "Traceback" not in submission.reason


def slow(names, slow_ones):
    return [pytest.param(name, marks=pytest.mark.slow) if name in slow_ones else name for name in names]


@needs_bwrap
@pytest.mark.parametrize("name", GRADED)
def test_each_layer_gets_what_it_computes_with_a_clear_reason(graded, name):
    assert_graded(graded[1][name], *GRADED[name])


@needs_bwrap
@pytest.mark.parametrize("name", slow(CLASSES, SLOW_CLASSES))
def test_a_class_gets_what_it_computes_with_a_clear_reason(request, name):
    run = request.getfixturevalue("slow_classes" if name in SLOW_CLASSES else "classes")
    assert_graded(run[name], *CLASSES[name])


@needs_bwrap
def test_the_honest_mistake_gets_its_hint_and_where_it_shows(graded):
    wrong = graded[1]["wrong_db"]
    (db,) = [check for check in wrong.checks if check.name == "db"]
    assert db.hints == [HINT] and isinstance(wrong.report, FunctionReport)
    assert wrong.report.counterexample.facts[0].startswith("fails only when N > 1 (passes with N=1")
    shown = render_text(graded[0])
    assert f"hint: {HINT}" in shown and "db fails only when N > 1 · 1 student: wrong_db" in shown
    assert "gradcheck affine --impl wrong_db.py:affine_forward --dim D=1 --dim M=1 --dim N=2 --seed 0" in shown


@needs_bwrap
@pytest.mark.slow
def test_the_honest_mistake_in_a_class_gets_its_hint(slow_classes):
    (db,) = [check for check in slow_classes["wrong_db_class"].checks if check.name == "db"]
    assert db.hints == [HINT]


@needs_bwrap
def test_a_note_the_child_forges_is_not_printed(classes):
    """The child's note on how it built a class making its own weights is taken only when it is what forms would
    write; a forged one is dropped, and the layer is graded on what it computes."""
    forged = classes["forge_note"]
    assert "patched gradcheck.grading.child.encode" in forged.stdout
    assert forged.report.notes == [] and "full points" not in json.dumps(forged.to_dict())


def render_text(result):
    stream = io.StringIO()
    report.render_grade_text(result, report.make_console(stream))
    return " ".join(stream.getvalue().split())


@needs_bwrap
@pytest.mark.parametrize("name", slow(ATTACKS, SLOW_ATTACKS))
def test_attackers_get_no_more_than_their_computation_deserves(request, name):
    run = request.getfixturevalue("slow_graded" if name in SLOW_ATTACKS else "graded")[1]
    attacker, honest = run[name], run["wrong_db"]
    score, failed, words = ATTACKS[name]
    assert (attacker.score, attacker.max_score, failing(attacker)) == (score, 6, failed), attacker.reason
    assert attacker.score <= honest.score == 5 and not attacker.passed
    assert words in attacker.reason and "\n" not in attacker.reason
    assert ATTEMPTED.get(name, "") in attacker.stdout


@needs_bwrap
@pytest.mark.parametrize("name", STOPPED)
def test_a_submission_stopped_before_its_verdict_scores_nothing(graded, name):
    stopped = graded[1][name]
    assert (stopped.score, stopped.max_score, stopped.checks, stopped.report) == (0, 6, [], None)
    assert stopped.error == stopped.reason and stopped.error.startswith(STOPPED[name]), stopped.error
    assert "\n" not in stopped.error and "Traceback" not in stopped.error
    assert stopped.duration_s < RUN["timeout"] + 2  # stopped for what it did, never left to time out


# -- no sandbox needed ----------------------------------------------------------

def test_a_kind_result_round_trips_through_json():
    """What a grading process sends: a kind's report is a generic.FunctionReport, with its findings and hints."""
    kind = catalogue()["affine"]
    settings = prepare("affine", "affine_forward", seed=0, examples=3)
    checked = check_kind(kind, import_file(str(SUBMISSIONS / "wrong_db.py")).affine_forward, seed=0, examples=3,
                         words=("affine", "--impl", "wrong_db.py:affine_forward"))
    earned = settings.earned(checked)
    result = SubmissionResult("wrong_db", "wrong_db.py", False, sum(earned.values()), settings.max_score,
                              list(checked.checks), report=checked, file="wrong_db.py", earned=earned)
    data = json.loads(json.dumps(result.to_dict(details=True)))
    again = SubmissionResult.from_dict(data)
    assert isinstance(again.report, FunctionReport) and data["layout"] is None
    assert json.loads(json.dumps(again.to_dict(details=True))) == data
    assert (again.score, again.max_score, failing(again), again.reason) == (5, 6, ["db"], result.reason)
    assert again.checks[-1].hints == [HINT] and again.report.counterexample.facts == checked.counterexample.facts
    assert again.report.counterexample.reproduce == "gradcheck affine --impl wrong_db.py:affine_forward --dim D=1 " \
                                                   "--dim M=1 --dim N=2 --seed 0"


@pytest.mark.parametrize("layer,options,message", [
    ("affine", dict(stride=2), "--stride is for conv and pooling layers; affine is graded on the shapes its kind "
                               "draws"),
    ("affine", dict(partial_credit=True), "--partial-credit is for conv and pooling layers"),
    ("affine", dict(points={"dX": 2}), "points: affine has no check 'dX'"),
])
def test_what_a_kind_cannot_be_graded_with_is_refused_by_name(layer, options, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        prepare(layer, f"{layer}_forward", **options)


# -- the probes: a layer's modes, called in the sandboxed child and judged here --------

BATCHNORM = """import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode, eps, momentum = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(x.shape[1]))
    running_var = bn_param.get("running_var", np.zeros(x.shape[1]))
    if mode == "train" or TEST_ON_THE_BATCH:
        mean, var = x.mean(axis=0), x.var(axis=0)
        if mode == "train" and UPDATED:
            running_mean = momentum * running_mean + (1 - momentum) * mean
            running_var = momentum * running_var + (1 - momentum) * var
    else:
        mean, var = running_mean, running_var
    bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    xhat = (x - mean) / np.sqrt(var + eps)
    return gamma * xhat + beta, (xhat, gamma, np.sqrt(var + eps))


def batchnorm_backward(dout, cache):
    xhat, gamma, std = cache
    dxhat = dout * gamma
    dx = (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / std
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)
"""
DROPOUT = """import numpy as np


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    np.random.seed(dropout_param["seed"])
    mask = (np.random.rand(*x.shape) < p) / (p if SCALED else 1) if mode == "train" else None
    return (x * mask if mode == "train" else x), mask


def dropout_backward(dout, mask):
    return dout * mask
"""
LYING = """
import gradcheck.grading.child as child


def claiming(self, header, arrays):  # the running averages a right layer keeps, and one value more
    values, out = self._wire("read", [np.full(3, 0.5), np.full(3, 2.0), np.zeros(3)])
    return {"values": values}, out


child._Server.op_modes_kept = claiming
"""
# submission -> (kind, its source, the checks that fail, the hint of the first)
MODES = {
    "batchnorm_right": ("batchnorm", BATCHNORM.replace("TEST_ON_THE_BATCH", "False").replace("UPDATED", "True"),
                        [], None),
    "batchnorm_never_updated": ("batchnorm", BATCHNORM.replace("TEST_ON_THE_BATCH", "False").replace("UPDATED",
                                                                                                     "False"),
                                ["running-averages"], "train mode left running_mean and running_var as the layer"),
    "batchnorm_test_on_the_batch": ("batchnorm", BATCHNORM.replace("TEST_ON_THE_BATCH", "True").replace("UPDATED",
                                                                                                        "True"),
                                    ["test-mode"], "test mode normalizes with the batch's mean and variance"),
    "dropout_right": ("dropout", DROPOUT.replace("SCALED", "True"), [], None),
    "dropout_unscaled": ("dropout", DROPOUT.replace("SCALED", "False"), ["test-mode"],
                         "train mode does not scale by 1/p and test mode returns x"),
}
LIAR = BATCHNORM.replace("TEST_ON_THE_BATCH", "False").replace("UPDATED", "False") + LYING  # never updates them


@pytest.fixture(scope="module")
def modes_graded(tmp_path_factory):
    """Each submission of MODES graded for its kind under bwrap: {name: SubmissionResult}."""
    folder = tmp_path_factory.mktemp("modes")
    graded = {}
    sources = {**{name: case[1] for name, case in MODES.items()}, "batchnorm_lying": LIAR}
    for name, source in sources.items():
        (folder / f"{name}.py").write_text(source)
    for kind in ("batchnorm", "dropout"):
        names = [name for name in sources if name.startswith(kind)]
        result = grade([folder / f"{name}.py" for name in names], kind, f"{kind}_forward", seed=0, examples=3,
                       timeout=20, memory=512, workers=2)
        graded.update({submission.name: submission for submission in result.submissions})
    return graded


@needs_bwrap
@pytest.mark.slow
@pytest.mark.parametrize("name", MODES)
def test_the_probes_of_a_kinds_modes_are_graded_from_the_sandbox(modes_graded, name):
    kind, _, checks, hint = MODES[name]
    graded = modes_graded[name]
    assert [check.name for check in graded.checks] == catalogue()[kind].checks
    assert (failing(graded), graded.score, graded.error) == (checks, graded.max_score - len(checks), None)
    assert hint is None or next(c for c in graded.checks if c.name == checks[0]).hints[0].startswith(hint)
    assert not any("not checked" in note for note in graded.report.notes)


@needs_bwrap
@pytest.mark.slow
def test_a_child_that_says_more_than_the_probe_asked_scores_nothing(modes_graded):
    assert (modes_graded["batchnorm_lying"].score, modes_graded["batchnorm_lying"].error) == (
        0, "broke the sandbox protocol during read: the reply to modes_kept holds no 2 values (did it write to "
           "gradcheck's channel?)")


# -- slow: time limits, refusals, another kind, another isolation ----------------

@needs_bwrap
@pytest.mark.slow
def test_a_forward_that_never_returns_times_out_and_scores_nothing(slow_graded):
    hang = slow_graded[1]["hang"]
    assert (hang.score, hang.checks, hang.report) == (0, [], None)
    assert hang.error == "timed out: exceeded the time limit of 3 s during forward"
    assert hang.duration_s < RUN["timeout"] + 2


@needs_bwrap
@pytest.mark.slow
def test_refusing_where_the_mistakes_show_never_pays(slow_graded):
    """mean_loss computes every gradient divided by N (3 of 6); refuse_when_exposed computes the same but raises
    for N > 1, where they would show: its gradients were made only where they are right, so none counts."""
    honest, refusing = slow_graded[1]["mean_loss"], slow_graded[1]["refuse_when_exposed"]
    assert (honest.score, failing(honest)) == (3, ["dx", "dW", "db"])
    assert (refusing.score, failing(refusing)) == (0, CHECKS)
    assert refusing.reason.startswith(
        "forward: forward raised ValueError: batches of more than one row are not supported")
    made = {check.message for check in refusing.checks if check.name != "forward"}
    assert made == {"passed on 2 of 4 configurations; not made on the others, where the layer failed an earlier "
                    "check first (a check counts only if it passes on every configuration)"}


@needs_bwrap
@pytest.mark.slow
def test_another_kind_is_graded_the_same_way():
    """relu: examples/affine_relu.py's is right; examples/wrong_affine_relu.py's writes into the caller's x."""
    examples = HERE.parent / "examples"
    result = grade([examples / "affine_relu.py", examples / "wrong_affine_relu.py"], "relu", "relu_forward", **RUN)
    right, in_place = result.submissions
    assert (right.score, right.max_score, right.passed) == (4, 4, True)
    assert (in_place.score, failing(in_place)) == (3, ["no-mutation"])
    assert in_place.reason == "no-mutation: forward or backward changed x in place"


AS_USERS = """
import json, sys
from gradcheck.grading.grade import grade
result = grade(sys.argv[1:], "affine", "affine_forward", sandbox="user", seed=0, examples=3, timeout=5, memory=512,
               workers=2)
print(json.dumps({"sandbox": result.sandbox, "submissions": [dict(s.to_dict(), reason=s.reason, stdout=s.stdout)
                                                             for s in result.submissions]}))
"""


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="the simulated Gradescope container needs root")
def test_isolated_as_users_of_their_own_the_grades_are_the_same(tmp_path):
    """In the simulated Gradescope container (container.sh), where bwrap cannot run, each submission runs as an
    unprivileged user of its own: a right layer, the honest mistake and a patched server grade as under bwrap."""
    names = ["right_affine", "wrong_db", "patch_server_claims"]
    for path in submissions(names):
        shutil.copyfile(path, tmp_path / path.name)
    done = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "bash", str(CONTAINER),
                           "--bind", str(tmp_path), "/tmp/private/class", "--", sys.executable, "-c", AS_USERS,
                           *(f"/tmp/private/class/{name}.py" for name in names)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    rows = {row["name"]: row for row in run["submissions"]}
    assert run["sandbox"] == "user"
    assert (rows["right_affine"]["score"], rows["right_affine"]["passed"]) == (6, True)
    for name in ("wrong_db", "patch_server_claims"):
        row = rows[name]
        assert (row["score"], row["max_score"], row["error"]) == (5, 6, None)
        assert [check["name"] for check in row["checks"] if check["status"] == "fail"] == ["db"]
    assert ATTEMPTED["patch_server_claims"] in rows["patch_server_claims"]["stdout"]
