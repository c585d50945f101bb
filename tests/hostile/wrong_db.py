"""An honest mistake: db takes only the first output position of each map."""
from _layers import Convolution as _Correct


class Convolution(_Correct):
    def backward(self, dout):
        dx = super().backward(dout)
        self.db = dout[:, :, 0, 0].sum(axis=0)
        return dx
