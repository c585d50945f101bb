"""What gradcheck must report for the channels-last layers of ``channels_last``: deeplearning.ai's function pairs
and classes taking x (N, H, W, C), right ones (no check fails, in the layout a probe found) and wrong ones."""
import numpy as np

from . import Mutant
from .channels_last import (ConvBias4D, ConvBias4DFloat, ConvBias4DMinusPad, ConvBias4DSquareKernel, ConvHWIO, ConvHWIOFiltersFirstDw, ConvHWIORowsIgnoreStride, ConvOHWI, MaxPoolNHWC,
                            MaxPoolNHWCAssign, conv_forward, conv_forward_minus_pad, conv_forward_stride_in_backward,
                            conv_forward_unpad_side, pool_forward, pool_forward_mask_ties, pool_forward_no_division)

RIGHT = [
    Mutant(conv_forward, "conv", set(), label="dlai conv_forward"),
    Mutant(pool_forward, "maxpool", set(), label="dlai pool_forward max"),
    Mutant(pool_forward, "avgpool", set(), label="dlai pool_forward average"),
    Mutant(ConvHWIO, "conv", set()),
    Mutant(ConvOHWI, "conv", set()),
    Mutant(MaxPoolNHWC, "maxpool", set()),
    Mutant(ConvBias4D, "conv", set()),
]


def float_of_an_array_raises():
    """Whether this NumPy refuses float() of a one-element array that is not 0-dimensional (NumPy 2 does)."""
    try:
        float(np.ones((1, 1, 1)))
    except TypeError:
        return True
    return False

MUTANTS = RIGHT + [
    Mutant(conv_forward_stride_in_backward, "conv", {"dX", "dW"}, trigger="fails only when stride > 1",
           hint="stepping through the input with the stride"),
    Mutant(conv_forward_minus_pad, "conv", {"dX"}, trigger="fails only when pad = 0",
           hint="dx_pad[:, pad:pad + H, pad:pad + W, :]"),
    Mutant(conv_forward_unpad_side, "conv", {"dX"}, trigger="fails only when pad > 0",
           hint="the padding is stripped from the wrong side"),
    Mutant(pool_forward_mask_ties, "maxpool", {"ties"}, hint="every tied maximum gets the whole gradient"),
    Mutant(pool_forward_no_division, "avgpool", {"dX"}, hint="the division by the pool area"),
    Mutant(ConvHWIORowsIgnoreStride, "conv", {"dX"}, trigger="fails only when stride > 1"),
    Mutant(ConvHWIOFiltersFirstDw, "conv", {"dW"}),
    Mutant(MaxPoolNHWCAssign, "maxpool", {"dX", "ties"}, trigger="windows overlap", hint="must add up (+=)"),
    Mutant(ConvBias4DMinusPad, "conv", {"dX"}, trigger="fails only when pad = 0",
           hint="dx_pad[:, pad:pad + H, pad:pad + W, :]"),
    Mutant(ConvBias4DSquareKernel, "conv", {"forward"}, trigger="fails only when the kernel is not square",
           hint="KW for both sides", absent=("pad:-pad",), sometimes={"dX", "dW"}),  # dX, dW: where OH is the same
] + ([Mutant(ConvBias4DFloat, "conv", {"forward"}, hint="take the number out with .item()")]
     if float_of_an_array_raises() else [Mutant(ConvBias4DFloat, "conv", set())])
