"""The named checks, run on one configuration: what is right, what is wrong, and where.

``run_checks(config, inputs, implementation)`` returns one CheckResult per
check, in the order of ``CHECKS``:

forward        output shape and values against the reference layer
dX, dW, dB     backward(dout) against finite differences of the implementation's
               own forward and against the reference's analytic gradients
repeatable     a second backward with the same dout gives the same gradients
no-mutation    forward leaves x, W, b alone; backward leaves dout (and W, b) alone
weights-live   after an in-place update of W and b the next forward uses them
fresh-cache    forward on other data, then forward(x), backward(dout): same as fresh

Pools have no dW, dB or weights-live.  A check whose inputs an earlier
failure made meaningless is skipped with the reason; the comparisons that
stay meaningful still run (a layer whose forward is wrong still has its
backward compared with finite differences of that forward).
"""
import numpy as np

from . import diagnose, numeric
from .adapters import ImplementationError
from .compare import CheckResult, compare, tolerance_for

CHECKS = ("forward", "dX", "dW", "dB", "repeatable", "no-mutation", "weights-live", "fresh-cache")
POOL_CHECKS = ("forward", "dX", "repeatable", "no-mutation", "fresh-cache")
GRADIENTS = {"dX": "x", "dW": "W", "dB": "b"}  # check name -> what it differentiates
DENSE_LIMIT = 4096  # elements; above this a wrong forward is screened by projection instead
PROJECTIONS = 3  # random directions per screen in fast mode


def check_names(layer):
    return CHECKS if layer == "conv" else POOL_CHECKS


def run_checks(config, inputs, implementation, *, fast=False, subject_name=""):
    """Run every check of ``config.layer`` on ``implementation``; never raises for user errors."""
    results = _Run(config, inputs, implementation, fast).results()
    for result in results:
        result.subject = subject_name
    return results


class _Expected:
    """The reference layer's answers for one configuration."""

    def __init__(self, config, inputs):
        layer = config.reference_layer({k: v.copy() for k, v in inputs.params.items()})
        self.out = layer.forward(inputs.x)
        self.grads = {"dX": layer.backward(inputs.dout)}
        if config.is_conv:
            self.grads.update(dW=layer.dW, dB=layer.db)
        stepped = {k: v + inputs.param_steps[k] for k, v in inputs.params.items()}
        self.out_after_step = config.reference_layer(stepped).forward(inputs.x) if config.is_conv else None


