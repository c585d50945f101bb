"""Leaves with os._exit(0) while it is imported: no exception, status 0."""
import os

from _layers import Convolution  # noqa: F401

print("all checks PASSED", flush=True)
os._exit(0)
