"""Alice: every window at once with as_strided, then einsum."""
import numpy as np
from numpy.lib.stride_tricks import as_strided


class Conv2d:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def windows(self, xp, kh, kw):
        n, c, h, w = xp.shape
        oh, ow = (h - kh) // self.stride + 1, (w - kw) // self.stride + 1
        sn, sc, sh, sw = xp.strides
        return as_strided(xp, (n, c, oh, ow, kh, kw), (sn, sc, sh * self.stride, sw * self.stride, sh, sw))

    def forward(self, x):
        p = self.pad
        self.xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        self.win = self.windows(self.xp, *self.W.shape[2:])
        return np.einsum("ncijst,fcst->nfij", self.win, self.W) + self.b[None, :, None, None]

    def backward(self, dout):
        self.dW = np.einsum("ncijst,nfij->fcst", self.win, dout)
        self.db = dout.sum(axis=(0, 2, 3))
        dxp = np.zeros_like(self.xp)
        kh, kw = self.W.shape[2:]
        per_window = np.einsum("nfij,fcst->ncijst", dout, self.W)
        for s in range(kh):
            for t in range(kw):
                dxp[:, :, s:s + self.stride * dout.shape[2]:self.stride,
                    t:t + self.stride * dout.shape[3]:self.stride] += per_window[..., s, t]
        h, w = dxp.shape[2:]
        return dxp[:, :, self.pad:h - self.pad, self.pad:w - self.pad]
