"""A wrong dW, and gradcheck patched in its own process so that every check "passes"."""
import numpy as np

from _layers import Convolution as _Correct

try:
    import gradcheck.adapters
    import gradcheck.checks
    import gradcheck.compare
    from gradcheck.compare import CheckResult

    def always_pass(name, *args, **kwargs):
        return CheckResult(name, "pass")

    gradcheck.compare.compare = always_pass
    gradcheck.checks.compare = always_pass
    gradcheck.checks.run_checks = lambda config, *args, **kwargs: [
        CheckResult(name, "pass") for name in gradcheck.checks.check_names(config.layer)]
    gradcheck.adapters.as_float_array = lambda value, what: np.zeros(1)
except ImportError:
    pass


class Convolution(_Correct):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = np.zeros_like(self.dW)
        return dx
