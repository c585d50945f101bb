"""Student code as it is written (issue 16, items 2-4), through every way in: the bare CLI, gradcheck.check, the
pytest plugin and gradcheck grade.

Each case is a student's project assembled in a temporary folder from files of examples/, tests/projects/ and
tests/mutants/standalone.py: an assignment split into one file per function, a backward imported into a wrapper
module or given with --backward, backwards taking no cache, a package importing its helpers relatively, a layer
importing the project's package from the project's folder, constructors that make their own weights (input shape,
channel counts, a kernel size, params lists, a backward taking lr).  Each is checked as its author would: from the
project's folder.  Right ones pass, with the note that says how they were read; wrong ones fail exactly their
checks, with the rule that says why, and their reproduction command fails the same way when run from that folder.
"""
import json
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

import gradcheck
from gradcheck.adapters import LoadError, implementation_of
from gradcheck.cli import main
from gradcheck.grading.grade import grade
from gradcheck.grading.sandbox import sandbox_problem

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = 10  # configurations per run of a wrong layer: its verdict and rule hold on this many (5 for a right one)
SPLIT = {"conv_forward.py": "examples/split/conv_forward.py", "conv_backward.py": "examples/split/conv_backward.py",
         "train.py": "tests/projects/train.py"}
CNN = {f"cnn/{name}": f"examples/project/cnn/{name}" for name in ("__init__.py", "im2col.py", "conv.py")}
WRONG_OWN_WEIGHTS = {"layers.py": "tests/projects/own_weights_wrong.py", "own_weights.py": "examples/own_weights.py"}


@dataclass(frozen=True)
class Case:
    """A student's project: ``files`` (its path -> the repository's), the layer, NAME in FILE as run from the
    project's folder, what the report must say (a note for a right layer, a trigger fact for a wrong one), the
    checks that must fail, and the backward given as FILE:NAME (gradcheck grade takes its NAME)."""

    name: str
    files: dict
    layer: str
    spec: str
    says: str  # or None
    fails: frozenset = field(default_factory=frozenset)
    backward: str = None

    def build(self, folder):
        """The project in ``folder`` (made), which is returned."""
        for path, source in self.files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / source, folder / path)
        return folder

    @property
    def examples(self):
        return EXAMPLES if self.fails else 5

    @property
    def command(self):
        return ["conv"] if self.layer == "conv" else ["pool", "--mode", self.layer[:3]]

    @property
    def options(self):
        return {"backward": self.backward} if self.backward else {}


CASES = [
    Case("split", SPLIT, "conv", "conv_forward.py:conv_forward", "backward: conv_backward from conv_backward.py"),
    Case("split_wrong", dict(SPLIT, **{"conv_backward.py": "tests/projects/conv_backward_unpadded_dw.py"}), "conv",
         "conv_forward.py:conv_forward", "fails only when pad > 0", frozenset({"dW"})),
    Case("wrapper", {"solution.py": "tests/projects/wrapper/solution.py",
                     "parts/__init__.py": "tests/projects/wrapper/parts/__init__.py",
                     "parts/forward.py": "examples/split/conv_forward.py",
                     "parts/backward.py": "examples/split/conv_backward.py"},
         "conv", "solution.py:conv_forward", "backward: conv_backward from parts/backward.py"),
    Case("named", {"conv_forward.py": "examples/split/conv_forward.py", "gradients.py": "tests/projects/gradients.py"},
         "conv", "conv_forward.py:conv_forward", "backward: conv_grad from gradients.py",
         backward="gradients.py:conv_grad"),
    Case("no_cache", {"layers.py": "examples/no_cache.py"}, "conv", "layers.py:conv_forward_windows",
         "called conv_backward_windows(dout, x, w, b, conv_param) with what conv_forward_windows was given"),
    Case("no_cache_pool", {"layers.py": "examples/no_cache.py"}, "maxpool", "layers.py:max_pool_forward_windows",
         "called max_pool_backward_windows(dout, x, pool_param)"),
    Case("hparams_wrong", {"layers.py": "tests/mutants/standalone.py"}, "conv",
         "layers.py:conv_forward_hparams_unpad", "fails only when pad = 0", frozenset({"dX"})),
    Case("globals", {"layers.py": "tests/mutants/standalone.py"}, "conv", "layers.py:conv_forward_global",
         "called conv_backward_global(dZ) right after conv_forward_global"),
    Case("package", CNN, "conv", "cnn/conv.py:Conv", "dW was read from gradient_weights"),
    Case("package_wrong", dict(CNN, **{"cnn/conv_bias_mean.py": "tests/projects/conv_bias_mean.py"}), "conv",
         "cnn/conv_bias_mean.py:ConvBiasMean", "fails only when batch > 1", frozenset({"dB"})),
    Case("project_root", {"cnn/__init__.py": "examples/project/cnn/__init__.py",
                          "cnn/im2col.py": "examples/project/cnn/im2col.py",
                          "nets/layers.py": "examples/project/nets/layers.py"},
         "maxpool", "nets/layers.py:Pooling", None),
    Case("params_list", {"layers.py": "examples/own_weights.py"}, "conv", "layers.py:ConvParams",
         "W and b written into its params[0] and params[1]"),
    Case("updating", {"layers.py": "examples/own_weights.py"}, "conv", "layers.py:ConvSGD",
         "backward was called as backward(dout, lr=0)"),
    Case("params_wrong", WRONG_OWN_WEIGHTS, "conv", "layers.py:ConvParamsAccumulating", None,
         frozenset({"repeatable"})),
    Case("updating_wrong", WRONG_OWN_WEIGHTS, "conv", "layers.py:ConvSGDBatchMean", "fails only when batch > 1",
         frozenset({"dB"})),
]


