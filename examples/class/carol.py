"""Carol: a while loop in backward that never advances when the stride is above 1."""
import numpy as np


class Conv2d:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        p, s, (kh, kw) = self.pad, self.stride, self.W.shape[2:]
        self.xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        oh, ow = (self.xp.shape[2] - kh) // s + 1, (self.xp.shape[3] - kw) // s + 1
        rows = np.arange(oh)[:, None] * s + np.arange(kh)[None, :]
        cols = np.arange(ow)[:, None] * s + np.arange(kw)[None, :]
        self.patches = self.xp[:, :, rows[:, None, :, None], cols[None, :, None, :]]  # n, c, oh, ow, kh, kw
        return np.einsum("ncijst,fcst->nfij", self.patches, self.W) + self.b[:, None, None]

    def backward(self, dout):
        self.dW = np.einsum("ncijst,nfij->fcst", self.patches, dout)
        self.db = dout.sum(axis=(0, 2, 3))
        dxp = np.zeros_like(self.xp)
        kh, kw = self.W.shape[2:]
        i = 0
        while i < dout.shape[2]:
            for j in range(dout.shape[3]):
                r, c = i * self.stride, j * self.stride
                dxp[:, :, r:r + kh, c:c + kw] += np.einsum("nf,fcst->ncst", dout[:, :, i, j], self.W)
            i += 1 if self.stride == 1 else 0  # the bug: i only advances with stride 1
        h, w = dxp.shape[2:]
        return dxp[:, :, self.pad:h - self.pad, self.pad:w - self.pad]
