"""Classification losses, each in two independent formulations: a vectorized one and one that loops.

x is (N, C): a row of class scores per sample; y is (N,): each sample's
label, an integer in 0..C-1.  Each loss is a mean over the batch, and
its backward returns dL/dx (dout is 1: a loss ends the network).

Softmax (cross-entropy) loss, with p = softmax(x) row by row:

    L  = -1/N sum_n log p[n, y_n]        dx = (p - onehot(y)) / N

computed through log p = x - logsumexp(x), where logsumexp(x) = m +
log(sum(exp(x - m))) with m the row's maximum: exp() never overflows,
and log p never meets log(0).  "Deep Learning from Scratch" writes
log(p + 1e-7) against log(0); ``guard`` adds that (only to the loss: the
book's dx is the gradient without it, and so is this one's).

Multiclass SVM (hinge) loss, with margins m[n, j] = max(0, x[n, j] -
x[n, y_n] + 1) for every j != y_n:

    L  = 1/N sum_{n, j != y_n} m[n, j]
    dx[n, j] = [m[n, j] > 0] / N   (j != y_n)      dx[n, y_n] = -(number of j with m[n, j] > 0) / N

Temporal softmax loss (cs231n's captioning loss): x is (N, T, V), a row
of scores over the vocabulary for every time step, y is (N, T) and
mask (N, T) says which steps count.  Summed over the time steps and
averaged over the batch:

    L  = -1/N sum_{n, t} mask[n, t] log p[n, t, y_nt]        dx = mask (p - onehot(y)) / N
"""
import numpy as np


def _log_plus(log_p, guard):
    """log(p + guard) from log p, without forming p (which underflows to 0 for very unlikely labels)."""
    return log_p if guard == 0 else np.logaddexp(log_p, np.log(guard))


class SoftmaxLossVectorized:
    def __init__(self, guard=0.0):
        self.guard = guard

    def forward(self, x, y):
        shifted = x - x.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.p, self.y = np.exp(log_p), y
        return -_log_plus(log_p[np.arange(len(x)), y], self.guard).mean()

    def backward(self, dout=1.0):
        dx = self.p.copy()
        dx[np.arange(len(dx)), self.y] -= 1
        return dout * dx / len(dx)


class SoftmaxLossLoops:
    def __init__(self, guard=0.0):
        self.guard = guard

    def forward(self, x, y):
        N, C = x.shape
        self.dx = np.zeros((N, C))
        loss = 0.0
        for n in range(N):
            top = max(x[n])
            logsumexp = top + np.log(sum(np.exp(x[n, c] - top) for c in range(C)))
            loss -= _log_plus(x[n, y[n]] - logsumexp, self.guard)
            for c in range(C):
                self.dx[n, c] = (np.exp(x[n, c] - logsumexp) - (c == y[n])) / N
        return loss / N

    def backward(self, dout=1.0):
        return dout * self.dx


class SvmLossVectorized:
    def forward(self, x, y):
        rows = np.arange(len(x))
        margins = np.maximum(0.0, x - x[rows, y][:, None] + 1.0)
        margins[rows, y] = 0.0
        self.positive, self.y = margins > 0, y
        return margins.sum() / len(x)

    def backward(self, dout=1.0):
        dx = self.positive.astype(float)
        dx[np.arange(len(dx)), self.y] = -self.positive.sum(axis=1)
        return dout * dx / len(dx)


class SvmLossLoops:
    def forward(self, x, y):
        N, C = x.shape
        self.dx = np.zeros((N, C))
        loss = 0.0
        for n in range(N):
            for c in range(C):
                margin = x[n, c] - x[n, y[n]] + 1.0
                if c != y[n] and margin > 0:
                    loss += margin
                    self.dx[n, c] += 1 / N
                    self.dx[n, y[n]] -= 1 / N
        return loss / N

    def backward(self, dout=1.0):
        return dout * self.dx


class TemporalSoftmaxLossVectorized:
    def forward(self, x, y, mask):
        N, T, V = x.shape
        scores, labels, counted = x.reshape(N * T, V), y.reshape(N * T), mask.reshape(N * T)
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        rows = np.arange(N * T)
        dx = np.exp(log_p)
        dx[rows, labels] -= 1
        self.dx = (dx * counted[:, None] / N).reshape(N, T, V)
        return -(log_p[rows, labels] * counted).sum() / N

    def backward(self, dout=1.0):
        return dout * self.dx


class TemporalSoftmaxLossLoops:
    def forward(self, x, y, mask):
        N, T, V = x.shape
        self.dx = np.zeros((N, T, V))
        loss = 0.0
        for n in range(N):
            for t in range(T):
                if not mask[n, t]:
                    continue
                top = max(x[n, t])
                logsumexp = top + np.log(sum(np.exp(x[n, t, v] - top) for v in range(V)))
                loss += logsumexp - x[n, t, y[n, t]]
                for v in range(V):
                    self.dx[n, t, v] = (np.exp(x[n, t, v] - logsumexp) - (v == y[n, t])) / N
        return loss / N

    def backward(self, dout=1.0):
        return dout * self.dx
