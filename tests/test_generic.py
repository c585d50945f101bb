"""gradcheck fn: any forward/backward pair checked by finite differences alone, with the smallest failing
configuration, the elements that differ, the facts tested around it and a reproduce command."""
import json
import os
import shlex

import numpy as np
import pytest
from click.testing import CliRunner

import gradcheck
from gradcheck import generic
from gradcheck.cli import main
from gradcheck.userfiles import load_module

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")
AFFINE = {"x": "N,D", "w": "D,M", "b": "M"}


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def db_averaged(dout, cache):
    dx, dw, db = affine_backward(dout, cache)
    return dx, dw, db / dout.shape[0]


def sigmoid_forward(x):
    out = 1 / (1 + np.exp(-x))
    return out, out


def sigmoid_backward(dout, out):
    return dout * out * (1 - out)


def softmax(x):
    """No cache: its backward is called as backward(dout, x)."""
    shifted = np.exp(x - x.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def softmax_backward(dout, x):
    p = softmax(x)
    return p * (dout - (dout * p).sum(axis=1, keepdims=True))


def example(name):
    """The module examples/NAME.py, imported as gradcheck imports user files."""
    return load_module(os.path.join(EXAMPLES, f"{name}.py"))


def by_name(report):
    return {result.name: result for result in report.checks}


@pytest.mark.parametrize("forward,backward,shapes,dims", [
    (affine_forward, affine_backward, AFFINE, None),
    (sigmoid_forward, sigmoid_backward, {"x": "N,D"}, {"N": "1..40", "D": range(1, 41)}),  # projection too
    (softmax, softmax_backward, {"x": "N,C"}, {"C": "2..10"}),
])
def test_right_pairs_pass_smooth_or_not_small_or_large(forward, backward, shapes, dims):
    report = gradcheck.check_function(forward, backward, shapes, dims, seed=0)
    assert report.passed, [r.message for r in report.checks if not r.passed]
    assert report.examples >= 25 and [r.name for r in report.checks][3:] == [f"d{name}" for name in shapes]


def test_a_mean_for_a_sum_fails_that_gradient_alone_smallest_with_its_rule_and_hint():
    report = gradcheck.check_function(affine_forward, db_averaged, AFFINE, seed=0)
    assert [r.name for r in report.checks if not r.passed] == ["db"]
    (finding,) = report.findings
    assert finding.names == ["db"] and dict(finding.example.sizes) == {"D": 1, "M": 1, "N": 2}
    assert finding.facts[0].startswith("fails only when N > 1 (passes with N=1, all else equal; no failure in a "
                                       "search of 100 configurations with N=1)")
    assert finding.results[0].hints == ["db is the finite differences divided by N=2, everywhere: a mean where a "
                                        "sum belongs?"]
    assert finding.results[0].mismatches.tolist() == [True]


def naive_softmax(x):
    """Softmax without subtracting the maximum: exp() overflows on large logits."""
    shifted = np.exp(x)
    return shifted / shifted.sum(axis=1, keepdims=True)


@pytest.mark.slow
def test_every_run_meets_large_values_where_exp_without_max_subtraction_overflows():
    right = gradcheck.check_function(softmax, softmax_backward, {"x": "N,C"}, seed=0)
    assert right.passed and right.values == ["usual", "large"]
    report = gradcheck.check_function(naive_softmax, softmax_backward, {"x": "N,C"}, seed=0)
    # its backward, from the NaN output, gives a NaN dx: checked where forward overflows, it fails too
    assert [r.name for r in report.checks if not r.passed] == ["forward", "dx"]
    (finding,) = report.findings
    assert generic.value_class(finding.example.seed) == "large"
    assert "fails only when the inputs are large (around 1000) (passes with usual values, all else equal; no failure " \
           "in a search of 100 configurations with usual values)" in finding.facts
    assert finding.results[0].hints == [generic.OVERFLOW_HINT]
    assert finding.results[0].message.startswith("forward returned ") and "NaN or inf of" in finding.results[0].message


def test_a_wrong_element_of_a_large_input_is_located_by_forward_passes_that_do_not_grow_with_it():
    """Above DENSE_LIMIT elements a projection screen and group testing: one wrong element of dx among
    thousands is named, at a cost that stays near the screen's."""
    def one_wrong(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        dx[-1, -1] += 1.0
        return dx, dw, db
    costs = {}
    for n in (100, 1000):
        report = gradcheck.check_function(affine_forward, one_wrong, AFFINE, {"N": n, "D": 40, "M": 2}, seed=0)
        dx = by_name(report)["dx"]
        assert dx.method == "projection" and np.argwhere(dx.mismatches).tolist() == [[n - 1, 39]], n
        assert dx.worst_index == (n - 1, 39) and abs(dx.actual - dx.expected - 1.0) < 1e-6
        costs[n] = dx.evaluations
        assert by_name(report)["dw"].passed and by_name(report)["dw"].evaluations == 2 * generic.SCREEN
    assert costs[1000] < 2 * costs[100] < 8 * 100  # log n group testing, far below 2 evaluations per element


@pytest.mark.parametrize("size", [6, 200])  # element by element, and by projection
def test_a_kink_within_a_step_of_the_input_fails_no_right_gradient(size, monkeypatch):
    """ReLU's kink put 3e-7 from every input (closer than the step, 2**-20): the central difference across it
    is wrong, so every disagreement is differenced again at smaller steps before it counts (without them the
    right gradient fails); a wrong gradient there still fails."""
    x = np.random.default_rng(5).standard_normal((1, size))  # the arrays run_checks draws with data seed 5
    kinks = x + 3e-7

    def shifted_relu(x):
        return np.maximum(x - kinks, 0), x

    def right(dout, x):
        return dout * (x > kinks)

    def wrong(dout, x):
        return dout * (x > kinks) + 0.5 * dout
    dims = {"N": 1, "D": size}
    assert gradcheck.check_function(shifted_relu, right, {"x": "N,D"}, dims, seed=5).passed
    assert not by_name(gradcheck.check_function(shifted_relu, wrong, {"x": "N,D"}, dims, seed=5))["dx"].passed
    monkeypatch.setattr(generic, "RECHECK_STEPS", ())
    assert not by_name(gradcheck.check_function(shifted_relu, right, {"x": "N,D"}, dims, seed=5))["dx"].passed


def test_an_input_changed_in_place_fails_no_mutation_and_only_it_and_a_dout_written_into_is_a_note():
    report = gradcheck.check_function(example("wrong_affine_relu").relu_forward, None, {"x": "N,D"},
                                      seed=0)  # relu_backward found by its name
    assert [r.name for r in report.checks if not r.passed] == ["no-mutation"]
    assert by_name(report)["no-mutation"].message == "forward or backward changed x in place"

    def writes_into_dout(dout, x):
        """As the DLFS book's ReLU and cs231n's common relu_backward do: harmless to a network, said."""
        dx = dout
        dx[x <= 0] = 0
        return dx
    report = gradcheck.check_function(example("affine_relu").relu_forward, writes_into_dout, {"x": "N,D"}, seed=0)
    assert report.passed and by_name(report)["no-mutation"].notes == [generic.DOUT_WRITTEN]


def test_an_unfinished_forward_is_told_so():
    report = gradcheck.check_function(lambda x: (None, None), sigmoid_backward, {"x": "N"}, seed=0)
    assert by_name(report)["forward"].message == ("forward returned None as its output: is it unfinished? return "
                                                  "the output array")


def test_what_the_pair_raises_or_returns_wrong_fails_its_checks_with_where():
    def raises(x):
        raise ValueError("no")
    report = gradcheck.check_function(raises, sigmoid_backward, {"x": "N"}, seed=0)
    forward = by_name(report)["forward"]
    assert not forward.passed and forward.message.startswith("forward raised ValueError: no, at ")
    assert "test_generic.py" in forward.message and by_name(report)["dx"].status == "skip"
    report = gradcheck.check_function(affine_forward, lambda dout, cache: (dout, dout), AFFINE, seed=0)
    assert by_name(report)["dx"].message == "backward must return 3 gradients (dx, dw, db, in the order forward " \
                                            "takes them), got 2"
    report = gradcheck.check_function(sigmoid_forward, lambda dout, out: dout.T, {"x": "N,D"}, {"N": 2, "D": 3},
                                      seed=0)
    assert by_name(report)["dx"].message == "dx has shape (3, 2), x has (2, 3)"


@pytest.mark.parametrize("shapes,dims,message", [
    ({}, None, "declare the shape of every input"),
    ({"x": "N,D", "w": "D,M"}, None, "affine_forward takes x, w, b, but 2 shapes are declared (x, w)"),
    (AFFINE, {"Q": 2}, "Q is in no shape; the symbols are D, M, N"),
    (AFFINE, {"N": "0..2"}, "N takes an int >= 1 or a range LOW..HIGH of them (lowest first), got 0..2"),
    (AFFINE, {"N": "3..1"}, "(lowest first), got 3..1"),
    ({"x": "N,D-1", "w": "D,M", "b": "M"}, None, "must list symbols (N, D, ...), multiples of one (4H) or ints"),
    ({"x": "N,D", "w": "D,0M", "b": "M"}, None, "multiples of one (4H) or ints, separated by commas, got '0M'"),
])
def test_bad_shapes_and_dims_say_what_to_fix(shapes, dims, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        gradcheck.check_function(affine_forward, affine_backward, shapes, dims, seed=0)


def test_an_axis_may_be_a_multiple_of_a_symbol():
    """An LSTM's weights are (D, 4H): four gates of H units."""
    def gates_forward(x, w):
        return x @ w

    def gates_backward(dout, x, w):
        return dout @ w.T, x.T @ dout
    report = gradcheck.check_function(gates_forward, gates_backward, {"x": "N,D", "w": "D,4H"}, {"H": 2}, seed=0)
    assert report.passed and report.signature.shape("w", {"N": 1, "D": 3, "H": 2}) == (3, 8)
    assert set(report.signature.bounds) == {"N", "D", "H"}


@pytest.fixture
def run(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.chdir(EXAMPLES)

    def invoke(*args):
        result = CliRunner().invoke(main, ["fn", *args])
        return result.exit_code, result.stdout, result.stderr
    return invoke


@pytest.mark.slow
def test_the_command_finds_the_backward_by_name_and_its_reproduce_line_reproduces(run):
    code, out, _ = run("--impl", "wrong_affine_relu.py:affine_forward", "--shape", "x=N,D", "--shape", "w=D,M",
                       "--shape", "b=M", "--seed", "0", "--format", "json")
    report = json.loads(out)
    assert code == 1 and [c["name"] for c in report["checks"] if not c["passed"]] == ["db"]
    words = shlex.split(report["findings"][0]["reproduce"])
    assert words[:2] == ["gradcheck", "fn"] and "--dim" in words
    code, again, _ = run(*words[2:], "--format", "json")
    again = json.loads(again)
    assert code == 1 and again["examples_run"] == 1 and again["findings"][0]["sizes"] == {"D": 1, "M": 1, "N": 2}
    code, text, _ = run("--impl", "affine_relu.py:affine_forward", "--shape", "x=N,D", "--shape", "w=D,M",
                        "--shape", "b=M", "--seed", "0")
    assert code == 0 and "PASSED · 30 configurations" in text and "\nwithin: D 1..4, M 1..4, N 1..4\n" in text


@pytest.mark.parametrize("args,message", [
    (["--impl", "affine_relu.py:nope", "--shape", "x=N"], "affine_relu.py defines no 'nope'"),
    (["--impl", "affine_relu.py:affine_forward", "--shape", "x"], "'x' is not NAME=VALUE"),
    (["--impl", "affine_relu.py:affine_forward", "--shape", "x=N,D"], "affine_forward takes x, w, b"),
    (["--impl", "affine_relu.py:relu_forward", "--shape", "x=N", "--backward", "missing_backward"],
     "no missing_backward was found"),
])
def test_bad_input_is_one_line_and_exit_2(run, args, message):
    code, out, err = run(*args)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and message in err, err


@pytest.mark.slow
def test_as_an_assertion_in_a_test_suite():
    from gradcheck.testing import assert_function_gradients
    assert assert_function_gradients(affine_forward, affine_backward, AFFINE, seed=0).passed
    with pytest.raises(AssertionError, match=r"(?s)FAILED: 1 of 6 checks.*Finding 1: db fails.*reproduce: "):
        assert_function_gradients(affine_forward, db_averaged, AFFINE, seed=0)


PAIRS = {"affine": (AFFINE, {}), "relu": ({"x": "N,D"}, {})}


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("kind", PAIRS)
def test_the_examples_right_pairs_pass_and_wrong_ones_fail_on_every_seed(kind, seed):
    shapes, dims = PAIRS[kind]
    forward = f"{kind}_forward"
    assert gradcheck.check_function(getattr(example("affine_relu"), forward), None, shapes, dims, seed=seed).passed
    wrong = gradcheck.check_function(getattr(example("wrong_affine_relu"), forward), None, shapes, dims, seed=seed)
    assert [r.name for r in wrong.checks if not r.passed] == {"affine": ["db"], "relu": ["no-mutation"]}[kind]


EMBEDDING = """
import numpy as np


def word_embedding_forward(x, W):
    return W[x], (x, W)


def word_embedding_backward(dout, cache):
    x, W = cache
    dW = np.zeros_like(W)
    dW[x] += dout  # a repeated word's gradient is added once
    return dW


def masked_sum_forward(x, mask):
    return (x * mask).sum(axis=1), (x, mask)


def masked_sum_backward(dout, cache):
    x, mask = cache
    return dout[:, None] * mask
"""


@pytest.mark.slow
def test_integer_and_boolean_inputs_are_drawn_and_never_differentiated(tmp_path, monkeypatch):
    (tmp_path / "layers.py").write_text(EMBEDDING)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["fn", "--impl", "layers.py:word_embedding_forward", "--shape", "x=N,T",
                                       "--shape", "W=V,D", "--integers", "x=V", "--seed", "0"])
    assert result.exit_code == 1 and "shapes: x (N, T) integers 0..V-1, W (V, D)\n" in result.stdout
    assert [line.split()[0] for line in result.stdout.splitlines() if " FAIL " in line] == ["dW"]
    assert "--shape x=N,T --shape W=V,D --integers x=V --dim D=" in result.stdout  # reproduce lines keep them
    result = CliRunner().invoke(main, ["fn", "--impl", "layers.py:masked_sum_forward", "--shape", "x=N,D",
                                       "--shape", "mask=N,D", "--booleans", "mask", "--seed", "0"])
    assert result.exit_code == 0 and "mask (N, D) booleans" in result.stdout, result.stdout
    result = CliRunner().invoke(main, ["fn", "--impl", "layers.py:masked_sum_forward", "--shape", "x=N,D",
                                       "--booleans", "mask"])
    assert result.exit_code == 2 and "mask has no shape; declare it with --shape mask=... as well" in result.stderr
