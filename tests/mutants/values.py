"""Layers wrong only on one class of values (gradcheck.inputs.value_classes: every search uses each).

Random standard-normal data never shows them: a gradient clipped at a bound
ordinary data never reaches, an average over the nonzero elements only.
"""
import numpy as np

from . import Mutant
from .conv import _Im2colBase
from .pool import _LoopAvgPool


class ConvClipsDW(_Im2colBase):
    """dW clipped to [-1000, 1000] "to keep training stable": ordinary data never reaches the bound, inputs
    of magnitude 1000 do."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = np.clip(self.dW, -1000, 1000)  # BUG
        return dx


class AvgPoolOverNonzero(_LoopAvgPool):
    """Averages over the nonzero elements of each window ("zeros are padding"), in forward and backward alike:
    right on data without zeros and without padding, wrong after a ReLU."""

    def pool(self, window):
        return window.sum(axis=(2, 3)) / np.maximum(np.count_nonzero(window, axis=(2, 3)), 1)  # BUG

    def backward(self, dout):
        S = self.S
        dx = np.zeros(self.x_pad.shape)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = self.x_pad[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw]
                count = np.maximum(np.count_nonzero(window, axis=(2, 3)), 1)[:, :, None, None]
                dx[:, :, i * S:i * S + self.ph, j * S:j * S + self.pw] += dout[:, :, i:i + 1, j:j + 1] / count
        return self.crop(dx)


MUTANTS = [
    Mutant(ConvClipsDW, "conv", {"dW"}),
    # pad 0: padding is zeros too, which any padded configuration would show
    Mutant(AvgPoolOverNonzero, "avgpool", {"forward", "dX"}, pins={"pad": 0}),
]
