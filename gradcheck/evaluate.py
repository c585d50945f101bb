"""f(theta) for many thetas at once: finite differences in as few calls of the layer as possible.

Perturbed copies of x stack along the batch axis, perturbed copies of W or b
along the filter axis, so that one forward call of a layer built for the
stacked shape evaluates many of them.  That is valid when the layer treats
samples (filters) independently, as a right layer does.  So every stacked
call starts and ends with an unperturbed block, and when either differs from
the plain forward's output the evaluator falls back, for good, to one call
per theta on the layer itself (W and b written into it in place, then put
back).  Stacking pays where calls are many and small (a layer looping over
output positions in Python costs the same per call whatever the batch); a
block of more than BLOCK_BYTES is evaluated one call each, which costs no
more arithmetic and keeps the layer's own buffers (an im2col matrix is
KH * KW times the input) the size of a plain call.
"""
import numpy as np

from .adapters import ImplementationError

STACK_BYTES = 8 << 20  # input and output bytes of one stacked call (the layer may build KH * KW times more)
BLOCK_BYTES = 1 << 20  # input and output bytes of one block, above which calls are not stacked


class Evaluator:
    """``evaluator(thetas) -> [f(theta) as float64, ...]`` for theta = x, W or b of one check.

    ``plain`` is the subject's forward output at the unperturbed inputs;
    ``capacity`` the number of thetas worth passing per call.
    """

    def __init__(self, implementation, subject, config, inputs, wrt, plain, tolerance):
        self.implementation = implementation
        self.subject = subject
        self.config = config
        self.inputs = inputs
        self.wrt = wrt
        self.plain = plain
        self.tolerance = tolerance
        self.calls = 0
        self.notes = []
        base = inputs.x if wrt == "x" else inputs.params[wrt]
        block = 8 * (base.size + plain.size)
        self.stacking = block <= BLOCK_BYTES
        # Stacked, a call holds every block; one by one, only the outputs are kept until the caller is done.
        self.capacity = max(3, STACK_BYTES // (block if self.stacking else 8 * plain.size))

    def __call__(self, thetas):
        if self.stacking:
            outputs = self._stacked(thetas)
            if outputs is not None:
                return outputs
        return self._one_by_one(thetas)

    def _stacked(self, thetas):
        """One call on [theta, *thetas, theta]; None (and stacking off) if either unperturbed block disagrees
        with the plain forward."""
        base = self.inputs.x if self.wrt == "x" else self.inputs.params[self.wrt]
        blocks = [base, *thetas, base]
        config, params, x = self._stack(blocks)
        self.calls += 1
        try:
            out = np.asarray(self.implementation.make(config, params).forward(x), dtype=np.float64)
        except ImplementationError as error:
            return self._stop_stacking(f"a stacked call raised {error.kind}")
        if out.shape != config.out_shape:
            return self._stop_stacking(f"a stacked call returned shape {out.shape}, not {config.out_shape}")
        parts = np.split(out, len(blocks), axis=0 if self.wrt == "x" else 1)
        if not (self._same(parts[0]) and self._same(parts[-1])):
            return self._stop_stacking("stacking changed the unperturbed output (does the layer mix "
                                       f"{'samples' if self.wrt == 'x' else 'filters'}?)")
        return parts[1:-1]

    def _stack(self, blocks):
        """The configuration, parameters and input of one call evaluating every block."""
        params = {name: value.copy() for name, value in self.inputs.params.items()}
        count = len(blocks)
        if self.wrt == "x":
            return self.config.replace(batch=self.config.batch * count), params, np.concatenate(blocks)
        params = {name: np.concatenate(blocks) if name == self.wrt else np.concatenate([value] * count)
                  for name, value in params.items()}
        return self.config.replace(filters=self.config.filters * count), params, self.inputs.x.copy()

    def _same(self, block):
        return block.shape == self.plain.shape and bool(np.all(np.abs(block - self.plain)
                                                               <= self.tolerance.bound(self.plain)))

    def _stop_stacking(self, why):
        self.stacking = False
        self.notes.append(f"finite differences of {self.wrt} ran one forward call per perturbation: {why}")
        return None

    def _one_by_one(self, thetas):
        """Each theta through the subject itself: x passed, or W / b written in place and put back after."""
        plans = [({}, t.copy()) if self.wrt == "x" else ({self.wrt: t}, self.inputs.x.copy()) for t in thetas]
        self.calls += len(plans)
        try:
            return [np.asarray(out, dtype=np.float64) for out in self.subject.evaluate(plans)]
        finally:
            if self.wrt != "x":
                self.subject.write(self.wrt, self.inputs.params[self.wrt])


class JointEvaluator:
    """f at thetas that are x, W and b (those in ``wrts``) flattened and concatenated, in that order:
    x passed, W and b written into the subject in place and put back after."""

    def __init__(self, subject, inputs, wrts):
        self.subject = subject
        self.inputs = inputs
        self.shapes = [(wrt, self._base(wrt).shape) for wrt in wrts]

    def _base(self, wrt):
        return self.inputs.x if wrt == "x" else self.inputs.params[wrt]

    def __call__(self, thetas):
        plans = [self._plan(theta) for theta in thetas]
        try:
            return [np.asarray(out, dtype=np.float64) for out in self.subject.evaluate(plans)]
        finally:
            for wrt, _ in self.shapes:
                if wrt != "x":
                    self.subject.write(wrt, self.inputs.params[wrt])

    def _plan(self, theta):
        """(writes, x) for one concatenated theta."""
        pieces, start = {}, 0
        for wrt, shape in self.shapes:
            size = int(np.prod(shape))
            pieces[wrt] = theta[start:start + size].reshape(shape)
            start += size
        x = pieces.pop("x", self.inputs.x)
        return pieces, x.copy()