def failing(data):
    return {check["name"] for check in data["checks"] if check["status"] == "fail"}


def said(data):
    """Every note and trigger fact of a report (as JSON)."""
    return [*data["notes"], *(note for check in data["checks"] for note in check["notes"]),
            *(fact for finding in data["findings"] for fact in finding["triggers"])]


def assert_verdict(case, data):
    assert failing(data) == case.fails, [(c["name"], c["message"]) for c in data["checks"] if c["status"] == "fail"]
    assert not case.says or any(case.says in text for text in said(data)), said(data)


def cli(folder, monkeypatch, args):
    """gradcheck ARGS --format json, run from ``folder``: (exit code, the report)."""
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert "Traceback" not in result.stderr, result.stderr
    return result.exit_code, json.loads(result.stdout)


def rerun(reproduce, folder, monkeypatch):
    """The report of a reproduction command, run from ``folder``."""
    words = shlex.split(reproduce)
    assert words[0] == "gradcheck"
    return cli(folder, monkeypatch, words[1:])


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@pytest.mark.slow
def test_the_bare_cli_from_the_projects_folder(case, tmp_path, monkeypatch):
    folder = case.build(tmp_path)
    args = [*case.command, "--impl", case.spec, "--seed", "0", "--examples", str(case.examples)]
    code, data = cli(folder, monkeypatch, args + (["--backward", case.backward] if case.backward else []))
    assert code == (1 if case.fails else 0)
    assert_verdict(case, data)
    if case.fails:  # the smallest failing configuration again, from the same folder
        code, again = rerun(data["reproduce"], folder, monkeypatch)
        assert code == 1 and set(data["findings"][0]["checks"]) <= failing(again)


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name, marks=[pytest.mark.slow] if case.fails and
                                               case.name != "hparams_wrong" else []) for case in CASES])
def test_the_python_api(case, tmp_path, monkeypatch):
    """Every right project in the fast suite, and one wrong one (the others are 2 to 3 s each: slow)."""
    monkeypatch.chdir(case.build(tmp_path))
    report = gradcheck.check(case.layer, case.spec, seed=0, examples=case.examples, **case.options)
    assert_verdict(case, report.to_dict())


@pytest.mark.slow
def test_the_pytest_plugin(pytester, monkeypatch):
    """One test per case in a user's test file, each run from its project's folder; the wrong ones xfail with the
    plugin's assertion message."""
    monkeypatch.delenv("CI", raising=False)
    tests = ["import pytest\n"]
    for case in CASES:
        folder = case.build(pytester.path / case.name)
        mark = "@pytest.mark.xfail(raises=AssertionError, strict=True)\n" if case.fails else ""
        tests.append(f"{mark}def test_{case.name}(gradcheck, monkeypatch):\n"
                     f"    monkeypatch.chdir({str(folder)!r})\n"
                     f"    gradcheck.assert_gradients({case.layer!r}, {case.spec!r}, seed=0, examples={case.examples}, "
                     f"**{case.options!r})\n")
    pytester.makepyfile(test_students="\n\n".join(tests))
    result = pytester.runpytest("-rx")
    wrong = sum(bool(case.fails) for case in CASES)
    result.assert_outcomes(passed=len(CASES) - wrong, xfailed=wrong)


