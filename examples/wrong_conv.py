"""A deliberately wrong conv layer: the seed document's loop style, whose backward forgets the stride.

forward is right. backward walks the padded input with step `stride` and uses
the input row as the index into dA; that is only the same thing when stride is 1.
The loops run over output positions; each step handles every sample and filter
at once (np.tensordot), as the seed's vectorized style does.
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
        for row in range(self.OH):
            for col in range(self.OW):
                r, c = row * self.S, col * self.S
                window = self.X_pad[:, :, r:r + FH, c:c + FW]                    # (N, C, FH, FW)
                A[:, :, row, col] = np.tensordot(window, self.W, axes=([1, 2, 3], [1, 2, 3])) + self.b
        return A

    def backward(self, dA):
        F, C, FH, FW = self.W.shape
        N, _, H, W = self.X_pad.shape
        dZ = np.zeros(self.X_pad.shape)
        self.dW = np.zeros(self.W.shape)
        for row in range(0, H - FH + 1, self.S):      # steps through the input...
            for col in range(0, W - FW + 1, self.S):
                if row < self.OH and col < self.OW:  # ...but indexes dA with the input position
                    dZ[:, :, row:row + FH, col:col + FW] += np.tensordot(dA[:, :, row, col], self.W, axes=(1, 0))
        for row in range(self.OH):
            for col in range(self.OW):
                r, c = row * self.S, col * self.S
                self.dW += np.tensordot(dA[:, :, row, col], self.X_pad[:, :, r:r + FH, c:c + FW], axes=(0, 0))
        self.db = dA.sum(axis=(0, 2, 3))
        return dZ[:, :, self.P:H - self.P, self.P:W - self.P]
