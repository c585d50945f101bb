"""The named checks, run on one configuration: what is right, what is wrong, and where.

``run_checks(config, inputs, implementation)`` returns one CheckResult per
check, in the order of ``check_names(config.layer)``:

forward        output shape and values against the reference layer
dX, dW, dB     backward(dout) against the reference's analytic gradients and, where
               forward is right, finite differences of the implementation's forward
repeatable     a second backward with the same dout gives the same gradients
no-mutation    forward leaves x, W, b alone; backward leaves dout (and W, b) alone
weights-live   after an optimizer's update of W and b the next forward uses them
fresh-cache    forward on other shapes (taller and wider, one more sample, smaller)
               and on other data, then forward(x), backward(dout): same as fresh
ties           (max pooling) on inputs with exact ties, forward is the max and each
               window's gradient goes to its tied maxima only, summing to dout

Pools have no dW, dB or weights-live.  A check whose inputs an earlier
failure made meaningless is skipped with the reason; the comparisons that
stay meaningful still run.  Where forward is wrong a gradient passes only if
it is the reference's; one that is the right gradient of the wrong forward
fails with a hint that forward's mistake is the cause.

Precision is the checker's: the inputs are built in ``inputs.precision`` and
the tolerances come from it alone.  A layer that returns a narrower dtype
fails the check of that array, whatever its values.
"""
import functools
import math
from dataclasses import dataclass

import numpy as np

from . import diagnose, numeric
from .adapters import ImplementationError, is_refusal
from .compare import TOLERANCES, CheckResult, compare
from .evaluate import Evaluator, JointEvaluator

GRADIENTS = {"dX": "x", "dW": "W", "dB": "b"}  # check name -> what it differentiates
GRADIENT_NAMES = {wrt: name for name, wrt in GRADIENTS.items()}
METHODS = ("auto", "structured", "projection", "dense")
# auto: finite differences element by element while they cost at most this many output elements computed
# (evaluations times the output's size: about 0.3 s for a layer looping over outputs in Python, 0.02 s for a
# vectorized one), a projection screen above.
DIFFERENCES_BUDGET = 15_000
PROJECTIONS = 3  # random directions per screen


def check_names(layer):
    """The checks of the kind ``layer``, in order; of several kinds graded together ("affine,relu":
    ``grading.layers``), each kind's named "kind.check"."""
    if "," in layer:
        return tuple(kind_check(kind, name) for kind in layer.split(",") for name in check_names(kind))
    from .kinds import catalogue  # the kinds' modules import the engine, which imports this one

    return tuple(catalogue()[layer].checks)


def kind_check(kind, name):
    """The name of check ``name`` of ``kind`` among several kinds' checks: "affine.dx"."""
    return f"{kind}.{name}"


def run_checks(config, inputs, implementation, *, method="auto", subject_name="", stop_on=(), only=None):
    """Run every check of ``config.layer`` on ``implementation``; never raises for user errors.

    The expected answers come from ``implementation.references`` (reference
    layer classes; by default the fastest formulation), each a source of its own.
    ``method`` chooses the finite differences (see ``_Run.method_for``).
    An exception of a type in ``stop_on`` (the layer can no longer run: the
    sandbox's SandboxDied) ends the run as ``Stopped``, with the results so far.

    ``only`` (names of checks) asks for the verdicts of those checks alone,
    as a search for a counterexample needs them: the others are skipped,
    gradients are compared with the reference's alone (the verdict of a
    gradient never rests on finite differences, see
    ``_Run._failure_of_gradient_or_forward``) and no hint is measured.
    Forward runs in any case, judged by its values alone: the finite
    differences that can fail it too where its values are right are not taken.
    """
    return _Run(config, inputs, implementation, method, stop_on, subject_name, only).results()


class Stopped(BaseException):
    """A run of the checks ended by ``cause``, an exception of ``stop_on``, while ``check`` was running.

    ``results`` holds one CheckResult per check as far as the run got: those
    completed before, the running one failed with the cause's message, the
    rest skipped as not reached.  A BaseException, like SandboxDied, so that
    Hypothesis and the engine let it through.
    """

    def __init__(self, cause, check, results):
        super().__init__(str(cause))
        self.cause, self.check, self.results = cause, check, results