def test_a_wrong_layer_in_a_package_fails_in_the_plugin_with_its_rule_and_reproduction(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    case = next(case for case in CASES if case.name == "package_wrong")
    folder = case.build(pytester.path / "project")
    pytester.makepyfile(test_conv=f"""
        def test_conv(gradcheck, monkeypatch):
            monkeypatch.chdir({str(folder)!r})
            gradcheck.assert_conv({case.spec!r}, seed=0, examples={EXAMPLES})
    """)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Gradients not right: conv, cnn/conv_bias_mean.py:ConvBiasMean*",
                                 "*Trigger: fails only when batch > 1*",
                                 "*Reproduce: gradcheck conv * --impl cnn/conv_bias_mean.py:ConvBiasMean --seed 0*"])


# -- gradcheck grade: each project a folder submission, under bwrap ------------------------------------------------
GROUPS = {  # one grading run each: (layer, NAME, --backward NAME) -> the cases graded together
    ("conv", "conv_forward", None): ["split", "split_wrong", "wrapper"],
    ("conv", "Conv", None): ["package"],
    ("maxpool", "Pooling", None): ["project_root"],
    ("conv", "conv_forward", "conv_grad"): ["named"],
    ("conv", "conv_forward_windows", None): ["no_cache"],
    ("maxpool", "max_pool_forward_windows", None): ["no_cache_pool"],
    ("conv", "conv_forward_hparams_unpad", None): ["hparams_wrong"],
    ("conv", "conv_forward_global", None): ["globals"],
    ("conv", "ConvBiasMean", None): ["package_wrong"],
    ("conv", "ConvParams", None): ["params_list"],
    ("conv", "ConvSGD", None): ["updating"],
    ("conv", "ConvParamsAccumulating", None): ["params_wrong"],
    ("conv", "ConvSGDBatchMean", None): ["updating_wrong"],
}
# In the fast suite: a backward beside its forward, a package (also handed in itself), the project's folder, and a
# layer taking one kernel size.
FAST_GROUPS = [*list(GROUPS)[:3], ("conv", "ConvParams", None)]
# Grading checks the geometry asked for, whatever a signature offers (test_grade's free_stride: what fails
# without a pin), so the assignment pins what its layers take: one kernel size, a cs231n pool's no padding.
ASSIGNMENT_PINS = {**dict.fromkeys(["ConvParams", "ConvSGD", "ConvParamsAccumulating", "ConvSGDBatchMean"],
                                   {"kernel": 3}),
                   "max_pool_forward_windows": {"pad": 0}}


@pytest.mark.skipif(sandbox_problem() is not None, reason=f"no bwrap sandbox here: {sandbox_problem()}")
@pytest.mark.parametrize("group", [pytest.param(group, id="-".join(filter(None, group)),
                                                marks=[] if group in FAST_GROUPS else [pytest.mark.slow])
                                   for group in GROUPS])
@pytest.mark.slow
def test_gradcheck_grade_of_folder_submissions(group, tmp_path, monkeypatch):
    """Every project graded as the folder a student hands in, under bwrap; a package's own folder handed in is
    graded too.  A wrong one's reproduction command, run from the submission's folder, fails the same way."""
    layer, name, backward = group
    cases = [next(case for case in CASES if case.name == wanted) for wanted in GROUPS[group]]
    folders = [case.build(tmp_path / case.name) for case in cases]
    if name == "Conv":  # the package itself as the submission
        cases.append(cases[0])
        folders.append(tmp_path / "package" / "cnn")
    result = grade(folders, layer, name, seed=0, examples=EXAMPLES, backward=backward, sandbox="bwrap", workers=2,
                   **ASSIGNMENT_PINS.get(name, {}))
    for case, folder, submission in zip(cases, folders, result.submissions):
        assert submission.error is None, submission.error
        data = submission.report.to_dict()
        assert_verdict(case, data)
        if case.fails:
            run_from = folder.parent if (folder / "__init__.py").exists() else folder
            code, again = rerun(data["reproduce"], run_from, monkeypatch)
            assert code == 1 and set(data["findings"][0]["checks"]) <= failing(again)


