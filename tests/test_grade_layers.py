"""gradcheck grade --layers: several catalogue kinds of each submission graded together, one run a kind, joined
per submission with every check named by its kind ("affine.dx"), under the real bwrap sandbox (the grading runs
are in the slow suite)."""
import csv
import io
import json
import xml.etree.ElementTree as ET
import zipfile

import pytest
from click.testing import CliRunner

from gradcheck import report
from gradcheck.cli import main
from gradcheck.grading import autograder
from gradcheck.grading.course import parse
from gradcheck.grading.grade import grade
from gradcheck.grading.layers import grade_layers, parse_layers, prepare_layers
from gradcheck.grading.sandbox import sandbox_problem

from test_grade import REPOSITORY

EXAMPLES = REPOSITORY / "examples"
LAYERS = {"affine": "affine_forward", "relu": "relu_forward"}
AFFINE = ["forward", "repeatable", "no-mutation", "dx", "dW", "db"]
RELU = ["forward", "repeatable", "no-mutation", "dx"]
JOINED = [f"affine.{name}" for name in AFFINE] + [f"relu.{name}" for name in RELU]
RELU_EXITS = '''import os


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    os._exit(3)


def relu_backward(dout, cache):
    return dout
'''

pytestmark = [pytest.mark.skipif(sandbox_problem() is not None, reason=f"no bwrap sandbox here: {sandbox_problem()}"),
              pytest.mark.xdist_group("test_grade_layers")]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """examples/affine_relu.py (right), examples/wrong_affine_relu.py (db averaged; relu changes x in place) and a
    folder whose relu_forward exits, graded for affine and relu."""
    folder = tmp_path_factory.mktemp("class") / "relu_exits"
    folder.mkdir()
    (folder / "layers.py").write_text(RELU_EXITS)
    result = grade_layers([EXAMPLES / "affine_relu.py", EXAMPLES / "wrong_affine_relu.py", folder], dict(LAYERS),
                          seed=0, examples=5, timeout=10, memory=512, workers=2)
    return result, {submission.name: submission for submission in result.submissions}


def failing(submission):
    return [check.name for check in submission.checks if check.status == "fail"]


@pytest.mark.slow
def test_each_kind_is_graded_and_its_checks_are_named_by_it(graded):
    result, by_name = graded
    assert (result.layer, result.implementation, result.seed) == ("affine,relu", "affine_forward,relu_forward", 0)
    assert list(result.points) == JOINED
    right, wrong = by_name["affine_relu"], by_name["wrong_affine_relu"]
    assert (right.score, right.max_score, right.passed) == (10, 10, True)
    assert [check.name for check in right.checks] == JOINED
    assert (wrong.score, failing(wrong)) == (8, ["affine.db", "relu.no-mutation"])
    assert wrong.reason == "affine.db: 1 of 1 elements differ from the reference (100%) (and 1 more failing)"
    (db,) = [finding for finding in wrong.report.findings if finding.names == ["affine.db"]]
    assert db.rules == ["N > 1"] and db.reproduce.startswith("gradcheck affine --impl wrong_affine_relu.py:")


@pytest.mark.slow
def test_a_kind_whose_child_dies_scores_nothing_and_the_others_keep_their_points(graded):
    died = graded[1]["relu_exits"]
    assert died.score == 6 and died.error == "relu: exited with status 3 during forward"
    assert [check.name for check in died.checks] == [f"affine.{name}" for name in AFFINE]
    assert [died.earned_by(name) for name in JOINED] == [1] * 6 + [0] * 4


@pytest.mark.slow
def test_every_format_names_the_checks_by_their_kind(graded):
    result, by_name = graded
    rows = list(csv.DictReader(io.StringIO(report.grade_to_csv(result))))
    assert list(rows[0])[7:] == JOINED and rows[2]["relu.dx"] == "error" and rows[1]["affine.db"] == "fail"
    tests = json.loads(report.grade_to_gradescope(by_name["wrong_affine_relu"], result))["tests"]
    assert [test["name"].split(":")[0] for test in tests] == [name.replace(".", " ") for name in JOINED]
    assert [test["score"] for test in tests] == [1, 1, 1, 1, 1, 0, 1, 1, 0, 1]
    assert "hint: db is the reference divided by N=2" in tests[5]["output"]
    causes = [cause.label for cause in report.by_cause(result)]
    assert "affine.db fails only when N > 1" in causes and "relu.no-mutation fails" in causes
    text = io.StringIO()
    report.render_grade_text(result, report.make_console(text))
    assert " · affine (affine_forward), relu (relu_forward) · seed 0 · " in text.getvalue().replace("\n", " ")
    classroom = json.loads(report.grade_to_classroom(by_name["wrong_affine_relu"], result))
    assert (classroom["max_score"], sum(test["score"] for test in classroom["tests"])) == (10, 8)
    suites = ET.fromstring(report.grade_to_junit(result))
    cases = suites[1].findall("testcase")
    assert [case.get("name") for case in cases] == [*JOINED, "submission"]
    assert [case.get("name") for case in cases if case.find("failure") is not None] == ["affine.db",
                                                                                       "relu.no-mutation"]
    assert "<title>gradcheck grade: affine (affine_forward), relu (relu_forward)</title>" in report.grade_to_html(result)


