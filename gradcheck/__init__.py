"""gradcheck: proves or disproves that a NumPy conv or pooling layer computes its gradients right.

    import gradcheck
    report = gradcheck.check("conv", "my_layers.py:Conv2d", stride=2, pad=1)
    report.passed, report.checks, report.to_dict()
"""
from .api import Report, check
from .config import Config

__all__ = ["Config", "Report", "check"]