class _Run:
    """One pass over the checks; the steps share the subject and what earlier steps saw."""

    def __init__(self, config, inputs, implementation, fast):
        self.config = config
        self.inputs = inputs
        self.implementation = implementation
        self.fast = fast
        self.expected = _Expected(config, inputs)
        self.names = check_names(config.layer)
        self.done = {}
        self.skipped = {}
        self.notes = []
        self.subject = None

    def results(self):
        self._run()
        subject_notes = getattr(self.subject, "notes", ())
        results = []
        for name in self.names:
            result = self.done.get(name) or CheckResult(name, "skip", self.skipped.get(name, "not reached"))
            result.notes = list(dict.fromkeys([*result.notes, *self.notes, *sorted(subject_notes)]))
            results.append(result)
        return results

    # -- the sequence ---------------------------------------------------------
    def _run(self):
        params = {k: v.copy() for k, v in self.inputs.params.items()}
        self.subject = self._attempt("forward", lambda: self.implementation.make(self.config, params))
        if self.subject is None:
            return self._skip(self.names, "the layer could not be built (see forward)")
        x_seen = self.inputs.x.copy()
        self.out = self._attempt("forward", lambda: self.subject.forward(x_seen))
        if self.out is None:
            return self._skip(self.names, "forward raised (see forward)")
        self.tolerance = tolerance_for(self.out.dtype)
        self._check_forward()
        mutations = self._attempt("no-mutation", lambda: self._mutations("forward", x=(x_seen, self.inputs.x)))

        self.analytic = self._attempt("dX", self._backward)
        if self.analytic is None:
            self._skip(("dW", "dB", "repeatable", "fresh-cache", "no-mutation"), "backward raised (see dX)")
        else:
            self.tolerance = max([self.tolerance] + [tolerance_for(g.dtype) for g in self.analytic.values()
                                                     if isinstance(g, np.ndarray)], key=lambda t: t.rtol)
            if mutations is not None:
                more = self._attempt("no-mutation", lambda: self._mutations(
                    "backward", dout=(self.dout_seen, self.inputs.dout)))
                if more is not None:
                    self.done["no-mutation"] = _mutation_result(mutations + more)
            self._attempt("repeatable", lambda: self._same_as_first("repeatable", self._backward()))
            self._attempt("fresh-cache", self._check_fresh_cache)
        if self.config.is_conv:
            self._attempt("weights-live", self._check_weights_live)
        if self.analytic is not None:
            for name in self.names:
                if name in GRADIENTS:
                    self._attempt(name, lambda: self._check_gradient(name))
        if self.tolerance.dtype != "float64":
            self.notes.append(f"checked at {self.tolerance.dtype} tolerances: the implementation computes "
                              f"in {self.tolerance.dtype}")

    def _attempt(self, name, step):
        """Run one step; a CheckResult it returns is recorded under ``name``, an exception fails ``name``."""
        try:
            value = step()
        except ImplementationError as error:
            self.done[name] = CheckResult(name, "fail", str(error), error=error.to_dict())
            return None
        if isinstance(value, CheckResult):
            self.done[name] = value
        return value

    def _skip(self, names, reason):
        for name in names:
            if name not in self.done:
                self.skipped.setdefault(name, reason)

    # -- steps ----------------------------------------------------------------
    def _mutations(self, stage, **pairs):
        """What ``stage`` changed among the given (seen, original) pairs and the layer's W and b."""
        pairs.update({name: (self.subject.read(name), value) for name, value in self.inputs.params.items()})
        return [f"{stage} changed {name}" for name, (seen, original) in pairs.items()
                if seen.shape != original.shape or not np.array_equal(seen, original)]

    def _backward(self, subject=None):
        """backward(dout) and the parameter gradients it left; a missing one is kept as its error."""
        subject = subject or self.subject
        self.dout_seen = self.inputs.dout.copy()
        grads = {"dX": subject.backward(self.dout_seen)}
        for check, attribute in (("dW", "dW"), ("dB", "db")):
            if check in self.names:
                try:
                    grads[check] = subject.read(attribute)
                except ImplementationError as error:
                    grads[check] = error
        return grads

    def _check_forward(self):
        want = self.expected.out
        if self.out.shape != want.shape:
            self.done["forward"] = CheckResult("forward", "fail", f"forward returned shape {self.out.shape}, "
                                                                  f"expected {want.shape}")
        else:
            self.done["forward"] = _finite_then(
                "forward", self.out, lambda: compare("forward", self.out, {"reference": want}, self.tolerance,
                                                      keep_positions=True))
            if self.done["forward"].status == "fail":
                self.done["forward"].hints = diagnose.forward_hints(self.out, want, self.config, self.inputs)
        self.forward_ok = self.done["forward"].status == "pass"

    def _same_as_first(self, name, grads, out=None):
        """Compare the gradients (and an output) of a later call with those of the first call."""
        pairs, first = dict(grads), dict(self.analytic)
        if out is not None:
            pairs["forward"], first["forward"] = out, self.out
        for what, value in pairs.items():
            if not isinstance(value, np.ndarray) or not isinstance(first[what], np.ndarray):
                continue  # a gradient the layer never provided is dW's or dB's failure, not this one's
            if value.shape != first[what].shape:
                return CheckResult(name, "fail", f"{what} changed shape from {first[what].shape} to {value.shape}")
            result = compare(name, value, {f"first {what}": first[what]}, self.tolerance)
            if result.status == "fail":
                result.message = f"{what} differs from the first call: {result.message}"
                if name == "repeatable":
                    result.hints = diagnose.repeat_hints(what, first[what], value)
                return result
        return CheckResult(name, "pass")

    def _check_fresh_cache(self):
        """A second layer sees other data first; its forward(x), backward(dout) must match the first's.

        A layer of its own, so that gradients accumulated over backward calls
        (repeatable's business) cannot show up here.
        """
        params = {k: v.copy() for k, v in self.inputs.params.items()}
        subject = self.implementation.make(self.config, params)
        subject.forward(self.inputs.x_other.copy())
        out = subject.forward(self.inputs.x.copy())
        return self._same_as_first("fresh-cache", self._backward(subject), out)

    def _check_weights_live(self):
        """After an optimizer-style in-place update of W and b, forward must give what a layer built
        with the updated weights gives: the reference's answer, or (when forward is wrong anyway) a
        fresh layer of the same implementation's."""
        stepped = {k: v + self.inputs.param_steps[k] for k, v in self.inputs.params.items()}
        for name, value in stepped.items():
            self.subject.write(name, value)
        out = self.subject.forward(self.inputs.x.copy())
        for name, value in self.inputs.params.items():
            self.subject.write(name, value)
        if self.forward_ok:
            want, source = self.expected.out_after_step, "reference built with the updated weights"
        else:
            fresh = self.implementation.make(self.config, {k: v.copy() for k, v in stepped.items()})
            want, source = fresh.forward(self.inputs.x.copy()), "same layer built with the updated weights"
        if out.shape != want.shape:
            return CheckResult("weights-live", "fail", f"forward returned shape {out.shape} after the update")
        result = compare("weights-live", out, {source: want}, self.tolerance)
        if result.status == "fail" and np.array_equal(out, self.out):
            result.message = "forward ignores an in-place update of W and b (were they copied at construction?)"
        return result

    def _check_gradient(self, name):
        actual = self.analytic[name]
        if isinstance(actual, ImplementationError):
            return CheckResult(name, "fail", f"no {name} after backward: {actual.detail}", error=actual.to_dict())
        wrt = GRADIENTS[name]
        base = self.inputs.x if wrt == "x" else self.inputs.params[wrt]
        if actual.shape != base.shape:
            return CheckResult(name, "fail", f"{name} has shape {actual.shape}, expected {base.shape} "
                                             f"(the shape of {wrt})", total=base.size,
                               hints=diagnose.shape_hints(name, actual.shape, self.config))
        return _finite_then(name, actual, lambda: self._compare_gradient(name, actual, wrt, base))

    def _compare_gradient(self, name, actual, wrt, base):
        notes = []
        expected = {"reference": self.expected.grads[name]} if self.forward_ok else {}
        estimate = self._numeric(wrt, base, actual, notes)
        exclude = None
        if isinstance(estimate, numeric.Projection) and not _screen_passed(estimate, self.tolerance):
            return CheckResult(name, "fail", "the projection screen failed: finite differences along random "
                               f"directions give {estimate.numeric} but {name} gives {estimate.analytic}",
                               notes=notes, method=estimate.method, evaluations=estimate.evaluations)
        if isinstance(estimate, numeric.NumericGradient):
            if self.config.layer == "maxpool":  # the only layer with kinks; conv and avg pool are linear
                exclude = _kinks(estimate, self.tolerance)
            expected["finite differences"] = estimate.values
        if not expected:
            if estimate is None:
                return CheckResult(name, "skip", "; ".join(notes), notes=notes)
            return CheckResult(name, "pass", "passed the projection screen", notes=notes,
                               method=estimate.method, evaluations=estimate.evaluations)
        result = compare(name, actual, expected, self.tolerance, exclude=exclude, keep_positions=name != "dB")
        if exclude is not None and exclude.any():
            notes.append(f"{int(exclude.sum())} non-differentiable points excluded")
        if result.status == "fail":
            want = expected.get("reference", expected.get("finite differences"))
            result.hints = diagnose.gradient_hints(name, actual, want, result, self.config, self.inputs)
        if estimate is not None:
            result.method, result.evaluations = estimate.method, estimate.evaluations
        result.notes = notes
        return result

    def _numeric(self, wrt, base, analytic, notes):
        """Finite differences of the subject's own forward, by the cheapest sound strategy.

        Structured when forward matched the reference (so its dependency pattern
        is the reference's); dense otherwise, or a projection screen when x is
        too large for dense.  In fast mode a projection screen comes first and
        localization only runs when it fails.  None when the layer's state makes
        finite differences meaningless.
        """
        if self.out.shape != self.expected.out.shape:
            notes.append("no finite differences: forward returns the wrong shape")
            return None
        if self.done.get("fresh-cache") is None or self.done["fresh-cache"].status != "pass":
            notes.append("no finite differences: forward depends on earlier calls (see fresh-cache)")
            return None
        if wrt != "x" and self.done["weights-live"].status != "pass":
            notes.append("no finite differences: in-place updates of W and b do not reach forward "
                         "(see weights-live)")
            return None
        evaluate = evaluator(self.subject, wrt, self.inputs)
        too_big = not self.forward_ok and base.size > DENSE_LIMIT
        if self.fast or too_big:
            screen = numeric.project(evaluate, base, self.inputs.dout, analytic, self.tolerance.step,
                                     PROJECTIONS, np.random.default_rng(0))
            if _screen_passed(screen, self.tolerance) or too_big:
                if too_big:
                    notes.append(f"{wrt} has {base.size} elements, too many to difference one by one: "
                                 "screened along random directions")
                return screen
            notes.append("the projection screen failed; localized element by element")
        if not self.forward_ok:
            notes.append("compared with finite differences only: forward differs from the reference")
            return numeric.finite_differences(evaluate, base, self.inputs.dout, numeric.dense(base.shape),
                                              self.tolerance.step)
        return numeric.finite_differences(evaluate, base, self.inputs.dout, numeric.structured(self.config, wrt),
                                          self.tolerance.step)


