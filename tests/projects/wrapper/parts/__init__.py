"""The convolution, split into a forward and a backward module."""
