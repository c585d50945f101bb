"""gradcheck: proves or disproves that a NumPy conv or pooling layer computes its gradients right.

    import gradcheck
    report = gradcheck.check("conv", "my_layers.py:Conv2d", stride=2, pad=1)
    report.passed, report.checks, report.to_dict()

    # any forward/backward pair, by finite differences alone
    report = gradcheck.check_function(affine_forward, affine_backward, {"x": "N,D", "w": "D,M", "b": "M"})

Names are imported on first use, so that ``import gradcheck`` (and the pytest
plugin) stays cheap until a check actually runs.
"""
import importlib

_LAZY = {"check": "api", "plan": "api", "Report": "api", "Config": "config", "check_function": "generic"}

__all__ = ["Config", "Report", "check", "check_function", "plan"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")
