"""A deliberately wrong conv layer: the seed document's loop style, whose backward forgets the stride.

forward is right. backward walks the padded input with step `stride` and uses
the input row as the index into dA; that is only the same thing when stride is 1.
"""
import numpy as np


class Conv2d:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.S, self.P = W, b, stride, pad

    def forward(self, X):
        F, C, FH, FW = self.W.shape
        self.X_pad = np.pad(X, ((0, 0), (0, 0), (self.P, self.P), (self.P, self.P)))
        N, _, H, W = self.X_pad.shape
        self.OH, self.OW = (H - FH) // self.S + 1, (W - FW) // self.S + 1
        A = np.zeros((N, F, self.OH, self.OW))
        for n in range(N):
            for ch in range(F):
                for row in range(self.OH):
                    for col in range(self.OW):
                        r, c = row * self.S, col * self.S
                        A[n, ch, row, col] = np.sum(self.X_pad[n, :, r:r + FH, c:c + FW] * self.W[ch]) + self.b[ch]
        return A

    def backward(self, dA):
        F, C, FH, FW = self.W.shape
        N, _, H, W = self.X_pad.shape
        dZ = np.zeros(self.X_pad.shape)
        self.dW = np.zeros(self.W.shape)
        for n in range(N):
            for ch in range(F):
                for row in range(0, H - FH + 1, self.S):      # steps through the input...
                    for col in range(0, W - FW + 1, self.S):
                        if row < self.OH and col < self.OW:  # ...but indexes dA with the input position
                            dZ[n, :, row:row + FH, col:col + FW] += dA[n, ch, row, col] * self.W[ch]
                for row in range(self.OH):
                    for col in range(self.OW):
                        r, c = row * self.S, col * self.S
                        self.dW[ch] += dA[n, ch, row, col] * self.X_pad[n, :, r:r + FH, c:c + FW]
        self.db = dA.sum(axis=(0, 2, 3))
        return dZ[:, :, self.P:H - self.P, self.P:W - self.P]