# -- what is refused, and how --------------------------------------------------------------------------------------
def test_an_import_that_needs_the_projects_folder_says_which_folder_to_run_from(tmp_path):
    """In a process of its own, as the user runs it: nothing of the project is imported yet."""
    case = next(case for case in CASES if case.name == "project_root")
    case.build(tmp_path / "project")
    result = subprocess.run([sys.executable, "-m", "gradcheck", *case.command, "--impl", f"project/{case.spec}"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == ("gradcheck: error: project/nets/layers.py could not be imported: ModuleNotFoundError: No "
                             "module named 'cnn' at project/nets/layers.py:5: from cnn.im2col import col2im, im2col; "
                             "cnn is in project: run gradcheck from there (cd project), naming the file "
                             "nets/layers.py\n")


def test_a_relative_import_outside_a_package_says_to_add_an_init_file(tmp_path, monkeypatch):
    (tmp_path / "layers").mkdir()
    (tmp_path / "layers" / "conv.py").write_text("from .im2col import im2col\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LoadError) as error:
        gradcheck.plan("conv", "layers/conv.py:Conv")
    assert str(error.value).endswith("ImportError: attempted relative import with no known parent package at "
                                     "layers/conv.py:1: from .im2col import im2col; a relative import needs a "
                                     "package: add an empty __init__.py to layers, as python -m needs too")


def test_a_backward_found_nowhere_or_in_two_files_is_refused_saying_where_it_looked(tmp_path, monkeypatch):
    case = next(case for case in CASES if case.name == "named")
    folder = case.build(tmp_path)
    monkeypatch.chdir(folder)
    with pytest.raises(LoadError, match="no conv_backward was found: not in conv_forward.py .nor among the names "
                                        "it imports., nor in the .py files of its folder"):
        gradcheck.plan("conv", case.spec)
    for copy in ("one.py", "two.py"):
        shutil.copyfile(ROOT / "examples/split/conv_backward.py", folder / copy)
    with pytest.raises(LoadError, match="conv_backward, the backward of conv_forward, is defined in 2 files: one.py, "
                                        "two.py; name the one to use with --backward FILE:conv_backward"):
        gradcheck.plan("conv", case.spec)


def test_a_backward_is_named_only_for_a_forward_function():
    from reference_style import Convolution

    with pytest.raises(LoadError, match="a backward is named for forward functions; Convolution is a class"):
        implementation_of(Convolution, "conv", backward="conv_backward")


def test_a_kernel_taken_as_one_int_keeps_the_search_square_and_refuses_a_non_square_pin():
    from own_weights import ConvParams

    assert implementation_of(ConvParams, "conv").restrict == {"square": ("kernel",)}
    assert gradcheck.plan("conv", ConvParams, seed=0).space.restrict == {"square": ("kernel",)}
    with pytest.raises(ValueError, match=r"ConvParams \(reference convention\) takes square kernels only, so it "
                                         "cannot be checked with kernel 3x2; pin a square kernel"):
        gradcheck.plan("conv", ConvParams, kernel=(3, 2))


def test_the_factory_a_refusal_shows_builds_the_layer_once_its_dots_are_filled(tmp_path):
    """The DIVE constructor needs an initializer: the factory the message shows, with the student's own
    initializer and optimizer for the dots, makes the layer checkable as it is."""
    layer = tmp_path / "dive.py"
    shutil.copyfile(ROOT / "examples" / "dive_style.py", layer)
    with pytest.raises(LoadError) as error:
        gradcheck.plan("conv", f"{layer}:Conv2d")
    factory = str(error.value).partition("\n\n")[2]
    assert factory.startswith("    def make_layer(W, b, stride, pad):\n")
    filled = factory.replace("initializer=...", "initializer=SimpleInitializer(0.01)").replace(
        "optimizer=...", "optimizer=SGD(0.01)")
    assert "..." not in filled
    layer.write_text(layer.read_text() + "\n\n" + textwrap.dedent(filled))
    assert gradcheck.check("conv", f"{layer}:make_layer", seed=0, examples=5).passed


def test_the_class_a_refused_backward_shows_checks_the_pair_once_its_dots_are_filled(tmp_path):
    """A backward taking a parameter gradcheck cannot fill: the class the message shows calls the student's pair
    by their own names."""
    layer = tmp_path / "pair.py"
    layer.write_text(textwrap.dedent("""
        from conv_forward import conv_forward
        from conv_backward import conv_backward as _backward


        def conv_backward(dout, cache, scale):
            dx, dw, db = _backward(dout, cache)
            return dx * scale, dw * scale, db * scale
    """))
    for name in ("conv_forward.py", "conv_backward.py"):
        shutil.copyfile(ROOT / "examples" / "split" / name, tmp_path / name)
    with pytest.raises(LoadError) as error:
        gradcheck.plan("conv", f"{layer}:conv_forward")
    assert str(error.value).startswith("conv_backward(dout, cache, scale) cannot be called the way gradcheck knows")
    wrapper = str(error.value).partition("\n\n")[2]
    assert "conv_forward(x=x, w=self.W, b=self.b, conv_param=self.settings)" in wrapper
    assert "dx, self.dW, self.db = conv_backward(dout=dout, cache=self.cache, scale=...)" in wrapper
    layer.write_text(layer.read_text() + "\n\n" + textwrap.dedent(wrapper.replace("scale=...", "scale=1.0")))
    assert gradcheck.check("conv", f"{layer}:Layer", seed=0, examples=5).passed
