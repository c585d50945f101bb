"""A course file (--course): options, pinned geometry, points and Gradescope visibility per check, read by
gradcheck grade and gradcheck autograder; what the command line gives wins."""
import csv
import io
import json
import zipfile
from dataclasses import asdict

import pytest
from click.testing import CliRunner

from gradcheck.kinds.conv import KIND as CONV
from gradcheck.cli import main
from gradcheck.grading import autograder
from gradcheck.grading.course import CourseError, load, parse
from gradcheck.grading.grade import prepare
from gradcheck.grading.sandbox import sandbox_problem

COURSE = """
layer = "conv"
impl = "Convolution"
examples = 3
seed = 0

[geometry]
batch = 1
channels = 2
filters = 2
size = [5, 4]

[points]
dX = 3
dB = 4
"""
NO_BWRAP = pytest.mark.skipif(sandbox_problem() is not None, reason=f"no bwrap sandbox here: {sandbox_problem()}")


def course_file(tmp_path, text=COURSE, **tables):
    """COURSE (or ``text``) with the TOML ``tables`` (name -> {key: value}) added, written to course.toml."""
    for name, table in tables.items():
        text += f"\n[{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in table.items())
    path = tmp_path / "course.toml"
    path.write_text(text)
    return path


def grade(*args):
    result = CliRunner().invoke(main, ["grade", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


# -- reading the file ----------------------------------------------------------------

def test_a_course_file_gives_options_by_name_pins_as_pairs_points_and_visibility(tmp_path):
    course = load(course_file(tmp_path, visibility={"dW": "after_due_date"}))
    assert course.options == dict(layer="conv", impl="Convolution", examples=3, seed=0, batch=1, channels=2,
                                  filters=2, size=(5, 4))
    assert course.points == {"dX": 3, "dB": 4} and course.visibility == {"dW": "after_due_date"}
    assert course.text == (tmp_path / "course.toml").read_text()


@pytest.mark.parametrize("text,message", [
    ('layr = "conv"', "has no key 'layr'; choose from layer, impl"),
    ('points = 3', "points must be a table ([points]), got 3"),
    ('[geometry]\nkernal = 3', "[geometry] has no key 'kernal'"),
    ('[geometry]\nkernel = [3, 3, 3]', '[geometry] kernel must be an int, [height, width] or "LOW..HIGH" (lowest '
                                      'first), got [3, 3, 3]'),
    ('[geometry]\nbatch = [2, 2]', '[geometry] batch must be an int or "LOW..HIGH" (lowest first), got [2, 2]'),
    ('[geometry]\nstride = true', "[geometry] stride must be an int, [height, width] or"),
    ('[geometry]\nstride = "1-2"', "[geometry] stride must be an int, [height, width] or \"LOW..HIGH\" (lowest "
                                   "first), got '1-2'"),
    ('[geometry]\nstride = "2..1"', "[geometry] stride must be an int, [height, width] or"),
    ('[visibility]\ndX = "secret"', "[visibility] dX must be one of visible, after_due_date, after_published, hidden"),
    ('layer = "conv', "is not valid TOML"),
])
def test_a_wrong_course_file_says_what_and_where(tmp_path, text, message):
    path = course_file(tmp_path, text)
    with pytest.raises(CourseError) as error:
        load(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_a_range_in_the_geometry_bounds_the_dimension_and_reaches_every_command(tmp_path):
    """stride = "1..2": prepare keeps the pins and the bounds apart (Settings travel as JSON), and the bundle's
    frozen arguments carry the range as the command line writes it."""
    course = parse({"geometry": {"stride": "1..2", "batch": "2..3", "kernel": 3}})
    assert course.options == {"stride": range(1, 3), "batch": range(2, 4), "kernel": 3}
    settings = prepare("conv", "Convolution", seed=0, **course.options)
    assert settings.pins == {"kernel": 3, "dilation": 1} and settings.bounds == {"stride": (1, 2), "batch": (2, 3)}
    assert type(settings).from_dict(json.loads(json.dumps(asdict(settings)))) == settings
    assert settings.dimensions == {"kernel": 3, "dilation": 1, "stride": range(1, 3), "batch": range(2, 4)}
    with pytest.raises(ValueError, match="stride as a range must hold consecutive values, lowest first"):
        prepare("conv", "Convolution", seed=0, stride=range(3, 1))
    with pytest.raises(ValueError, match="no configuration fits these pins .* and size must lie within 1..2"):
        prepare("conv", "Convolution", seed=0, kernel=5, pad=0, size=range(1, 3))


def test_visibility_names_checks_of_the_layer():
    course = parse({"visibility": {"ties": "hidden"}}, "c.toml")
    assert course.for_layer("maxpool") is course
    with pytest.raises(CourseError, match=r"c.toml: \[visibility\] has no check 'ties' of conv; choose from forward"):
        course.for_layer("conv")


@pytest.mark.parametrize("points,message", [
    ({"dx": 2}, "points: conv has no check 'dx'; choose from forward, dX"),
    ({"dX": -1}, "points: dX must be a whole number of points >= 0, got -1"),
    ({"dX": 1.5}, "points: dX must be a whole number of points >= 0, got 1.5"),
    (dict.fromkeys(CONV.checks, 0), "every check is worth 0"),
])
def test_points_are_validated(points, message):
    with pytest.raises(ValueError, match=message):
        prepare("conv", "Convolution", seed=0, points=points)


def test_a_check_left_out_is_worth_one_point():
    settings = prepare("conv", "Convolution", seed=0, points={"dX": 3, "fresh-cache": 0})
    assert settings.points == dict(dict.fromkeys(CONV.checks, 1), dX=3, **{"fresh-cache": 0})
    assert settings.max_score == 9


# -- gradcheck grade --course --------------------------------------------------------------

@NO_BWRAP
def test_grade_scores_each_check_with_its_points_and_the_command_line_wins(tmp_path, student):
    path = course_file(tmp_path, COURSE.replace('impl = "Convolution"', 'impl = "NotDefinedAnywhere"'))
    code, out, err = grade(student("wrong_db"), "--course", path, "--impl", "Convolution", "--format", "csv")
    (row,) = csv.DictReader(io.StringIO(out))
    assert code == 0 and (row["score"], row["max_score"], row["dB"]) == ("9", "13", "fail"), err


@NO_BWRAP
def test_gradescope_gives_each_test_its_points_and_visibility_and_the_summary_shows_only_visible_scores(
        tmp_path, student):
    path = course_file(tmp_path, visibility={"dB": "hidden", "dW": "after_due_date"})
    code, out, err = grade(student("wrong_db"), "--course", path, "--format", "gradescope")
    results = json.loads(out)
    tests = {test["name"].split(":")[0]: test for test in results["tests"]}
    assert code == 0 and results["score"] == 9.0, err
    assert [(tests[name]["score"], tests[name]["max_score"], tests[name]["visibility"]) for name in CONV.checks] == [
        (1, 1, "visible"), (3, 3, "visible"), (1, 1, "after_due_date"), (0, 4, "hidden"),
        *[(1, 1, "visible")] * 4]
    assert "differ from the reference" in tests["dB"]["output"]  # the hidden test holds all the failure says
    how = tests["How this was graded"]
    assert how["visibility"] == "hidden" and "drawn with seed 0" in how["output"]
    assert results["output"].startswith("gradcheck conv, Convolution: score 8 of 8 on the checks shown now (the score "
                                        "of dW, dB, worth 5 more, is not shown now)")
    assert "seed" not in results["output"] and "reproduce" not in results["output"].lower()


@NO_BWRAP
def test_classroom_gives_each_test_its_points(tmp_path, student):
    code, out, err = grade(student("wrong_db"), "--course", course_file(tmp_path), "--format", "classroom")
    result = json.loads(out)
    assert code == 0 and result["max_score"] == 13, err
    assert [test["score"] for test in result["tests"]] == [1, 3, 1, 0, 1, 1, 1, 1]


@pytest.mark.parametrize("text,args,message", [
    (COURSE + '[visibility]\ndB = "hidden"\n', ["--format", "classroom"],
     "[visibility] holds back dB, but GitHub Classroom shows a student every test"),
    (COURSE.replace("examples = 3", 'examples = "many"'), [], "course.toml: examples: 'many' is not a valid integer"),
    (COURSE.replace("examples = 3", 'precision = "float16"'), [], "course.toml: precision: 'float16' is not one of"),
    (COURSE.replace("dB = 4", "dx = 4"), [], "points: conv has no check 'dx'"),
    (COURSE.replace('layer = "conv"', 'layer = "dense"'), [], "course.toml: layer: 'dense' is not one of"),
])
def test_a_course_the_command_cannot_use_exits_2_with_one_line(tmp_path, text, args, message):
    code, out, err = grade(tmp_path, "--course", course_file(tmp_path, text), *args)
    assert code == 2 and out == "" and message in err and len(err.splitlines()) == 1, err


@pytest.mark.slow
def test_autograder_puts_the_course_file_into_the_bundle(tmp_path):
    path = course_file(tmp_path, visibility={"dB": "hidden"})
    result = CliRunner().invoke(main, ["autograder", "--course", str(path), "--output", str(tmp_path / "a.zip")])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.rstrip().endswith(f"points and visibility per check from {path}")
    assert "--layer conv --impl Convolution" in result.stdout and "--size 5x4" in result.stdout
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert archive.read(autograder.COURSE).decode() == path.read_text()
        assert json.loads(archive.read(autograder.MANIFEST))["course"] == autograder.COURSE
        assert "--course course.toml" in archive.read("README.md").decode()


@NO_BWRAP
def test_a_course_that_hides_hints_on_gradescope_serves_the_other_formats_too(tmp_path, student):
    path = course_file(tmp_path, "hide_hints = true\n" + COURSE)
    code, out, err = grade(student("wrong_db"), "--course", path, "--format", "json")
    assert code == 0 and json.loads(out)["submissions"][0]["score"] == 9, err
    code, _, err = grade(student("wrong_db"), "--course", path, "--format", "json", "--hide-hints-until-due")
    assert code == 2 and "--hide-hints-until-due is for --format gradescope" in err
