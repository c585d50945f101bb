"""Bob: a loop per output position; his bias gradient averages over the batch."""
import numpy as np


class Conv2d:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        p, s = self.pad, self.stride
        self.xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        kh, kw = self.W.shape[2:]
        oh, ow = (self.xp.shape[2] - kh) // s + 1, (self.xp.shape[3] - kw) // s + 1
        out = np.zeros((x.shape[0], self.W.shape[0], oh, ow))
        for i in range(oh):
            for j in range(ow):
                patch = self.xp[:, :, i * s:i * s + kh, j * s:j * s + kw]
                out[:, :, i, j] = np.tensordot(patch, self.W, axes=([1, 2, 3], [1, 2, 3])) + self.b
        return out

    def backward(self, dout):
        s, (kh, kw) = self.stride, self.W.shape[2:]
        dxp = np.zeros_like(self.xp)
        self.dW = np.zeros_like(self.W)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                rows, cols = slice(i * s, i * s + kh), slice(j * s, j * s + kw)
                self.dW += np.tensordot(dout[:, :, i, j], self.xp[:, :, rows, cols], axes=(0, 0))
                dxp[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], self.W, axes=(1, 0))
        self.db = dout.sum(axis=(2, 3)).mean(axis=0)  # the bug: mean over the batch
        h, w = dxp.shape[2:]
        return dxp[:, :, self.pad:h - self.pad, self.pad:w - self.pad]
