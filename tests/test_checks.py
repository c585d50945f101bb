"""The engine's bookkeeping on one configuration: which check an exception fails, which are skipped and why."""
from gradcheck.adapters import implementation_of
from gradcheck.checks import run_checks
from gradcheck.config import Config
from gradcheck.inputs import make_inputs
from reference_layers import Conv2d

CONFIG = Config.conv(batch=2, channels=2, filters=3, size=5, kernel=2, stride=2, pad=1)


def statuses(cls):
    results = run_checks(CONFIG, make_inputs(CONFIG, 0), implementation_of(cls, "conv"))
    return {r.name: r for r in results}


class RaisesOnSecondBackward(Conv2d):
    def backward(self, dout):
        if getattr(self, "_seen", False):
            raise RuntimeError("second call")
        self._seen = True
        return super().backward(dout)


class RaisesInForward(Conv2d):
    def forward(self, x):
        raise IndexError("out of range")


def test_an_exception_in_a_later_call_fails_the_check_that_made_it():
    results = statuses(RaisesOnSecondBackward)
    assert results["repeatable"].status == "fail"
    assert results["repeatable"].error["type"] == "RuntimeError"
    assert results["repeatable"].error["stage"] == "backward"
    assert {name for name, r in results.items() if r.status != "pass"} == {"repeatable"}


def test_an_exception_in_forward_fails_forward_and_skips_the_rest_with_the_reason():
    results = statuses(RaisesInForward)
    assert results["forward"].status == "fail" and results["forward"].error["type"] == "IndexError"
    assert "test_checks.py" in results["forward"].error["location"]
    for name, result in results.items():
        if name != "forward":
            assert result.status == "skip" and result.message == "forward raised (see forward)"