class Expected:
    """What the reference layers answer for one configuration, by source name, and how large the terms are.

    ``references`` are reference classes (None: the fastest formulation); with
    one, its source is "reference", with several each is named by its class.
    ``magnitudes`` holds, for the output ("forward") and each gradient, the
    sum of the absolute values of the terms of every element: the reference
    run on |x|, |W|, |b| and |dout| (max pooling keeps x, which picks the maxima).
    """

    def __init__(self, config, inputs, references=(None,)):
        self.sources = {}
        self.grads = {}
        for cls in references:
            source = "reference" if len(references) == 1 else cls.__name__
            answers = _answers(config, _float64(inputs.params), inputs.x.astype(np.float64),
                               inputs.dout.astype(np.float64), cls)
            self.sources[source] = answers.pop("forward")
            for name, grad in answers.items():
                self.grads.setdefault(name, {})[source] = grad
        self.config, self.inputs, self.first = config, inputs, references[0]
        self.out = next(iter(self.sources.values()))

    @functools.cached_property
    def out_after_step(self):
        """The reference's output after the weights-live check's update of W and b (conv only)."""
        stepped = {k: v + self.inputs.param_steps[k] for k, v in _float64(self.inputs.params).items()}
        return self.config.reference_layer(stepped, self.first).forward(self.inputs.x.astype(np.float64))

    @functools.cached_property
    def magnitudes(self):
        """Computed when first asked for: a comparison that passes without them needs none.

        Each element's magnitude is at least the largest of its array: a right layer that mixes every element
        into every other (FFT, Winograd) rounds each by about eps times the array's largest sum of terms, also
        where its own terms are all exactly zero (an input row no window reaches).  An array whose terms are all
        zero (no window reaches any real input) takes the largest magnitude of the layer's other arrays.
        """
        x = self.inputs.x.astype(np.float64)
        absolute = {k: np.abs(v) for k, v in _float64(self.inputs.params).items()}
        magnitudes = _answers(self.config, absolute, x if self.config.layer == "maxpool" else np.abs(x),
                              np.abs(self.inputs.dout.astype(np.float64)), self.first)
        magnitudes["forward"] = np.abs(magnitudes["forward"])
        largest = {name: float(array.max(initial=0.0)) for name, array in magnitudes.items()}
        return {name: np.maximum(array, largest[name] or max(largest.values())) for name, array in magnitudes.items()}

    def reference_layer(self):
        return self.config.reference_layer({}, self.first)


def _answers(config, params, x, dout, cls):
    """The reference layer's forward and gradients: {"forward", "dX"[, "dW", "dB"]}."""
    layer = config.reference_layer(params, cls)
    answers = {"forward": layer.forward(x), "dX": layer.backward(dout)}
    if config.is_conv:
        answers.update(dW=layer.dW, dB=layer.db)
    return answers


