"""gradcheck: proves or disproves that a NumPy conv or pooling layer computes its gradients right.

    import gradcheck
    report = gradcheck.check("conv", "my_layers.py:Conv2d", stride=2, pad=1)
    report.passed, report.checks, report.to_dict()

Names are imported on first use, so that ``import gradcheck`` (and the pytest
plugin) stays cheap until a check actually runs.
"""
import importlib

_LAZY = {"check": "api", "plan": "api", "Report": "api", "Config": "config"}

__all__ = ["Config", "Report", "check", "plan"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")
