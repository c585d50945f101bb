"""Dave: a loop per output position; his backward adds each window's gradient at (i, j), not (i*stride, j*stride)."""
import numpy as np


class Conv2d:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        p, s, (kh, kw) = self.pad, self.stride, self.W.shape[2:]
        self.xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        oh, ow = (self.xp.shape[2] - kh) // s + 1, (self.xp.shape[3] - kw) // s + 1
        out = np.empty((x.shape[0], self.W.shape[0], oh, ow))
        for i in range(oh):
            for j in range(ow):
                out[:, :, i, j] = np.einsum("nchw,fchw->nf", self.xp[:, :, i * s:i * s + kh, j * s:j * s + kw], self.W)
        return out + self.b[None, :, None, None]

    def backward(self, dout):
        s, (kh, kw) = self.stride, self.W.shape[2:]
        dxp = np.zeros_like(self.xp)
        self.dW = np.zeros_like(self.W)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                self.dW += np.einsum("nf,nchw->fchw", dout[:, :, i, j], self.xp[:, :, i * s:i * s + kh, j * s:j * s + kw])
                dxp[:, :, i:i + kh, j:j + kw] += np.einsum("nf,fchw->nchw", dout[:, :, i, j], self.W)  # the bug
        self.db = dout.sum(axis=(0, 2, 3))
        h, w = dxp.shape[2:]
        return dxp[:, :, self.pad:h - self.pad, self.pad:w - self.pad]
