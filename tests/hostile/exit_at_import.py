"""Calls sys.exit while it is imported."""
import sys

from _layers import Convolution  # noqa: F401

sys.exit("bye from exit_at_import")
