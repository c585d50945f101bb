"""How exact are gradcheck's finite differences, at each precision?  The margins its tolerances rely on.

    python benchmarks/bench_accuracy.py [--configs N]

Draws N configurations of each layer (conv, max pool, average pool) with
gradcheck's own strategies and, for each precision (float64, float32),
builds the inputs in that precision and measures against the exact answer
(the reference layer run in float64 on those inputs):

* the output and analytic gradients of a right layer computing in the
  precision (the reference layer fed the precision's arrays);
* the structured central differences of that layer's forward, and the
  disagreement of its one-sided differences (what the kink test looks at).

It prints each error as a fraction of the tolerance bound the engine applies
(below 1 everywhere: a right layer passes), and in how many configurations a
5e-4 relative error in every element of a gradient is caught, per gradient
and by any gradient (a sum that cancels to almost nothing, such as dB of a
single filter, can be below float32's resolution; the other gradients are not).
Exits 1 if a right layer would be called wrong or the 5e-4 error would pass.
"""
import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from gradcheck import numeric, strategies  # noqa: E402
from gradcheck.adapters import reference_style  # noqa: E402
from gradcheck.checks import Expected  # noqa: E402
from gradcheck.compare import TOLERANCES  # noqa: E402
from gradcheck.evaluate import Evaluator  # noqa: E402
from gradcheck.inputs import make_inputs  # noqa: E402

GRADIENTS = {"dX": "x", "dW": "W", "dB": "b"}
LAYERS = ("conv", "maxpool", "avgpool")
DETECT = 5e-4  # the relative error in every element float32 checks must still catch


def measure(config, data_seed, precision, worst, detected):
    """Widen ``worst`` (what -> largest ratio) with one configuration's errors relative to the bounds, and
    count in ``detected`` the gradients that are not all zero and those in which a DETECT relative error in
    every element would be caught."""
    tolerance = TOLERANCES[precision]
    caught = {}
    inputs = make_inputs(config, data_seed, precision)
    expected = Expected(config, inputs)
    computed = _computed(config, inputs)
    implementation = reference_style(config.kind.formulations[0], config.layer)
    subject = implementation.make(config, {k: v.copy() for k, v in inputs.params.items()})
    out = np.asarray(subject.forward(inputs.x.copy()), dtype=np.float64)
    forward_bound = tolerance.bound(expected.out, tolerance.slack(expected.magnitudes["forward"]))
    _widen(worst, ("forward", f"{precision} layer's own output"), np.abs(out - expected.out) / forward_bound)
    for name, analytic in computed.items():
        if name == "forward":
            continue
        exact, magnitude = expected.grads[name]["reference"], expected.magnitudes[name]
        wrt = GRADIENTS[name]
        evaluate = Evaluator(implementation, subject, config, inputs, wrt, out, tolerance)
        estimate = numeric.finite_differences(evaluate, inputs.x if wrt == "x" else inputs.params[wrt],
                                              inputs.dout, numeric.structured(config, wrt), tolerance.step,
                                              max(1, (evaluate.capacity - 1) // 2), expected.magnitudes["forward"])
        bound = tolerance.bound(exact, tolerance.slack(magnitude))
        _widen(worst, (name, "finite differences"),
               np.abs(estimate.values - exact) / tolerance.bound(exact, tolerance.slack(magnitude, estimate.noise)))
        _widen(worst, (name, "one-sided disagreement"), np.abs(estimate.forward_diff - estimate.backward_diff)
               / tolerance.bound(estimate.values, tolerance.slack(magnitude, 4 * estimate.noise)))
        _widen(worst, (name, f"{precision} layer's own gradient"), np.abs(analytic - exact) / bound)
        if np.abs(exact).max(initial=0.0) > 0:  # an error relative to nothing but zeros is no error
            caught[name] = bool((DETECT * np.abs(exact) > bound).any())
            detected[name, "nonzero"] += 1
            detected[name, "caught"] += caught[name]
    if caught:
        detected["any gradient", "nonzero"] += 1
        detected["any gradient", "caught"] += any(caught.values())


def _computed(config, inputs):
    """The reference layer's output and gradients, computed in the inputs' precision, as float64."""
    layer = config.reference_layer({k: v.copy() for k, v in inputs.params.items()})
    answers = {"forward": layer.forward(inputs.x), "dX": layer.backward(inputs.dout)}
    if config.is_conv:
        answers.update(dW=layer.dW, dB=layer.db)
    return {name: np.asarray(value, dtype=np.float64) for name, value in answers.items()}


def _widen(worst, key, ratios):
    worst[key] = max(worst.get(key, 0.0), float(np.nan_to_num(ratios, nan=0.0).max(initial=0.0)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=300, help="configurations per layer (default 300)")
    args = parser.parse_args(argv)
    if args.configs < 1:
        parser.error("--configs must be >= 1")
    failures = []
    for precision, tolerance in TOLERANCES.items():
        worst, detected = {}, Counter()  # (array, "nonzero" | "caught") -> configurations
        for layer in LAYERS:
            @seed(0)
            @settings(max_examples=args.configs, phases=[Phase.generate], database=None, deadline=None,
                      suppress_health_check=list(HealthCheck))
            @given(strategies.configs(layer), strategies.seeds())
            def run(config, data_seed):
                with np.errstate(divide="ignore", invalid="ignore"):
                    measure(config, data_seed, precision, worst, detected)

            run()
        failures += _print(precision, tolerance, worst, detected)
    print("; ".join(failures) if failures else "PASS: right layers stay below the bounds, and a "
                                               f"{DETECT:g} relative error in every element is caught everywhere")
    return 1 if failures else 0


def _print(precision, tolerance, worst, detected):
    """Print one precision's table; return what failed."""
    print(f"{precision}: step {tolerance.step:g}, rtol {tolerance.rtol:g}, atol {tolerance.atol:g} (times the "
          f"largest |value|), ctol {tolerance.ctol:.3g}, ftol {tolerance.ftol:.3g}; "
          f"configurations of {', '.join(LAYERS)}")
    print(f"  {'array':<8} {'what':<32} {'largest error / tolerance bound':>32}")
    failures = []
    for (name, what), ratio in sorted(worst.items()):
        print(f"  {name:<8} {what:<32} {ratio:>32.3g}")
        if not ratio < 1:
            failures.append(f"{precision} {name}: {what} reaches the bound")
    names = sorted({name for name, _ in detected})
    print(f"  a {DETECT:g} relative error in every element is caught, of the configurations where it is not all "
          "zero, in: " + ", ".join(f"{name} {detected[name, 'caught']} of {detected[name, 'nonzero']}"
                                   for name in names))
    missed = detected["any gradient", "nonzero"] - detected["any gradient", "caught"]
    if missed:
        failures.append(f"{precision}: a {DETECT:g} relative error passes in {missed} configurations")
    return failures


if __name__ == "__main__":
    sys.exit(main())