def evaluator(subject, wrt, inputs):
    """f(theta) for a list of thetas: theta is x, or W or b written into the layer in place (then restored)."""
    def evaluate(thetas):
        plans = [({}, t.copy()) if wrt == "x" else ({wrt: t}, inputs.x.copy()) for t in thetas]
        try:
            return [np.asarray(out, dtype=np.float64) for out in subject.evaluate(plans)]
        finally:
            if wrt != "x":
                subject.write(wrt, inputs.params[wrt])

    return evaluate


def _screen_passed(screen, tolerance):
    bound = tolerance.rtol * np.abs(screen.analytic) + tolerance.atol * screen.scale
    return bool(np.all(np.abs(screen.numeric - screen.analytic) <= bound))


def _kinks(estimate, tolerance):
    """Elements whose one-sided differences disagree: the forward is not differentiable there."""
    values = estimate.values
    return np.abs(estimate.forward_diff - estimate.backward_diff) > tolerance.bound(values)


def _finite_then(name, array, compare_values):
    bad = ~np.isfinite(array)
    if bad.any():
        return CheckResult(name, "fail", f"{name} has {int(bad.sum())} non-finite values (NaN or inf)",
                           mismatched=int(bad.sum()), total=array.size, mismatches=bad)
    return compare_values()


def _mutation_result(mutations):
    if mutations:
        return CheckResult("no-mutation", "fail", "; ".join(mutations))
    return CheckResult("no-mutation", "pass")
