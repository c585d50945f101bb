"""Element-wise activations, each in two independent formulations.

    ReLU        out = max(x, 0)                   dx = dout * [x > 0]
    leaky ReLU  out = x if x > 0 else a x         dx = dout * (1 if x > 0 else a), a = 0.01
    sigmoid     out = 1 / (1 + exp(-x))           dx = dout * out * (1 - out)
    tanh        out = tanh(x)                     dx = dout * (1 - out^2)

At x = 0, where ReLU has no derivative, both formulations give 0 (the
checks draw no input there).  The second formulation of each takes
another road to the same numbers: a mask instead of a maximum, the
logistic function through tanh, tanh through exponentials.
"""
import numpy as np

LEAK = 0.01


class ReluMaximum:
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0.0)

    def backward(self, dout):
        return dout * (self.x > 0)


class ReluMask:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0.0
        return out

    def backward(self, dout):
        dx = dout.copy()
        dx[self.mask] = 0.0
        return dx


class LeakyReluWhere:
    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, LEAK * x)

    def backward(self, dout):
        return np.where(self.x > 0, dout, LEAK * dout)


class LeakyReluMaximum:
    """max(x, a x) is the leaky ReLU for 0 < a < 1; its slope is 1 where x wins."""

    def forward(self, x):
        self.x = x
        return np.maximum(x, LEAK * x)

    def backward(self, dout):
        slope = np.full(self.x.shape, LEAK)
        slope[self.x > LEAK * self.x] = 1.0
        return dout * slope


class SigmoidLogistic:
    def forward(self, x):
        self.out = 1.0 / (1.0 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1.0 - self.out)


class SigmoidTanh:
    """sigmoid(x) = (1 + tanh(x / 2)) / 2, so its derivative is (1 - tanh(x / 2)^2) / 4."""

    def forward(self, x):
        self.t = np.tanh(x / 2.0)
        return (1.0 + self.t) / 2.0

    def backward(self, dout):
        return dout * (1.0 - self.t ** 2) / 4.0


class TanhDirect:
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out ** 2)


class TanhExp:
    """tanh(x) = (1 - e^(-2|x|)) / (1 + e^(-2|x|)) times the sign of x (no overflow); tanh' = 4 / (e^x + e^-x)^2."""

    def forward(self, x):
        self.x = x
        e = np.exp(-2.0 * np.abs(x))
        return np.sign(x) * (1.0 - e) / (1.0 + e)

    def backward(self, dout):
        e = np.exp(-2.0 * np.abs(self.x))  # 4 / (e^x + e^-x)^2 = 4 e^(-2|x|) / (1 + e^(-2|x|))^2
        return dout * 4.0 * e / (1.0 + e) ** 2