class _Run:
    """One pass over the checks; the steps share the subject and what earlier steps saw."""

    def __init__(self, config, inputs, implementation, method, stop_on=(), subject_name="", only=None):
        self.config = config
        self.only = None if only is None else set(only) | ({"dX"} if "ties" in only else set())  # ties needs dX
        self.subject_name = subject_name
        self.inputs = inputs
        self.implementation = implementation
        self.method = method
        self.stop_on = tuple(stop_on)
        self.running = None  # the check whose step is running
        self.tolerance = TOLERANCES[inputs.precision]
        self.expected = Expected(config, inputs, getattr(implementation, "references", None) or (None,))
        self.names = check_names(config.layer)
        self.asked = self.names if only is None else [name for name in self.names if name in self.only]
        self.done = {}
        self.skipped = {}
        self.notes = []
        self.subject = None
        self.joint = None
        self.probe = None

    def results(self):
        try:
            self._run()
        except self.stop_on as cause:
            self.done[self.running] = CheckResult(self.running, "fail", f"stopped: {cause}")
            self._skip(self.names, f"not reached: the run stopped during {self.running}")
            raise Stopped(cause, self.running, self._collect()) from cause
        return self._collect()

    def _collect(self):
        subject_notes = getattr(self.subject, "notes", ())
        results = []
        for name in self.names:
            result = self.done.get(name) or CheckResult(name, "skip", self.skipped.get(name, "not reached"))
            result.notes = list(dict.fromkeys([*result.notes, *self.notes, *sorted(subject_notes)]))
            result.subject = self.subject_name
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
        self._check_forward()
        self._skip(set(self.names) - set(self.asked), "not asked for")
        mutations = self._attempt("no-mutation", lambda: self._mutations("forward", x=(x_seen, self.inputs.x))) \
            if "no-mutation" in self.asked else None

        self.analytic = self._attempt("dX", self._backward)
        if self.analytic is None:
            self._skip(("dW", "dB", "repeatable", "fresh-cache", "no-mutation", "ties"), "backward raised (see dX)")
        else:
            if mutations is not None:
                more = self._attempt("no-mutation", lambda: self._mutations(
                    "backward", dout=(self.dout_seen, self.inputs.dout)))
                if more is not None:
                    self.done["no-mutation"] = _mutation_result(mutations + more)
            if "repeatable" in self.asked:
                self._attempt("repeatable", lambda: self._same_as_first("repeatable", self._backward()))
        if not np.isfinite(self.out).all():  # forward's own outputs cannot be compared, nor differenced
            self._skip(("fresh-cache", "weights-live"), "forward returns NaN or inf (see forward)")
        elif self.analytic is not None and "fresh-cache" in self.asked:
            self._attempt("fresh-cache", self._check_fresh_cache)
        if self.config.is_conv and "weights-live" in self.asked and "weights-live" not in self.skipped:
            self._attempt("weights-live", self._check_weights_live)
        if self.analytic is not None:
            for name in self.asked:
                if name in GRADIENTS:
                    self._attempt(name, lambda: self._check_gradient(name))
            if "ties" in self.asked:
                self._check_ties_when_meaningful()

    def _attempt(self, name, step):
        """Run one step; a CheckResult it returns is recorded under ``name``, an exception fails ``name``."""
        self.running = name
        try:
            value = step()
        except ImplementationError as error:
            text = f"the layer refused this configuration: {error}" if is_refusal(error.to_dict()) else str(error)
            self.done[name] = CheckResult(name, "fail", text, error=error.to_dict())
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
            result = CheckResult("forward", "fail", f"forward returned shape {self.out.shape}, expected {want.shape}",
                                 shapes=(self.out.shape, want.shape))
        else:
            result = _finite_then("forward", self.out, lambda: self._compare(
                "forward", self.out, self.expected.sources, lambda: dict.fromkeys(
                    self.expected.sources, self.tolerance.slack(self.expected.magnitudes["forward"])),
                keep_positions=True))
            if result.status == "fail":
                result.hints = diagnose.forward_hints(self.out, want, self.config, self.inputs, self._probe())
        self.forward_values_ok = result.status == "pass"
        self.done["forward"] = _precision_verdict(result, self.out, self.inputs.precision)

    def _probe(self):
        """The layer run once more, for a hint that needs it (``diagnose.Probe``); one per run of the checks."""
        if self.probe is None:
            self.probe = diagnose.Probe(self.implementation, self.config, self.inputs)
        return self.probe

    def _compare(self, name, actual, expected, slack, keep_positions=False):
        """compare without the slack rounding may need, and again with ``slack()`` only if that fails: a
        strict pass is a pass, and the magnitudes behind the slack cost a reference pass of their own."""
        result = compare(name, actual, expected, self.tolerance, keep_positions=keep_positions)
        if result.status == "fail":
            result = compare(name, actual, expected, self.tolerance, slack=slack(), keep_positions=keep_positions)
        return result

    def _same_as_first(self, name, grads, out=None):
        """Compare the gradients (and an output) of a later call with those of the first call."""
        pairs, first = dict(grads), dict(self.analytic)
        if out is not None:
            pairs["forward"], first["forward"] = out, self.out
        for what, value in pairs.items():
            if not isinstance(value, np.ndarray) or not isinstance(first[what], np.ndarray):
                continue  # a gradient the layer never provided is dW's or dB's failure, not this one's
            if value.shape != first[what].shape:
                return CheckResult(name, "fail", f"{what} changed shape from {first[what].shape} to {value.shape}",
                                   shapes=(value.shape, first[what].shape))
            result = compare(name, value, {f"first {what}": first[what]}, self.tolerance)
            if result.status == "fail":
                result.message = f"{what} differs from the first call: {result.message}"
                if name == "repeatable":
                    result.hints = diagnose.repeat_hints(what, first[what], value)
                return result
        return CheckResult(name, "pass")

    def _check_fresh_cache(self):
        """A second layer sees other shapes and other data first; its forward(x), backward(dout) must match the
        first's.

        A layer of its own, so that gradients accumulated over backward calls
        (repeatable's business) cannot show up here; for the same reason it
        sees the other shapes (``other_shapes``) by forward only, then other
        data of the configuration's shape: state kept from an earlier forward,
        keyed on what does not change with the shape (an output size cached per
        batch size), shows when the shape comes back.  A shape the layer
        refuses (one built for its input's shape) is passed over.
        """
        subject = self.implementation.make(self.config, {k: v.copy() for k, v in self.inputs.params.items()})
        for config in other_shapes(self.config):
            try:
                subject.forward(np.resize(self.inputs.x_other, config.x_shape))
            except ImplementationError:
                continue
        subject.forward(self.inputs.x_other.copy())
        out = subject.forward(self.inputs.x.copy())
        return self._same_as_first("fresh-cache", self._backward(subject), out)

    def _check_weights_live(self):
        """After each of the convention's optimizer updates (in place, or by rebinding) of W and b, forward
        must give what a layer built with the updated weights gives: the reference's answer, or (when
        forward is wrong anyway) a fresh layer of the same implementation's."""
        for how in self.subject.updates:
            result = self._weights_live(how == "rebinding")
            if result.status == "fail":
                result.message = f"after an update {how}: {result.message}"
                return result
        return result

    def _weights_live(self, rebind):
        stepped = {k: v + self.inputs.param_steps[k] for k, v in self.inputs.params.items()}
        for name, value in stepped.items():
            self.subject.write(name, value, rebind=rebind)
        out = self.subject.forward(self.inputs.x.copy())
        for name, value in self.inputs.params.items():
            self.subject.write(name, value, rebind=rebind)
        if self.forward_values_ok:
            want, source = self.expected.out_after_step, "reference built with the updated weights"
        else:
            fresh = self.implementation.make(self.config, {k: v.copy() for k, v in stepped.items()})
            want, source = fresh.forward(self.inputs.x.copy()), "same layer built with the updated weights"
        if out.shape != want.shape:
            return CheckResult("weights-live", "fail", f"forward returned shape {out.shape} after the update",
                               shapes=(out.shape, want.shape))
        result = compare("weights-live", out, {source: want}, self.tolerance)
        if result.status == "fail" and np.array_equal(out, self.out):
            result.message = "forward ignores the update of W and b (were they copied at construction?)"
        return result

    def _check_gradient(self, name):
        actual = self.analytic[name]
        if isinstance(actual, ImplementationError):
            return CheckResult(name, "fail", f"no {name} after backward: {actual.detail}", error=actual.to_dict())
        wrt = GRADIENTS[name]
        base = self.inputs.x if wrt == "x" else self.inputs.params[wrt]
        if actual.shape != base.shape:
            return CheckResult(name, "fail", f"{name} has shape {actual.shape}, expected {base.shape} "
                                             f"(the shape of {wrt})", shapes=(actual.shape, base.shape),
                               hints=diagnose.shape_hints(name, actual.shape, self.config))
        result = _finite_then(name, actual, lambda: self._compare_gradient(name, actual, wrt, base))
        return _precision_verdict(result, actual, self.inputs.precision)

    def _compare_gradient(self, name, actual, wrt, base):
        if self.only is not None:  # the verdict alone, which is the reference's (see run_checks)
            return self._against_reference(name, actual)
        if not self.forward_values_ok:
            return self._judge_by_reference(name, actual, wrt, base)
        notes = []
        expected = dict(self.expected.grads[name])
        estimate = self._numeric(wrt, base, actual, notes)
        kinks = None
        if isinstance(estimate, numeric.NumericGradient):
            expected["finite differences"] = estimate.values
            kinks = _kinks(estimate, self.tolerance, self.expected.magnitudes[name])
        elif isinstance(estimate, numeric.Projection):
            notes.append(f"finite differences along {len(estimate.numeric)} random directions agree with {name}")

        def slack():
            magnitude = self.expected.magnitudes[name]
            noise = {"finite differences": estimate.noise} if "finite differences" in expected else {}
            return {source: self.tolerance.slack(magnitude, noise.get(source, 0.0)) for source in expected}

        result = self._compare(name, actual, expected, slack, keep_positions=name != "dB")
        if kinks is not None and kinks.any():
            _fail_at_kinks(result, kinks, name != "dB")
        if isinstance(estimate, numeric.Located):
            _fail_where_located(result, estimate, actual, name != "dB")
        if result.status == "fail":
            result = self._failure_of_gradient_or_forward(name, actual, result, estimate, kinks)
        if estimate is not None:
            result.method, result.evaluations = estimate.method, estimate.evaluations
        result.notes = notes + result.notes
        return result

    def _against_reference(self, name, actual):
        """``actual`` compared with the reference's gradient alone."""
        expected = self.expected.grads[name]
        magnitude = self.expected.magnitudes[name]
        return self._compare(name, actual, expected,
                             lambda: {source: self.tolerance.slack(magnitude) for source in expected},
                             keep_positions=name != "dB")

    def _failure_of_gradient_or_forward(self, name, actual, failure, estimate, kinks):
        """A failed comparison of a gradient whose forward matched the reference's values.

        The gradient fails only if it differs from the reference's; where it is the reference's, only the
        finite differences of forward disagreed with it.  Either way, finite differences of forward that
        disagree with the reference's gradient show that forward matches the reference on these inputs but
        not near them (a zero x hides a flipped kernel): then forward fails too, with what they showed.
        """
        agreed = self._against_reference(name, actual)
        if agreed.status == "pass":
            self._fail_forward_by_slope(name, failure.message)
            agreed.notes = [f"{name} is the reference's; the finite differences that disagree with it are "
                            "forward's failure (see forward)"]
            return agreed
        if failure.against != "one-sided differences":
            failure.hints = self._gradient_hints(name, actual, failure)
        slope = self._slope_against_reference(name, estimate, kinks)
        if slope:
            self._fail_forward_by_slope(name, slope)
        return failure

    def _slope_against_reference(self, name, estimate, kinks):
        """How finite differences of forward disagree with the reference's gradient, or '' where they agree or
        were not taken element by element."""
        if not isinstance(estimate, numeric.NumericGradient):
            return ""
        expected = self.expected.grads[name]
        slack = {source: self.tolerance.slack(self.expected.magnitudes[name], estimate.noise) for source in expected}
        result = compare(name, estimate.values, expected, self.tolerance, slack=slack)
        if kinks is not None and kinks.any():
            _fail_at_kinks(result, kinks, keep_positions=False)
        return result.message if result.status == "fail" else ""

    def _fail_forward_by_slope(self, name, shown):
        wrt = GRADIENTS[name]
        text = (f"forward matches the reference on these inputs but not near them: its finite differences with "
                f"respect to {wrt} disagree with the reference's {name} ({shown})")
        hint = (f"forward's values are right here only by chance: its derivative with respect to {wrt} is not the "
                f"reference's, so forward is wrong as a function of {wrt}")
        forward = self.done["forward"]
        if forward.status == "pass":  # its error columns measured values that agree: nothing to show of them
            hidden = diagnose.hidden_forward_hints(self.config, self.inputs, self._probe())  # once a run
            self.done["forward"] = CheckResult("forward", "fail", text, hints=[hint, *hidden])
        else:
            forward.message = f"{forward.message}; {text}"
            forward.hints = list(dict.fromkeys([*forward.hints, hint]))

    def _judge_by_reference(self, name, actual, wrt, base):
        """Where forward is wrong, a gradient passes only if it is the reference's: finite differences of that
        forward cannot judge it (a right backward would fail, and one consistent with the mistake would pass).
        For a gradient that fails they still say whether forward's mistake is the cause."""
        result = self._against_reference(name, actual)
        notes = ["forward differs from the reference: judged by the reference's gradient alone"]
        if result.status == "fail":
            estimate = self._numeric(wrt, base, actual, notes)
            if self._follows_own_forward(name, actual, estimate):
                result.hints = [f"{name} is the gradient of this layer's forward (its finite differences agree), "
                                "and that forward is wrong: fix forward first"]
            else:
                result.hints = self._gradient_hints(name, actual, result)
            if estimate is not None:
                result.method, result.evaluations = estimate.method, estimate.evaluations
        result.notes = notes
        return result

    def _follows_own_forward(self, name, actual, estimate):
        """Whether a gradient agrees with the finite differences ``estimate`` of the layer's own forward."""
        if isinstance(estimate, numeric.Projection):
            return True  # its screen agreed (one that disagrees comes back Located)
        if not isinstance(estimate, numeric.NumericGradient):
            return False
        slack = {"finite differences": self.tolerance.slack(self.expected.magnitudes[name], estimate.noise)}
        return compare(name, actual, {"finite differences": estimate.values}, self.tolerance,
                       slack=slack).status == "pass"

    def _gradient_hints(self, name, actual, result):
        return diagnose.gradient_hints(name, actual, next(iter(self.expected.grads[name].values())), result,
                                       self.config, self.inputs, self._probe())

    def _numeric(self, wrt, base, analytic, notes):
        """Finite differences of the subject's own forward by ``method_for``, or None (with a note) when the
        layer's state makes them meaningless."""
        blocked = self._differences_blocked(wrt)
        if blocked:
            notes.append(f"no finite differences: {blocked}")
            return None
        evaluate = Evaluator(self.implementation, self.subject, self.config, self.inputs, wrt,
                             np.asarray(self.out, dtype=np.float64), self.tolerance)
        try:
            return self._estimate(evaluate, wrt, base, analytic, notes)
        finally:
            notes.extend(evaluate.notes)

    def _differences_blocked(self, wrt):
        """Why finite differences of forward with respect to ``wrt`` would mean nothing, or ''."""
        if self.out.shape != self.expected.out.shape:
            return "forward returns the wrong shape"
        if not np.isfinite(self.out).all():
            return "forward returns NaN or inf"
        if self.done.get("fresh-cache") is None or self.done["fresh-cache"].status != "pass":
            return "forward depends on earlier calls (see fresh-cache)"
        if wrt != "x" and self.done["weights-live"].status != "pass":
            return "in-place updates of W and b do not reach forward (see weights-live)"
        return ""

    def method_for(self, wrt, base):
        """The finite differences to run: the requested method, or for "auto" the cheapest sound one.

        Structured differences need forward's dependency pattern to be the
        reference's, so they run only when forward matched it (dense otherwise);
        auto takes them (or dense ones) while they fit DIFFERENCES_BUDGET and
        screens along random directions above it, then localizes a failed
        screen by group testing.
        """
        if self.method in ("dense", "projection"):
            return self.method
        pattern_known = self.forward_values_ok
        groups = numeric.group_count(self.config, wrt) if pattern_known else base.size
        fits = (1 + 2 * groups) * self.expected.out.size <= DIFFERENCES_BUDGET
        if self.method == "auto" and not fits:
            return "projection"
        return "structured" if pattern_known else "dense"

    def _estimate(self, evaluate, wrt, base, analytic, notes):
        method = self.method_for(wrt, base)
        if self.method == "structured" and method == "dense":
            notes.append("dense differences instead of structured: forward differs from the reference")
        chunk = max(1, (evaluate.capacity - 1) // 2)
        if method == "projection":
            joint = self._joint_screen()
            if wrt in joint.wrts and joint.agrees:
                notes.append(joint.note)
                return joint.screen
            rng = np.random.default_rng(0)
            agrees = self._judge(lambda: self.expected.magnitudes[GRADIENT_NAMES[wrt]])
            screen = numeric.project(evaluate, base, self.inputs.dout, analytic, self.tolerance.step,
                                     numeric.random_directions(rng, base.shape, PROJECTIONS), chunk)
            if agrees(screen).all():
                return screen
            notes.append("the projection screen failed; the elements that disagree were found by group testing")
            return numeric.localize(evaluate, base, self.inputs.dout, analytic, self.tolerance.step, agrees, rng,
                                    chunk)
        structure = numeric.dense(base.shape) if method == "dense" else numeric.structured(self.config, wrt)
        return numeric.finite_differences(evaluate, base, self.inputs.dout, structure, self.tolerance.step, chunk,
                                          self.expected.magnitudes["forward"])

    def _judge(self, grad_magnitude):
        """agrees(projection) -> per direction: strictly, or else with the slack of the magnitudes (the
        output's, and ``grad_magnitude()``), computed only then."""
        def agrees(projection):
            strict = projection.agrees(self.tolerance)
            if strict.all():
                return strict
            return projection.agrees(self.tolerance, self.inputs.dout, self.expected.magnitudes["forward"],
                                     grad_magnitude())
        return agrees

    def _joint_screen(self):
        """One projection screen of every array whose gradient is screened, moved together: PROJECTIONS
        random directions of (x, W, b) cost 2 * PROJECTIONS forward evaluations for all of them.  When it
        agrees, each of those gradients agrees with finite differences along it; when not, each is
        screened (and localized) on its own."""
        if self.joint is None:
            wrts = [wrt for name, wrt in GRADIENTS.items() if name in self.names and isinstance(
                self.analytic.get(name), np.ndarray) and self.analytic[name].shape == self._base(wrt).shape
                and not self._differences_blocked(wrt) and self.method_for(wrt, self._base(wrt)) == "projection"]
            def flat(array):
                return np.concatenate([array(wrt).ravel() for wrt in wrts])

            base = flat(self._base)
            evaluate = JointEvaluator(self.subject, self.inputs, wrts)
            screen = numeric.project(evaluate, base, self.inputs.dout, flat(
                lambda wrt: self.analytic[GRADIENT_NAMES[wrt]]), self.tolerance.step, numeric.random_directions(
                    np.random.default_rng(0), base.shape, PROJECTIONS), PROJECTIONS)
            agrees = self._judge(lambda: flat(lambda wrt: self.expected.magnitudes[GRADIENT_NAMES[wrt]]))
            arrays = " and ".join(", ".join(wrts).rsplit(", ", 1))
            self.joint = _Joint(wrts, bool(agrees(screen).all()), screen,
                                f"finite differences along {PROJECTIONS} random directions of {arrays} moved "
                                f"together agree with the gradients ({screen.evaluations} forward evaluations "
                                "shared by them)")
        return self.joint

    def _base(self, wrt):
        return self.inputs.x if wrt == "x" else self.inputs.params[wrt]

    # -- ties (max pooling) ---------------------------------------------------
    def _check_ties_when_meaningful(self):
        for earlier in ("forward", "dX"):
            if self.done.get(earlier) is not None and self.done[earlier].status == "fail":
                return self._skip(("ties",), f"{earlier} is wrong without ties (see {earlier})")
        self._attempt("ties", self._check_ties)

    def _check_ties(self):
        """On inputs with exact ties: forward is the max, and each window's gradient lands only on its
        tied maxima, is non-negative and sums to dout (first, last or split routing all pass).

        Windows overlap, so backward is called once per class of outputs whose
        windows are disjoint, with dout zero elsewhere: then the gradient in each
        window is that window's alone.
        """
        x, dout = self.inputs.x_ties, self.inputs.dout_ties
        subject = self.implementation.make(self.config, {})
        out = subject.forward(x.copy())
        maximum = self.expected.reference_layer().forward(x.astype(np.float64))
        if out.shape != maximum.shape:
            return CheckResult("ties", "fail", f"on tied inputs forward returned shape {out.shape}, "
                                               f"expected {maximum.shape}", shapes=(out.shape, maximum.shape))
        result = compare("ties", out, {"max of each window": maximum}, self.tolerance)
        if result.status == "fail":
            result.message = f"on tied inputs forward differs from the max: {result.message}"
            return result
        window = self.config.window
        tied = window.gather(window.pad_input(x.astype(np.float64), -np.inf), maximum.shape[2:]) == maximum
        routed = np.zeros(tied.shape)
        for rows, cols in _disjoint_output_classes(self.config):
            part = np.zeros(dout.shape, dout.dtype)
            part[..., rows, cols] = dout[..., rows, cols]
            subject.forward(x.copy())
            dx = np.asarray(subject.backward(part), dtype=np.float64)
            if dx.shape != x.shape:
                return CheckResult("ties", "fail", f"on tied inputs backward returned shape {dx.shape}, "
                                                   f"expected {x.shape}", shapes=(dx.shape, x.shape))
            gathered = window.gather(window.pad_input(dx), maximum.shape[2:])
            routed[..., rows, cols] = gathered[..., rows, cols]
        return _ties_verdict(routed, tied, dout.astype(np.float64), self.tolerance)


@dataclass(frozen=True)
class _Joint:
    """The joint projection screen: which arrays it moved, whether it agreed, and what to note."""

    wrts: list
    agrees: bool
    screen: numeric.Projection
    note: str


def _disjoint_output_classes(config):
    """Slices (rows, cols) of the output grid whose windows never overlap: outputs ceil(extent / stride)
    apart along each axis."""
    steps = [math.ceil(e / s) for e, s in zip(config.window.extent, config.stride)]
    return [(slice(i, None, steps[0]), slice(j, None, steps[1])) for i in range(steps[0]) for j in range(steps[1])]


def _ties_verdict(routed, tied, dout, tolerance):
    """Per window (routed, tied: (KH, KW, N, C, OH, OW)): gradient only on tied maxima, non-negative, summing
    to dout."""
    slack = tolerance.bound(dout)
    off_maximum = np.abs(np.where(tied, 0.0, routed)).max(axis=(0, 1)) > slack
    negative = np.where(tied, routed, 0.0).min(axis=(0, 1)) < -slack
    total = routed.sum(axis=(0, 1))
    wrong_sum = np.abs(total - dout) > slack
    bad = off_maximum | negative | wrong_sum
    windows = bad.size
    if not bad.any():
        return CheckResult("ties", "pass", total=windows)
    position = tuple(int(i) for i in np.unravel_index(np.argmax(bad), bad.shape))
    counts = tied.sum(axis=(0, 1))
    result = CheckResult("ties", "fail", mismatched=int(bad.sum()), total=windows, worst_index=position,
                         expected=float(dout[position]), actual=float(total[position]),
                         against="upstream gradient of the window")
    what = []
    if off_maximum.any():
        what.append(f"{int(off_maximum.sum())} send gradient to elements that are not the maximum")
    if negative.any():
        what.append(f"{int(negative.sum())} send a negative share to a tied maximum")
    if wrong_sum.any():
        what.append(f"{int(wrong_sum.sum())} route a total other than their dout")
    result.message = (f"on tied inputs {int(bad.sum())} of {windows} windows are routed wrong: "
                      + "; ".join(what))
    result.hints = diagnose.ties_hints(total, dout, counts, bad)
    return result


def _kinks(estimate, tolerance, magnitude):
    """Elements whose one-sided differences disagree: the forward is not differentiable there.

    Each one-sided difference also carries the rounding of f(theta), so their
    disagreement may reach twice the noise of the central difference on each side.
    """
    bound = tolerance.bound(estimate.values, tolerance.slack(magnitude, 4 * estimate.noise))
    return ~(np.abs(estimate.forward_diff - estimate.backward_diff) <= bound)


def _fail_at_kinks(result, kinks, keep_positions):
    """Inputs are tie-free, so a right layer is differentiable everywhere: a kink is a failure, located."""
    count = int(kinks.sum())
    text = (f"forward is not differentiable at {count} of {kinks.size} elements: its one-sided differences "
            "disagree on tie-free input")
    if result.status == "pass":
        position = np.unravel_index(int(np.argmax(kinks)), kinks.shape)
        result.worst_index = tuple(int(i) for i in position)
        result.against = "one-sided differences"
        result.message = text
    else:
        result.message += f"; {text}"
    result.status = "fail"
    if keep_positions:
        result.mismatches = kinks if result.mismatches is None else result.mismatches | kinks
        result.mismatched = int(result.mismatches.sum())


def _fail_where_located(result, located, actual, keep_positions):
    """A failed screen, localized by group testing: the elements found disagree with finite differences."""
    flat = actual.ravel()
    errors = np.abs(flat[located.positions] - located.numeric)
    count = f"{len(located.positions)}{'' if located.complete else ' or more'}"
    text = (f"{count} of {actual.size} elements differ from finite differences along their own axis "
            "(found by group testing after a failed projection screen)")
    if result.status == "pass" and len(located.positions):
        worst = int(np.argmax(errors))
        position = np.unravel_index(int(located.positions[worst]), actual.shape)
        result.worst_index = tuple(int(i) for i in position)
        result.expected, result.actual = float(located.numeric[worst]), float(flat[located.positions[worst]])
        result.against = "finite differences"
        result.max_abs_error = float(errors[worst])
        result.message = text
        result.mismatched = len(located.positions)
    elif result.status == "fail":
        result.message += f"; {text}"
    else:
        result.message = "the projection screen failed, but no single element could be pinned down"
    result.status = "fail"
    if keep_positions and len(located.positions):
        mask = np.zeros(actual.size, bool)
        mask[located.positions] = True
        mask = mask.reshape(actual.shape)
        result.mismatches = mask if result.mismatches is None else result.mismatches | mask


def _precision_verdict(result, array, precision):
    """A layer returning a narrower dtype than the precision fails, whatever its values."""
    if np.dtype(array.dtype).itemsize >= np.dtype(precision).itemsize:
        return result
    text = (f"{result.name} returned {array.dtype} under {precision} precision: gradcheck builds the inputs in "
            f"{precision} and judges at {precision} tolerances")
    result.message = text if result.status == "pass" else f"{text}; {result.message}"
    result.status = "fail"
    result.hints = [f"keep {result.name} in {precision} (look for float32 arrays or dtypes); if the layer is meant "
                    f"to compute in {array.dtype}, check it with --precision {array.dtype}"] + result.hints
    return result


def _finite_then(name, array, compare_values):
    """A NaN or inf in what the layer returned for finite inputs fails the check, located; else compare."""
    bad = ~np.isfinite(array)
    if bad.any():
        first = [int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape)]
        return CheckResult(name, "fail", f"{name} has {int(bad.sum())} non-finite values (NaN or inf) for finite "
                                         f"inputs, the first at {first}",
                           mismatched=int(bad.sum()), total=array.size, mismatches=bad)
    return compare_values()


def other_shapes(config):
    """The input shapes the fresh-cache check shows a layer before ``config``'s: one more output row and
    column with the same batch, one more sample, and one output row and column fewer where the window still
    fits."""
    taller = tuple(n + s for n, s in zip(config.size, config.stride))
    smaller = tuple(n - s for n, s in zip(config.size, config.stride))
    shapes = [config.replace(size=taller), config.replace(batch=config.batch + 1)]
    if all(n + 2 * p >= e for n, p, e in zip(smaller, config.pad, config.window.extent)) and min(smaller) >= 1:
        shapes.append(config.replace(size=smaller))
    return shapes


def _mutation_result(mutations):
    if mutations:
        return CheckResult("no-mutation", "fail", "; ".join(mutations))
    return CheckResult("no-mutation", "pass")


def _float64(params):
    return {name: value.astype(np.float64) for name, value in params.items()}