@pytest.mark.slow
def test_one_kind_alone_is_graded_as_layer_and_impl_would():
    alone = grade_layers([EXAMPLES / "affine_relu.py"], {"relu": "relu_forward"}, seed=0, examples=3, workers=1)
    plain = grade([EXAMPLES / "affine_relu.py"], "relu", "relu_forward", seed=0, examples=3, workers=1)
    assert alone.layer == "relu" and alone.submissions[0].earned == plain.submissions[0].earned == \
        dict.fromkeys(RELU, 1)


@pytest.mark.parametrize("text,message", [
    ("affine,nope", "--layers: 'nope' is not a kind of `gradcheck list`"),
    ("affine,affine=Affine", "--layers names affine twice"),
])
def test_a_list_of_layers_that_cannot_be_graded_is_refused_saying_why(text, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        parse_layers(text)


def test_a_kind_alone_is_named_as_cs231n_names_it_and_options_that_do_not_fit_are_refused():
    assert parse_layers("affine, softmax_loss ,relu=Relu,groupnorm,embedding") == {
        "affine": "affine_forward", "softmax_loss": "softmax_loss", "relu": "Relu",
        "groupnorm": "spatial_groupnorm_forward", "embedding": "word_embedding_forward"}
    with pytest.raises(ValueError, match="^--backward names one backward"):
        prepare_layers(dict(LAYERS), backward="affine_backward")
    with pytest.raises(ValueError, match="^points: affine,relu has no check 'dx'; choose from affine.forward, "):
        prepare_layers(dict(LAYERS), points={"dx": 2})
    with pytest.raises(ValueError, match="^--stride is for conv and pooling layers"):
        prepare_layers(dict(LAYERS), stride=2)
    chosen = prepare_layers(dict(LAYERS), points={"affine.dx": 3})
    assert chosen["affine"].seed == chosen["relu"].seed and chosen["affine"].points["dx"] == 3
    assert chosen["relu"].points == dict.fromkeys(RELU, 1)


def test_conv_and_pooling_are_layers_of_a_list_named_as_cs231n_names_them():
    assert parse_layers("conv,maxpool,avgpool=avg_pool_forward,affine") == {
        "conv": "conv_forward_naive", "maxpool": "max_pool_forward_naive", "avgpool": "avg_pool_forward",
        "affine": "affine_forward"}
    with pytest.raises(ValueError, match="^--layers: cs231n has no avgpool to name it after: write avgpool=NAME"):
        parse_layers("avgpool,affine")


def test_conv_and_poolings_options_are_theirs_and_a_layers_own_geometry_is_its_alone():
    chosen = prepare_layers({"conv": "conv_forward_naive", "maxpool": "max_pool_forward_naive", **LAYERS},
                            stride=2, filters=3, precision="float32", geometry={"maxpool": {"pad": 0}})
    assert (chosen["conv"].dimensions, chosen["conv"].precision) == ({"stride": 2, "filters": 3, "dilation": 1},
                                                                     "float32")
    assert (chosen["maxpool"].dimensions, chosen["maxpool"].precision) == ({"stride": 2, "pad": 0}, "float32")
    assert chosen["affine"].layer == "affine" and len({settings.seed for settings in chosen.values()}) == 1


@pytest.mark.parametrize("geometry,message", [
    ({"maxpool": {"pad": 0}}, "course.toml: has no table '[geometry.maxpool]' for conv,affine; choose from "
                              "[geometry.conv]"),
    ({"avgpool": {"filters": 2}}, "course.toml: [geometry.avgpool] has no key 'filters'; choose from batch, "),
])
def test_a_layers_own_geometry_is_for_a_conv_or_pooling_layer_graded(geometry, message):
    with pytest.raises(ValueError, match="^" + message.replace("[", r"\[").replace("(", r"\(")):
        parse({"layers": "conv,affine", "geometry": geometry}).for_layer("conv,affine")


def test_a_course_file_names_a_kinds_checks_in_its_own_table_or_joined():
    course = parse({"layers": "affine,relu", "points": {"affine": {"dx": 3}, "relu.dx": 2},
                    "visibility": {"affine": {"db": "after_due_date"}}})
    assert course.options == {"layers": "affine,relu"}
    assert course.points == {"affine.dx": 3, "relu.dx": 2} and course.visibility == {"affine.db": "after_due_date"}
    assert course.for_layer("affine,relu") is course


def test_the_command_takes_layers_or_layer_and_impl_never_both():
    runner = CliRunner()
    both = runner.invoke(main, ["grade", str(EXAMPLES / "affine_relu.py"), "--layers", "affine", "--layer", "relu"])
    neither = runner.invoke(main, ["grade", str(EXAMPLES / "affine_relu.py"), "--impl", "relu_forward"])
    assert (both.exit_code, both.stderr) == (2, "gradcheck: error: --layers names every layer and its NAME: drop "
                                                "--layer and --impl\n")
    assert (neither.exit_code, neither.stderr) == (2, "gradcheck: error: give the layer every submission implements: "
                                                      "--layer and --impl (missing --layer), or --layers "
                                                      "KIND[=NAME],...\n")


@pytest.mark.slow
def test_a_course_file_grades_its_layers_with_its_points(tmp_path):
    runner = CliRunner()
    course = tmp_path / "course.toml"
    course.write_text('layers = "affine,relu"\nseed = 0\nexamples = 3\n\n[points.affine]\ndb = 4\n')
    graded = runner.invoke(main, ["grade", "--course", str(course), str(EXAMPLES / "wrong_affine_relu.py"),
                                  "--format", "json"])
    (submission,) = json.loads(graded.stdout)["submissions"]
    assert graded.exit_code == 0 and (submission["score"], submission["max_score"]) == (8, 13)  # db's 4 lost, and 1


@pytest.mark.slow
def test_a_gradescope_bundle_freezes_the_layers_and_grades_with_them(tmp_path):
    bundle = tmp_path / "autograder.zip"
    built = CliRunner().invoke(main, ["autograder", "--layers", "affine,relu", "--seed", "0", "--examples", "3",
                                      "--output", str(bundle)])
    assert built.exit_code == 0, built.output
    with zipfile.ZipFile(bundle) as archive:
        arguments = json.loads(archive.read(autograder.MANIFEST))["arguments"]
    assert arguments[:2] == ["--layers", "affine=affine_forward,relu=relu_forward"]
    graded = CliRunner().invoke(main, ["grade", str(EXAMPLES / "wrong_affine_relu.py"), *arguments,
                                       "--format", "gradescope"])
    results = json.loads(graded.stdout)
    assert graded.exit_code == 0 and results["score"] == 8 and len(results["tests"]) == len(JOINED)
    assert results["output"].startswith("gradcheck affine (affine_forward), relu (relu_forward): score 8 of 10")


WRONG_DB = ("db = dout.sum(axis=(0, 2, 3))", "db = dout.mean(axis=(0, 2, 3))")
WHOLE = {"conv": "conv_forward_naive", "maxpool": "max_pool_forward_naive", **LAYERS}


@pytest.mark.slow
def test_a_whole_assignment_is_graded_conv_and_pooling_with_the_catalogues_kinds(tmp_path):
    """cs231n's assignment 2 in one file (examples/cs231n_style.py and examples/affine_relu.py): conv on the
    geometry the command gives, max pool on its own ([geometry.maxpool]: cs231n's takes no padding); a wrong conv
    db loses conv.dB alone."""
    whole = (EXAMPLES / "cs231n_style.py").read_text() + (EXAMPLES / "affine_relu.py").read_text()
    (tmp_path / "right.py").write_text(whole)
    (tmp_path / "wrong.py").write_text(whole.replace(*WRONG_DB))
    right, wrong = grade_layers([tmp_path / "right.py", tmp_path / "wrong.py"], dict(WHOLE), seed=0, examples=5,
                                timeout=20, memory=512, workers=2, stride=range(1, 3),
                                geometry={"maxpool": {"pad": 0}}).submissions
    assert (right.score, right.max_score, right.error) == (24, 24, None)
    assert [check.name for check in wrong.checks if not check.passed] == ["conv.dB"]
    assert wrong.report.findings[0].names == ["conv.dB"] and "conv.dW" in [check.name for check in wrong.checks]
    assert wrong.report.findings[0].reproduce.startswith("gradcheck conv ")


@pytest.mark.slow
def test_a_bundle_of_conv_and_the_catalogue_carries_convs_options(tmp_path):
    bundle = tmp_path / "autograder.zip"
    built = CliRunner().invoke(main, ["autograder", "--layers", "conv,maxpool,affine", "--stride", "1..2",
                                      "--seed", "0", "--examples", "3", "--output", str(bundle)])
    assert built.exit_code == 0, built.output
    with zipfile.ZipFile(bundle) as archive:
        arguments = json.loads(archive.read(autograder.MANIFEST))["arguments"]
    assert arguments[:8] == ["--layers", "conv=conv_forward_naive,maxpool=max_pool_forward_naive,affine=affine_forward",
                             "--convention", "auto", "--layout", "auto", "--stride", "1..2"]
