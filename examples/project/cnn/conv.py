"""A convolution that makes its own weights from the input's shape, as from-scratch CNN libraries do."""
import numpy as np

from .im2col import col2im, im2col


class Conv:
    def __init__(self, input_shape, num_filters, kernel_size, stride=1, pad=0, initializer="he"):
        channels = input_shape[0]
        kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        scale = np.sqrt(2.0 / (channels * kh * kw)) if initializer == "he" else 0.01
        self.weights = np.random.randn(num_filters, channels, kh, kw) * scale
        self.bias = np.zeros((num_filters, 1))
        self.stride, self.pad = stride, pad

    def forward(self, x):
        F, C, kh, kw = self.weights.shape
        N, _, H, W = x.shape
        out_h = (H + 2 * self.pad - kh) // self.stride + 1
        out_w = (W + 2 * self.pad - kw) // self.stride + 1
        self.x_shape, self.col = x.shape, im2col(x, kh, kw, self.stride, self.pad)
        out = self.col @ self.weights.reshape(F, -1).T + self.bias.T
        return out.reshape(N, out_h, out_w, F).transpose(0, 3, 1, 2)

    def backward(self, grad):
        F, C, kh, kw = self.weights.shape
        grad = grad.transpose(0, 2, 3, 1).reshape(-1, F)
        self.gradient_weights = (grad.T @ self.col).reshape(self.weights.shape)
        self.gradient_bias = grad.sum(axis=0).reshape(F, 1)
        return col2im(grad @ self.weights.reshape(F, -1), self.x_shape, kh, kw, self.stride, self.pad)
