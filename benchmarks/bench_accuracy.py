"""How exact are gradcheck's float64 central differences?  The margin its tolerance relies on.

    python benchmarks/bench_accuracy.py [--configs N]

Draws N conv configurations (and arrays) with gradcheck's own strategies,
estimates dX, dW and dB by structured central differences of the reference
layer, and prints, per gradient, the largest |numeric - analytic| relative to
max |analytic| and relative to the FLOAT64 tolerance bound the engine applies.
Exits 1 if any error reaches the bound (a correct layer would be called wrong).
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from gradcheck import numeric, strategies  # noqa: E402
from gradcheck.adapters import reference_style  # noqa: E402
from gradcheck.checks import evaluator  # noqa: E402
from gradcheck.compare import FLOAT64  # noqa: E402
from gradcheck.inputs import make_inputs  # noqa: E402
from reference_layers import Conv2d  # noqa: E402

GRADIENTS = {"x": "dX", "W": "dW", "b": "dB"}


def measure(config, data_seed, worst):
    inputs = make_inputs(config, data_seed)
    layer = config.reference_layer({k: v.copy() for k, v in inputs.params.items()})
    layer.forward(inputs.x)
    analytic = {"x": layer.backward(inputs.dout), "W": layer.dW, "b": layer.db}
    subject = reference_style(Conv2d, "conv").make(config, {k: v.copy() for k, v in inputs.params.items()})
    for wrt, name in GRADIENTS.items():
        base = inputs.x if wrt == "x" else inputs.params[wrt]
        estimate = numeric.finite_differences(evaluator(subject, wrt, inputs), base, inputs.dout,
                                              numeric.structured(config, wrt), FLOAT64.step)
        error = np.abs(estimate.values - analytic[wrt])
        scale = np.abs(analytic[wrt]).max()
        if scale > 0:
            worst[name]["scale"] = max(worst[name]["scale"], error.max() / scale)
        worst[name]["bound"] = max(worst[name]["bound"], (error / FLOAT64.bound(analytic[wrt])).max())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=1000, help="conv configurations to draw (default 1000)")
    args = parser.parse_args(argv)
    if args.configs < 1:
        parser.error("--configs must be >= 1")
    worst = {name: {"scale": 0.0, "bound": 0.0} for name in GRADIENTS.values()}
    count = 0

    @seed(0)
    @settings(max_examples=args.configs, phases=[Phase.generate], database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategies.conv_configs(), strategies.seeds())
    def run(config, data_seed):
        nonlocal count
        count += 1
        with np.errstate(divide="ignore", invalid="ignore"):
            measure(config, data_seed, worst)

    run()
    print(f"float64 structured central differences, step {FLOAT64.step:g}, on {count} fuzzed conv configurations")
    print(f"{'gradient':<9} {'max |error| / max |gradient|':>30} {'max |error| / tolerance bound':>31}")
    for name, values in worst.items():
        print(f"{name:<9} {values['scale']:>30.2e} {values['bound']:>31.2e}")
    margin = 1 / max(values["bound"] for values in worst.values())
    print(f"margin: the tolerance is {margin:,.0f} times the largest error "
          f"({'PASS' if margin > 1 else 'FAIL'}: a correct layer is never called wrong)")
    return 0 if margin > 1 else 1


if __name__ == "__main__":
    sys.exit(main())
