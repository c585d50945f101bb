"""What the catalogue's test files (tests/test_kinds*.py) share: seeds 0..4 split between the fast and the slow
suite, and a reference formulation compared with PyTorch's autograd."""
import numpy as np
import pytest

from gradcheck import generic, kinds
from gradcheck.forms import as_pair

SEEDS = range(5)


def on_every_seed(cases, fast, key=None):
    """``pytest.param(*case, seed)`` for every case and seed, named "NAME-SEED" (NAME: ``key(case)``, or its
    ``__name__``); seed 0 of a case whose key is in ``fast`` runs in the fast suite, every other in the slow."""
    params = []
    for case in cases:
        values = case if isinstance(case, tuple) else (case,)
        which = key(case) if key else case
        name = which if isinstance(which, str) else which.__name__
        params += [pytest.param(*values, seed, id=f"{name}-{seed}",
                                marks=[] if which in fast and seed == 0 else [pytest.mark.slow]) for seed in SEEDS]
    return params


def failing(report):
    """The names of the checks that fail, in the report's order."""
    return [check.name for check in report.checks if not check.passed]


def assert_agrees_with_torch(kind, formulation, torch_layer, sizes, gradient_atol=1e-14):
    """``formulation``'s forward and every gradient against PyTorch's autograd of ``torch_layer(torch, *tensors)``
    at each of ``sizes`` (a value for every symbol of the kind's shapes), in float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    signature = generic.Signature.parse(kind.form.shapes)
    for values in sizes:
        inputs = {name: rng.standard_normal(signature.shape(name, values)) for name in kind.form.shapes}
        tensors = {name: torch.tensor(value, requires_grad=True) for name, value in inputs.items()}
        out = torch_layer(torch, *tensors.values())
        dout = rng.standard_normal(tuple(out.shape))
        out.backward(torch.tensor(dout))
        pair = as_pair(formulation, kind.form)
        ours, cache = pair.forward(*inputs.values())
        np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-12, atol=1e-14)
        gradients = pair.backward(dout, cache)
        assert len(gradients) == len(inputs)
        for name, gradient in zip(inputs, gradients):
            np.testing.assert_allclose(gradient, tensors[name].grad.numpy(), rtol=1e-12, atol=gradient_atol,
                                       err_msg=name)
